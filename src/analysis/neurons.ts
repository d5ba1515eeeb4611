/**
 * Paper C's neuron criticality (SPEC §3.3).
 *
 * A neuron is one element (channel, row, col) of a conv layer's output map, or one unit of a dense
 * layer's output, taken before batch norm and activation (the Conv/Gemm/MatMul node's own output).
 *
 * Class-oriented score: for class c, the mean over the reference images of class c (correctly
 * classified training images balanced by class, sample.ts; default 1000) of a score function f:
 * - 'activation' (default): |a|;
 * - 'gradient': |a · ∂y_c/∂a|, y_c the logit of the image's class (= its prediction);
 * - 'lrp': |R(a)|, the LRP relevance of the neuron (lrp.ts relevanceGraph; after batch-norm folding the
 *   neuron is the folded conv's output, i.e. its batch norm's output).
 * The per-image values never reach JavaScript: each graph multiplies them by a one-hot class matrix
 * in-graph (targetᵀ·f, [K × neurons]) and only these per-class sums are returned.
 *
 * Network-oriented merge (our choice, SPEC §3.3): within each layer and class, the class score is
 * rank-normalised (average rank of ties, 0 = lowest … n − 1 = highest, divided by n − 1); then
 * - 'max' (default): the maximum over classes;
 * - 'mean': the mean over classes;
 * - 'topq': the number of classes for which the neuron is among the top ⌈q·n⌉ of the layer
 *   (ties to the lower index), q default 0.1.
 * Classes without reference images are left out. Unit 'neuron'; scores per element in
 * (channel, row, col) row-major order (dense: per unit).
 */
