/**
 * Taylor baseline (SPEC §3.4): |w · ∂L/∂w| per weight, L the softmax cross-entropy summed over N
 * training images (the first N of a seeded permutation, sample.ts) with their true labels, i.e.
 * the first-order estimate of the loss change when the weight is removed. The gradient is one
 * gradient graph (batch norm in inference mode) run in batches; each run returns the gradient of
 * the batch's mean loss, which is multiplied by the batch size and added up in float64.
 * Unit 'weight' (default; ONNX flat order) or 'channel' (Σ over each output channel's or dense
 * neuron's weights of |w·∂L/∂w|).
 */
import { FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import type { Model } from '../graph/types.js';
import { gradientGraph } from '../autodiff/index.js';
import { createSession, dataInput, type RuntimeOptions } from '../runtime/session.js';
import { int64Tensor, runBatched, type ImageBatch } from '../runtime/batched.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { profilingSample } from './sample.js';
import { channelWeightIndices, computeLayers, type Scores } from './scores.js';

export interface TaylorOptions {
  /** Training images. */
  data: Dataset;
  /** Images N (default 128). */
  images?: number;
  seed?: number;
  unit?: 'weight' | 'channel';
  /** Images per run (default 128). */
  batch?: number;
  runtime?: RuntimeOptions;
}

/** Σ over the images of ∂L_n/∂W for every conv/dense weight tensor, by weight name. */
export async function lossGradients(model: Model, data: Dataset, opts: { batch?: number; runtime?: RuntimeOptions } = {}): Promise<Map<string, Float64Array>> {
  const layers = computeLayers(model);
  if (!layers.length) throw new FlipguardError('The model has no conv or dense layer with stored weights, so there is nothing to score.');
  const weights = [...new Set(layers.map((l) => l.weight))];
  const gg = gradientGraph(model, { loss: 'cross_entropy', wrt: weights, batchNorm: 'inference' });
  const session = await createSession(gg.model, opts.runtime);
  const input = dataInput(model).name;
  const batch = opts.batch ?? 128;
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The Taylor batch must be a whole number ≥ 1, got ${batch}.`);
  const sums = new Map<string, Float64Array>();
  try {
    const feeds = ({ start, n }: ImageBatch) => ({ [gg.labelsInput!]: int64Tensor(data.y.subarray(start, start + n), [n]) });
    await runBatched(session, data, { input, batch, feeds }, (out, { n }) => {
      for (const w of weights) {
        const g = out[gg.gradOutputs.get(w)!].data as Float32Array;
        let s = sums.get(w);
        if (!s) { s = new Float64Array(g.length); sums.set(w, s); }
        for (let i = 0; i < g.length; i++) s[i] += n * g[i];
      }
    });
  } finally {
    await session.release();
  }
  return sums;
}

/** Taylor scores |w·∂L/∂w| (see the module comment). */
export async function taylorScores(model: Model, opts: TaylorOptions): Promise<Scores> {
  const unit = opts.unit ?? 'weight';
  if (unit !== 'weight' && unit !== 'channel') throw new FlipguardError(`Unknown Taylor unit "${String(unit)}"; use weight or channel.`);
  const sample = profilingSample(opts.data, opts.images ?? ANALYSIS_DEFAULTS.taylorImages, opts.seed ?? ANALYSIS_DEFAULTS.seed);
  const grads = await lossGradients(model, sample.data, { batch: opts.batch, runtime: opts.runtime });
  return {
    method: 'taylor',
    layers: computeLayers(model).map((l) => {
      const w = model.graph.initializers.get(l.weight)!.data as Float32Array;
      const g = grads.get(l.weight)!;
      const perWeight = Array.from(w, (v, i) => Math.abs(v * g[i]));
      if (unit === 'weight') return { name: l.label, op: l.node.opType, unit: 'weight' as const, scores: perWeight };
      const idx = channelWeightIndices(model, l);
      const scores = Array.from({ length: l.outChannels }, (_, c) => { let s = 0; for (const i of idx(c)) s += perWeight[i]; return s; });
      return { name: l.label, op: l.node.opType, unit: l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores };
    }),
    info: { images: sample.data.count, seed: opts.seed ?? ANALYSIS_DEFAULTS.seed, split: opts.data.name, loss: 'softmax cross-entropy, summed over images', unit },
  };
}
