/**
 * Paper B's per-weight relevance scores (SPEC §3.2): S(w) = Σ over a reference set of R(w), the
 * LRP relevance each weight carries, signed. The reference set is, by default, 1000 correctly
 * classified training images balanced by class (100 per class for 10 classes; sample.ts). Relevance
 * starts at the logit of the predicted class (option: the true class). Rules come from a composite
 * (lrp-rules.ts; default flat on the first layer, z⁺ on conv layers, ε on dense layers, ε = 1e-6),
 * batch norm is folded into its conv for the relevance pass only (canonize.ts), and the whole pass
 * is one ONNX graph run by onnxruntime (relevance.ts).
 *
 * Units: 'weight' (default; flat index in the ONNX weight layout, paper B), 'channel' (Σ of R(w)
 * over each output channel's / neuron's weights), or 'neuron' (Σ over the reference set of the
 * relevance of each output element of the layer — (channel, row, col) row-major for conv layers;
 * after folding, the layer's output is its batch norm's output).
 */
import { FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import type { Model } from '../graph/types.js';
import { createSession, type RuntimeOptions } from '../runtime/session.js';
import { floatTensor, runBatched, type ImageBatch, type RunOutputs } from '../runtime/batched.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { composite as namedComposite, type Composite, type CompositeName, type RuleName, type RuleSettings } from './lrp-rules.js';
import { relevanceGraph, type RelevanceGraph } from './relevance.js';
import { referenceSet } from './sample.js';
import { channelWeightIndices, computeLayers, type LayerScores, type Scores } from './scores.js';

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
    composite: comp, epsilon: opts.epsilon, layers: layers.map((l) => l.node.name),
    outputs: { weights: unit !== 'neuron', neurons: unit === 'neuron' ? 'batch-sum' : 'none', conservation: true },
  });
  const ref = await referenceSet(model, opts.data, { total: opts.images ?? ANALYSIS_DEFAULTS.referenceImages, seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, correctOnly: opts.correctOnly, runtime: opts.runtime });
  const targets = start === 'true' ? Array.from(ref.data.y) : ref.predicted;
  const run = await runRelevance(rg, ref.data.x, ref.data.shape, targets, { batch: opts.batch, runtime: opts.runtime });
  const out: LayerScores[] = layers.map((l) => {
    const name = l.node.name;
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