import { floatTensor, runBatched, type ImageBatch } from '../runtime/batched.js';
import { FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { GraphBuilder, producers } from '../graph/builder.js';
import { analyzeShapes } from '../graph/shapes.js';
import { DataType, defaultOpset, type Dim, type Model } from '../graph/types.js';
import { Emitter, gradientGraph, prune } from '../autodiff/index.js';
import { createSession, type RuntimeOptions } from '../runtime/session.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { lrpComposite, relevanceGraph } from './lrp.js';
import type { CompositeName, Composite, RuleName, RuleSettings } from './lrp-rules.js';
import { referenceSet } from './sample.js';
import { computeLayers, findLayers, topK, type ComputeLayer, type Scores } from './scores.js';

export type NeuronScoreFunction = 'activation' | 'gradient' | 'lrp';
export const NEURON_SCORE_FUNCTIONS: readonly NeuronScoreFunction[] = ['activation', 'gradient', 'lrp'];
export type NeuronMerge = 'max' | 'mean' | 'topq';
export const NEURON_MERGES: readonly NeuronMerge[] = ['max', 'mean', 'topq'];

export interface NeuronOptions extends RuleSettings {
  /** Training images the reference set is drawn from. */
  data: Dataset;
  /** Reference images (default 1000, balanced by class, correctly classified). */
  images?: number;
  seed?: number;
  /** Score function f (default 'activation'). */
  score?: NeuronScoreFunction;
  /** Network-oriented merge (default 'max'). */
  merge?: NeuronMerge;
  /** Top share for merge 'topq' (default 0.1). */
  q?: number;
  /** LRP composite for score 'lrp' (default 'default'). */
  composite?: CompositeName | Composite;
  first?: RuleName;
  /** Node names of the layers (default every conv and dense layer). */
  layers?: string[];
  /** Images per run (default 100). */
  batch?: number;
  runtime?: RuntimeOptions;
}

export interface ClassNeuronScores {
  classes: number;
  /** Reference images per class. */
  perClass: number[];
  layers: {
    name: string;
    op: string;
    /** Neurons of the layer (elements of its output per image). */
    units: number;
    /** Mean f over each class's images, row-major [classes × units] (0 for a class without images). */
    classScores: Float64Array;
  }[];
}

/** A graph with input `input`, a [batch, K] class-indicator input, and one [K, units] output per layer. */
interface ClassSumGraph {
  model: Model;
  input: string;
  classInput: string;
  outputs: { layer: ComputeLayer; name: string; units: number }[];
}

/** The logits value: the first output, looking through a final Softmax/LogSoftmax. */
function logitsValue(model: Model): string {
  const out = model.graph.outputs[0]?.name;
  if (!out) throw new FlipguardError('The model has no outputs to read logits from; check the model file.');
  const p = producers(model.graph).get(out);
  return p && (p.opType === 'Softmax' || p.opType === 'LogSoftmax') ? p.inputs[0] : out;
}

function batchDimOf(model: Model): Dim {
  const d = model.graph.inputs[0]?.shape?.[0];
  return typeof d === 'number' || typeof d === 'string' ? d : 'batch';
}

/** targetᵀ · reshape(v, [batch, −1]) → [K, units]. */
function classSum(e: Emitter, v: string, classInput: string): string {
  return e.op('MatMul', [e.transpose(classInput, [1, 0]), e.reshape(v, [0, -1])]);
}

function activationGraph(model: Model, layers: ComputeLayer[], classes: number): ClassSumGraph {
  const g = model.graph;
  const b = new GraphBuilder(g.name, g);
  const e = new Emitter(b, defaultOpset(model));
  e.prefix = 'neurons/';
  const classInput = b.fresh('neuron_class');
  b.input(classInput, [batchDimOf(model), classes]);
  const outputs = layers.map((l) => ({ layer: l, name: classSum(e, e.op('Abs', [l.node.outputs[0]]), classInput), units: 0 }));
  return { model: { ...model, graph: prune({ ...b.build(), outputs: outputs.map((o) => ({ name: o.name, elemType: DataType.FLOAT })), valueInfo: [] }) }, input: g.inputs[0].name, classInput, outputs };
}

function gradientScoreGraph(model: Model, layers: ComputeLayer[]): ClassSumGraph {
  const wrt = layers.map((l) => l.node.outputs[0]);
  const gg = gradientGraph(model, { seed: { output: logitsValue(model), gradInput: 'neuron_class' }, wrt, keepOutputs: true, batchNorm: 'inference' });
  const b = new GraphBuilder(gg.model.graph.name, gg.model.graph);
  const e = new Emitter(b, defaultOpset(gg.model));
  e.prefix = 'neurons/';
  const outputs = layers.map((l) => ({ layer: l, name: classSum(e, e.op('Abs', [e.mul(l.node.outputs[0], gg.gradOutputs.get(l.node.outputs[0])!)]), gg.seedInput!), units: 0 }));
  return { model: { ...gg.model, graph: prune({ ...b.build(), outputs: outputs.map((o) => ({ name: o.name, elemType: DataType.FLOAT })), valueInfo: [] }) }, input: model.graph.inputs[0].name, classInput: gg.seedInput!, outputs };
}

/** Class-oriented neuron scores (see the module comment). */
export async function classNeuronScores(model: Model, opts: NeuronOptions): Promise<ClassNeuronScores> {
  const score = opts.score ?? 'activation';
  if (!NEURON_SCORE_FUNCTIONS.includes(score)) throw new FlipguardError(`Unknown neuron score function "${String(score)}"; use ${NEURON_SCORE_FUNCTIONS.join(', ')}.`);
  const all = computeLayers(model);
  const layers = opts.layers
    ? findLayers(model, opts.layers)
    : all;
  if (!layers.length) throw new FlipguardError('The model has no conv or dense layer with stored weights, so it has no neurons to score.');
  const K = opts.data.classes;
  let csg: ClassSumGraph;
  if (score === 'lrp') {
    const rg = relevanceGraph(model, { composite: lrpComposite(opts), epsilon: opts.epsilon, layers: layers.map((l) => l.label), outputs: { weights: false, neurons: 'class-sum' } });
    csg = {
      model: rg.model, input: rg.input, classInput: rg.targetInput,
      outputs: layers.map((l) => { const r = rg.layers.find((x) => x.name === l.label)!; return { layer: l, name: r.neurons!, units: r.units }; }),
    };
  } else {
    csg = score === 'activation' ? activationGraph(model, layers, K) : gradientScoreGraph(model, layers);
  }
  if (score !== 'lrp') {
    const shapes = analyzeShapes(model, { batch: 1 }).shapes;
    for (const o of csg.outputs) o.units = (shapes.get(o.layer.node.outputs[0]) ?? [1]).slice(1).reduce((p, q) => p * q, 1);
  }
  const ref = await referenceSet(model, opts.data, { total: opts.images ?? ANALYSIS_DEFAULTS.referenceImages, seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, runtime: opts.runtime });
  const data = ref.data;
  const batch = opts.batch ?? ANALYSIS_DEFAULTS.referenceBatch;
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The neuron-score batch must be a whole number ≥ 1, got ${batch}.`);
  const sums = csg.outputs.map((o) => new Float64Array(K * o.units));
  const session = await createSession(csg.model, opts.runtime);
  try {
    const feeds = ({ start, n }: ImageBatch) => {
      const cls = new Float32Array(n * K);
      for (let i = 0; i < n; i++) cls[i * K + ref.predicted[start + i]] = 1;
      return { [csg.classInput]: floatTensor(cls, [n, K]) };
    };
    await runBatched(session, data, { input: csg.input, batch, feeds }, (out) => {
      csg.outputs.forEach((o, j) => {
        const d = out[o.name].data as Float32Array;
        const s = sums[j];
        for (let i = 0; i < d.length; i++) s[i] += d[i];
      });
    });
  } finally {
    await session.release();
  }
  return {
    classes: K,
    perClass: ref.perClass,
    layers: csg.outputs.map((o, j) => {
      const s = sums[j];
      for (let c = 0; c < K; c++) if (ref.perClass[c]) for (let i = 0; i < o.units; i++) s[c * o.units + i] /= ref.perClass[c];
      return { name: o.layer.label, op: o.layer.node.opType, units: o.units, classScores: s };
    }),
  };
}

/** Average ranks (0-based, ties share their mean rank) divided by n − 1 (1 for a single value). */
export function normalizedRanks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]] === v[idx[i]]) j++;
    const avg = (i + j) / 2;
    for (let k = i; k <= j; k++) r[idx[k]] = n > 1 ? avg / (n - 1) : 1;
    i = j + 1;
  }
  return r;
}

/** Network-oriented neuron scores from class scores [K × units] (see the module comment). */
export function mergeClassScores(classScores: ArrayLike<number>, classes: number, units: number, perClass: readonly number[], merge: NeuronMerge = 'max', q: number = ANALYSIS_DEFAULTS.topq): number[] {
  if (!NEURON_MERGES.includes(merge)) throw new FlipguardError(`Unknown neuron merge "${String(merge)}"; use ${NEURON_MERGES.join(', ')}.`);
  if (merge === 'topq' && !(q > 0 && q <= 1)) throw new FlipguardError(`The top share q must be in (0, 1], got ${q}.`);
  const out = new Array<number>(units).fill(merge === 'max' ? -Infinity : 0);
  let used = 0;
  for (let c = 0; c < classes; c++) {
    if (!perClass[c]) continue;
    used++;
    const row = Array.from({ length: units }, (_, i) => classScores[c * units + i]);
    if (merge === 'topq') {
      for (const i of topK(row, Math.max(1, Math.ceil(q * units)))) out[i]++;
      continue;
    }
    const r = normalizedRanks(row);
    for (let i = 0; i < units; i++) out[i] = merge === 'max' ? Math.max(out[i], r[i]) : out[i] + r[i];
  }
  if (merge === 'mean') return out.map((s) => (used ? s / used : 0));
  if (merge === 'max' && !used) return out.map(() => 0);
  return out;
}

/** Paper C neuron criticality scores, unit 'neuron' (see the module comment). */
export async function neuronScores(model: Model, opts: NeuronOptions): Promise<Scores> {
  const merge = opts.merge ?? 'max';
  const q = opts.q ?? ANALYSIS_DEFAULTS.topq;
  mergeClassScores([], 0, 0, [], merge, q);
  const cs = await classNeuronScores(model, opts);
  return {
    method: 'neurons',
    layers: cs.layers.map((l) => ({ name: l.name, op: l.op, unit: 'neuron' as const, scores: mergeClassScores(l.classScores, cs.classes, l.units, cs.perClass, merge, q) })),
    info: {
      score: opts.score ?? 'activation', merge, ...(merge === 'topq' ? { q } : {}), images: cs.perClass.reduce((a, b) => a + b, 0), perClass: cs.perClass,
      seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, split: opts.data.name, order: '(channel, row, col) row-major per layer; before batch norm and activation',
    },
  };
}
