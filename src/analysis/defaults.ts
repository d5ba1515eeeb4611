/**
 * Every default of the importance scores, in one place (SPEC §3; the "(our choice)" items are
 * marked there). `rank`, the per-method functions and the CLI all read them from here.
 */
import { DEFAULT_SAMPLE_SEED } from '../defaults.js';
export const ANALYSIS_DEFAULTS = Object.freeze({
  /** Seed of every image sample and random score. */
  seed: DEFAULT_SAMPLE_SEED,
  /** Profiling images for Eq. (1) (SPEC §3.1: N = 128, training split). */
  vulnerabilityImages: 128,
  /** Images per onnxruntime run of the exact per-sample graph (N·K backward rows each). */
  vulnerabilityBatch: 16,
  /** Images whose margin gradients are summed before squaring, for `approx: 'batch'`. */
  approxBatch: 32,
  /** Training images for Taylor |w·∂L/∂w|. */
  taylorImages: 128,
  /** Reference set of LRP and neuron criticality: correctly classified training images, balanced by class (SPEC §3.2). */
  referenceImages: 1000,
  /** Images per onnxruntime run of the relevance and neuron graphs. */
  referenceBatch: 100,
  /** LRP stabiliser ε (SPEC §3.2). */
  epsilon: 1e-6,
  /** z^B input bounds: MNIST pixels as loaded, [0, 1]. */
  zBoxLow: 0,
  zBoxHigh: 1,
  /** Share of a layer's neurons counted as "top" by the `topq` merge of neuron scores. */
  topq: 0.1,
  /** Fault-injection ground truth: trials per unit. */
  groundTruthTrials: 10,
  /** Top-k overlap uses k = max(1, ceil(topkShare · units)). */
  topkShare: 0.1,
  /** Weights sampled for a weight-level ground truth. */
  weightSample: 64,
});
