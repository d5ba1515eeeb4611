/**
 * Paper B's per-weight relevance scores (SPEC §3.2): S(w) = Σ over a reference set of R(w), the
 * LRP relevance each weight carries, signed. The reference set is, by default, 1000 correctly
 * classified training images balanced by class (100 per class for 10 classes; sample.ts). Relevance
 * starts at the logit of the predicted class (option: the true class). Rules come from a composite
 * (lrp-rules.ts; default flat on the first layer, z⁺ on conv layers, ε on dense layers, ε = 1e-6),
 * batch norm is folded into its conv for the relevance pass only (canonize.ts), and the whole pass
 * is one ONNX graph run by onnxruntime: autodiff's reverse sweep with the composite's rules as a
 * per-node override (relevanceGraph below, lrp-rules.ts).
 *
 * Units: 'weight' (default; flat index in the ONNX weight layout, paper B), 'channel' (Σ of R(w)
 * over each output channel's / neuron's weights), or 'neuron' (Σ over the reference set of the
 * relevance of each output element of the layer — (channel, row, col) row-major for conv layers;
 * after folding, the layer's output is its batch norm's output).
 */
import { FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { producers } from '../graph/builder.js';
import { DataType, type Dim, type Model, type Node, type ValueInfo } from '../graph/types.js';
import { buildGradient, type SeedHook } from '../autodiff/gradient.js';
import { upgradeOpset } from '../autodiff/opset.js';
import type { Emitter } from '../autodiff/emitter.js';
import { foldBatchNorm, type FoldedLayer } from './canonize.js';
import { createSession, type RuntimeOptions } from '../runtime/session.js';
import { floatTensor, runBatched, type ImageBatch, type RunOutputs } from '../runtime/batched.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { composite as namedComposite, compositeOverride, lrpRole, ruleOf, type Composite, type CompositeName, type LayerRelevance, type RuleName, type RuleSettings } from './lrp-rules.js';
import { referenceSet } from './sample.js';
import { channelWeightIndices, computeLayers, labelNodes, type LayerScores, type Scores } from './scores.js';

export interface LrpOptions extends RuleSettings {
  /** Training images the reference set is drawn from. */
  data: Dataset;
  /** Reference images (default 1000, balanced by class). */
  images?: number;
  /** Seed of the reference sample (default 0). */
  seed?: number;
  /** Composite: 'default' (flat first, z⁺ conv, ε dense), 'epsilon' (ε everywhere), or a Composite. */
  composite?: CompositeName | Composite;
  /** Rule of the first layer for a named composite (default flat for 'default', epsilon for 'epsilon'). */
  first?: RuleName;
  /** Where relevance starts: the predicted class's logit (default) or the true class's. */
  start?: 'predicted' | 'true';
  /** Use correctly classified images only (default true). */
  correctOnly?: boolean;
  /** 'weight' (default), 'channel' or 'neuron' (see the module comment). */
  unit?: 'weight' | 'channel' | 'neuron';
  /** Images per onnxruntime run (default 100). */
  batch?: number;
  runtime?: RuntimeOptions;
}

/** What the graph outputs, per reported layer. */
export interface RelevanceOutputs {
  /** Σ over the batch of R(W), shape of the weight (default true). */
  weights?: boolean;
  /**
   * Relevance of each layer's output elements (the neurons, after folding: the batch-norm output):
   * 'per-image' [batch, …], 'batch-sum' […], 'class-sum' [K, units] = targetᵀ·|R| (per-class sums of
   * |R|, with the target rows as class indicators), or 'none' (default).
   */
  neurons?: 'none' | 'per-image' | 'batch-sum' | 'class-sum';
  /** Per-image Σ R_in and Σ R_out of every layer, and Σ of the starting relevance ([batch] each). */
  conservation?: boolean;
  /** Per-image relevance of the model input. */
  input?: boolean;
}

export interface RelevanceOptions {
  /** Rules per layer (default: composite('default') — flat first layer, z⁺ conv, ε dense). */
  composite?: Composite;
  /** Stabiliser of the ε-rule applied to Add, AveragePool, … (default 1e-6). */
  epsilon?: number;
  /** Logits value (default the first output; a final Softmax/LogSoftmax is looked through). */
  logits?: string;
  /** Fold batch norm into convs first (default true). */
  canonize?: boolean;
  /** Labels (graph/layers.ts: node names, or output names of unnamed nodes) of the layers to report (default every parametric layer on the path). */
  layers?: string[];
  outputs?: RelevanceOutputs;
}

export interface RelevanceLayer {
  name: string;
  op: string;
  weight: string;
  /** Name of the rule applied. */
  rule: string;
  /** Output: Σ_batch R(W). */
  weightRelevance?: string;
  /** Output: neuron relevance in the requested form. */
  neurons?: string;
  /** Neurons per image (elements of the layer's output). */
  units: number;
  /** Outputs [batch]: Σ R_in (this layer's contribution to its input), Σ R_out. */
  inputSum?: string;
  outputSum?: string;
}

export interface RelevanceGraph {
  model: Model;
  /** The data input. */
  input: string;
  /** The one-hot target input [batch, K]. */
  targetInput: string;
  classes: number;
  /** Reported layers, in graph order. */
  layers: RelevanceLayer[];
  /** Output [batch]: Σ of the starting relevance (the target logit), with `conservation`. */
  topSum?: string;
  /** Output: relevance of the model input, with `input`. */
  inputRelevance?: string;
  /** Batch norms folded by the canonizer. */
  folded: FoldedLayer[];
}

/**
 * The relevance pass (LRP, SPEC §3.2) as one ONNX graph: autodiff's reverse sweep (buildGradient)
 * from the logits to the data input with the composite's rules as its per-node override
 * (lrp-rules.ts compositeOverride). The model is canonized first (batch norm folded into the
 * preceding conv, canonize.ts). Relevance starts at the logits as R = logits ⊙ target, `target`
 * being a one-hot [batch, K] input (the predicted or true class per image; 0 elsewhere, and an
 * all-zero row gives an image no relevance); contributions to a value read by several nodes are
 * added. Per-weight relevance is summed over positions and images by onnxruntime (a weight-gradient
 * computation). Throws a FlipguardError for an op without an LRP role on the path.
 */
export function relevanceGraph(model: Model, opts: RelevanceOptions = {}): RelevanceGraph {
  const comp = opts.composite ?? namedComposite('default');
  const epsilon = opts.epsilon ?? ANALYSIS_DEFAULTS.epsilon;
  const want = { weights: true, neurons: 'none' as const, conservation: false, input: false, ...opts.outputs };
  // layers are reported by node name: unnamed layers get their labels (graph/layers.ts) as names
  const labelled = labelNodes(model);
  const canon = opts.canonize === false ? { model: labelled, folded: [] } : foldBatchNorm(labelled);
  const m = upgradeOpset(canon.model);
  const g = m.graph;
  if (g.inputs.length !== 1) throw new FlipguardError(`LRP needs a model with exactly one data input, but it has ${g.inputs.length}; use a single-input classifier.`);
  const input = g.inputs[0].name;
  const made = producers(g);
  let logits = opts.logits ?? g.outputs[0]?.name;
  if (!logits) throw new FlipguardError('The model has no outputs to read logits from; pass opts.logits.');
  const last = made.get(logits);
  if (last && (last.opType === 'Softmax' || last.opType === 'LogSoftmax')) logits = last.inputs[0];
  const declared = g.inputs[0].shape?.[0];
  const batchDim: Dim = typeof declared === 'number' || typeof declared === 'string' ? declared : 'batch';

  let K = 0;
  let targetInput = '';
  let top = '';
  let path: readonly Node[] = [];
  let first: Node | undefined;
  let reported = new Set<string>();
  const layers: RelevanceLayer[] = [];
  const reached = new Set<string>();

  /** Emits the outputs of a reported layer from its relevances. */
  const report = (e: Emitter, shape: (v: string) => number[], l: LayerRelevance) => {
    const n = l.node;
    reached.add(n.name);
    if (!reported.has(n.name)) return;
    const b = e.b;
    const layer: RelevanceLayer = { name: n.name, op: n.opType, weight: n.inputs[1], rule: l.rule.name, units: shape(n.outputs[0]).slice(1).reduce((p, q) => p * q, 1) };
    const out = (v: string, base: string) => { const name = b.fresh(base); b.node('Identity', [v], {}, { name: `lrp/out/${base}`, outputs: [name] }); return name; };
    if (want.weights) layer.weightRelevance = out(l.rW!, `${n.inputs[1]}_relevance`);
    const r = l.rOut;
    const rank = shape(n.outputs[0]).length;
    const rest = Array.from({ length: rank - 1 }, (_, i) => i + 1);
    if (want.neurons === 'per-image') layer.neurons = out(r, `${n.name}_neuron_relevance`);
    else if (want.neurons === 'batch-sum') layer.neurons = out(e.reduceSum(r, [0], false), `${n.name}_neuron_relevance`);
    else if (want.neurons === 'class-sum') {
      const abs = e.reshape(e.op('Abs', [r]), [0, -1]);
      layer.neurons = out(e.op('MatMul', [e.transpose(targetInput, [1, 0]), abs]), `${n.name}_class_relevance`);
    }
    if (want.conservation) {
      layer.inputSum = out(e.reduceSum(l.rIn!, Array.from({ length: shape(n.inputs[0]).length - 1 }, (_, i) => i + 1), false), `${n.name}_relevance_in`);
      layer.outputSum = out(e.reduceSum(r, rest, false), `${n.name}_relevance_out`);
    }
    layers.push(layer);
  };

  const hook: SeedHook = {
    output: logits,
    seed(e, _target, shapes, active) {
      const ls = shapes.get(logits!);
      if (!ls || ls.length !== 2) throw new FlipguardError(`The logits "${logits}" must have shape [batch, classes]; got [${(ls ?? []).join(', ')}].`);
      K = ls[1];
      path = active;
      const paramNodes = active.filter((n) => lrpRole(n) === 'linear');
      if (!paramNodes.length) throw new FlipguardError('The model has no Conv, Gemm or MatMul layer between its input and its logits, so LRP has no weights to score.');
      reported = new Set(opts.layers ?? paramNodes.map((n) => n.name));
      for (const l of reported) if (!paramNodes.some((n) => n.name === l)) {
        throw new FlipguardError(`No Conv, Gemm or MatMul layer named "${l}" on the path to the logits; the layers are ${paramNodes.map((n) => n.name).join(', ')}.`);
      }
      first = paramNodes[0];
      targetInput = e.b.fresh('lrp_target');
      e.b.input(targetInput, [batchDim, K]);
      e.prefix = 'lrp/start/';
      top = e.mul(logits!, targetInput);
      return top;
    },
    override: compositeOverride({
      composite: comp, epsilon,
      first: () => first!,
      producer: (v) => made.get(v),
      stored: (v) => g.initializers.has(v),
      wants: (n) => ({ input: n.inputs[0] !== input || want.input || (reported.has(n.name) && want.conservation), weights: reported.has(n.name) && want.weights }),
      layer: (l, c) => report(c.e, c.shape, l),
    }),
    finish(e, grads, shapes) {
      const shape = (v: string) => shapes.get(v)!;
      // a layer reached only through a gate (e.g. squeeze-excitation convs) gets no relevance: report zeros
      for (const n of path) {
        if (lrpRole(n) !== 'linear' || reached.has(n.name) || !reported.has(n.name)) continue;
        e.prefix = `lrp/${n.name || n.opType}/`;
        report(e, shape, { node: n, rule: ruleOf(comp, n, n === first), rOut: e.zerosLike(n.outputs[0]), rIn: e.zerosLike(n.inputs[0]), rW: e.zerosLike(n.inputs[1]) });
      }
      const order = new Map(path.map((n, i) => [n.name, i]));
      layers.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
      const outputs: ValueInfo[] = [];
      for (const l of layers) {
        for (const v of [l.weightRelevance, l.neurons, l.inputSum, l.outputSum]) if (v) outputs.push({ name: v, elemType: DataType.FLOAT });
      }
      e.prefix = 'lrp/out/';
      if (want.conservation) {
        topSum = e.b.fresh('lrp_start_sum');
        e.b.node('ReduceSum', [top, e.ints([1])], { keepdims: { type: 'int', value: 0 } }, { name: 'lrp/out/start_sum', outputs: [topSum] });
        outputs.push({ name: topSum, elemType: DataType.FLOAT });
      }
      if (want.input) {
        const r = grads.get(input) ?? e.zerosLike(input);
        inputRelevance = e.b.fresh(`${input}_relevance`);
        e.b.node('Identity', [r], {}, { name: 'lrp/out/input', outputs: [inputRelevance] });
        outputs.push({ name: inputRelevance, elemType: DataType.FLOAT });
      }
      return outputs;
    },
  };
  let topSum: string | undefined;
  let inputRelevance: string | undefined;
  const res = buildGradient(m, { wrt: [input], batch: 2 }, hook);
  return { model: res.model, input, targetInput, classes: K, layers, topSum, inputRelevance, folded: canon.folded };
}

/** Sums of one relevance graph's outputs over a set of images. */
export interface RelevanceRun {
  /** Per layer: Σ_images R(W). */
  weights: Map<string, Float64Array>;
  /** Per layer: neuron relevance in the form the graph outputs, summed over runs ('per-image': concatenated). */
  neurons: Map<string, Float64Array>;
  /** Per layer: per-image Σ R_in and Σ R_out (with conservation outputs). */
  inputSums: Map<string, Float64Array>;
  outputSums: Map<string, Float64Array>;
  /** Per image: the starting relevance (target logit), with conservation outputs. */
  topSums?: Float64Array;
  /** Per-image relevance of the model input, concatenated, with the `input` output. */
  input?: Float32Array;
}

/**
 * Runs relevance graph `rg` on `count` images (`x`, NCHW) with relevance starting at class
 * `targets[i]` of image i, in runs of `batch` images (no padding: the graph takes any batch size).
 */
export async function runRelevance(rg: RelevanceGraph, x: Float32Array, imageShape: readonly number[], targets: ArrayLike<number>, opts: { batch?: number; runtime?: RuntimeOptions; neuronsPerImage?: boolean } = {}): Promise<RelevanceRun> {
  const count = targets.length;
  const per = imageShape.reduce((a, b) => a * b, 1);
  const batch = opts.batch ?? ANALYSIS_DEFAULTS.referenceBatch;
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The LRP batch must be a whole number ≥ 1, got ${batch}.`);
  const K = rg.classes;
  const session = await createSession(rg.model, opts.runtime);
  const res: RelevanceRun = { weights: new Map(), neurons: new Map(), inputSums: new Map(), outputSums: new Map() };
  const perImage = (name: string | undefined, into: Map<string, Float64Array>, key: string, out: RunOutputs, start: number, n: number) => {
    if (!name) return;
    let a = into.get(key);
    if (!a) { a = new Float64Array(count); into.set(key, a); }
    const d = out[name].data as Float32Array;
    for (let i = 0; i < n; i++) a[start + i] = d[i];
  };
  const summed = (name: string | undefined, into: Map<string, Float64Array>, key: string, out: RunOutputs) => {
    if (!name) return;
    const d = out[name].data as Float32Array;
    let a = into.get(key);
    if (!a) { a = new Float64Array(d.length); into.set(key, a); }
    for (let i = 0; i < d.length; i++) a[i] += d[i];
  };
  try {
    const feeds = ({ start, n }: ImageBatch) => {
      const target = new Float32Array(n * K);
      for (let i = 0; i < n; i++) {
        const t = targets[start + i];
        if (!(Number.isInteger(t) && t >= 0 && t < K)) throw new FlipguardError(`Target class ${t} of image ${start + i} is outside 0…${K - 1}; pass class indices of the model's output.`);
        target[i * K + t] = 1;
      }
      return { [rg.targetInput]: floatTensor(target, [n, K]) };
    };
    await runBatched(session, { x, shape: imageShape, count }, { input: rg.input, batch, feeds }, (out, { start, n }) => {
      for (const l of rg.layers) {
        summed(l.weightRelevance, res.weights, l.name, out);
        if (l.neurons) {
          if (opts.neuronsPerImage) {
            const d = out[l.neurons].data as Float32Array;
            let a = res.neurons.get(l.name);
            if (!a) { a = new Float64Array(count * l.units); res.neurons.set(l.name, a); }
            for (let i = 0; i < n * l.units; i++) a[start * l.units + i] = d[i];
          } else summed(l.neurons, res.neurons, l.name, out);
        }
        perImage(l.inputSum, res.inputSums, l.name, out, start, n);
        perImage(l.outputSum, res.outputSums, l.name, out, start, n);
      }
      if (rg.topSum) {
        res.topSums ??= new Float64Array(count);
        const d = out[rg.topSum].data as Float32Array;
        for (let i = 0; i < n; i++) res.topSums[start + i] = d[i];
      }
      if (rg.inputRelevance) {
        res.input ??= new Float32Array(count * per);
        res.input.set((out[rg.inputRelevance].data as Float32Array).subarray(0, n * per), start * per);
      }
    });
  } finally {
    await session.release();
  }
  return res;
}

/** The composite an LrpOptions names. */
export function lrpComposite(opts: Pick<LrpOptions, 'composite' | 'first' | 'epsilon' | 'low' | 'high'>): Composite {
  const c = opts.composite ?? 'default';
  return typeof c === 'object' ? c : namedComposite(c, { epsilon: opts.epsilon, low: opts.low, high: opts.high, first: opts.first });
}

/** LRP scores (see the module comment); `info` holds the reference set, rules and per-layer conservation. */
export async function lrpScores(model: Model, opts: LrpOptions): Promise<Scores> {
  const unit = opts.unit ?? 'weight';
  if (!['weight', 'channel', 'neuron'].includes(unit)) throw new FlipguardError(`Unknown LRP unit "${String(unit)}"; use weight, channel or neuron.`);
  const start = opts.start ?? 'predicted';
  if (start !== 'predicted' && start !== 'true') throw new FlipguardError(`Unknown LRP start "${String(start)}"; use predicted or true.`);
  const comp = lrpComposite(opts);
  const layers = computeLayers(model);
  const rg = relevanceGraph(model, {
    composite: comp, epsilon: opts.epsilon, layers: layers.map((l) => l.label),
    outputs: { weights: unit !== 'neuron', neurons: unit === 'neuron' ? 'batch-sum' : 'none', conservation: true },
  });
  const ref = await referenceSet(model, opts.data, { total: opts.images ?? ANALYSIS_DEFAULTS.referenceImages, seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, correctOnly: opts.correctOnly, runtime: opts.runtime });
  const targets = start === 'true' ? Array.from(ref.data.y) : ref.predicted;
  const run = await runRelevance(rg, ref.data.x, ref.data.shape, targets, { batch: opts.batch, runtime: opts.runtime });
  const out: LayerScores[] = layers.map((l) => {
    const name = l.label;
    if (unit === 'neuron') return { name, op: l.node.opType, unit: 'neuron' as const, scores: Array.from(run.neurons.get(name)!) };
    const w = run.weights.get(name)!;
    if (unit === 'weight') return { name, op: l.node.opType, unit: 'weight' as const, scores: Array.from(w) };
    const idx = channelWeightIndices(model, l);
    const scores = Array.from({ length: l.outChannels }, (_, c) => { let s = 0; for (const i of idx(c)) s += w[i]; return s; });
    return { name, op: l.node.opType, unit: l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores };
  });
  const total = (a: Float64Array | undefined) => (a ? a.reduce((p, q) => p + q, 0) : 0);
  const startTotal = total(run.topSums);
  return {
    method: 'lrp',
    layers: out,
    info: {
      images: ref.data.count, perClass: ref.perClass, seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, split: opts.data.name, start,
      unit, composite: comp.name, epsilon: opts.epsilon ?? ANALYSIS_DEFAULTS.epsilon,
      rules: rg.layers.map((l) => ({ name: l.name, rule: l.rule })),
      foldedBatchNorms: rg.folded.map((f) => f.batchNorm),
      startRelevance: startTotal,
      // Σ R_in / Σ R_out per layer over the reference set (1 = conserved; < 1: bias/stabiliser absorbed some)
      conservation: rg.layers.map((l) => ({ name: l.name, ratio: total(run.inputSums.get(l.name)) / (total(run.outputSums.get(l.name)) || 1) })),
    },
  };
}
