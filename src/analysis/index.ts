/**
 * Importance scores (SPEC §3): `rank` dispatches to one method with defaults taken from
 * ANALYSIS_DEFAULTS, and `compareRankings` measures how well each method predicts fault-injection
 * ground truth. Scores are higher = more important / more vulnerable.
 *
 * Methods and their units ('channel' = one score per conv output channel or dense neuron;
 * 'weight' = per weight, ONNX flat order; 'neuron' = per output element, paper C):
 *
 * | method        | what                                             | units (default first)   | data |
 * |---------------|--------------------------------------------------|-------------------------|------|
 * | vulnerability | paper A Eq. (1), 128 profiling images            | channel                 | yes  |
 * | lrp           | paper B Σ R(w), 1000 reference images            | weight, channel, neuron | yes  |
 * | neurons       | paper C criticality, 1000 reference images       | neuron                  | yes  |
 * | taylor        | |w·∂L/∂w|, 128 images                             | weight, channel         | yes  |
 * | l1            | Σ|w| per channel                                 | channel                 | no   |
 * | magnitude     | |w|                                              | weight, channel (= Σ|w|)| no   |
 * | random        | seeded uniform                                   | channel, weight, neuron | no   |
 */
import { FlipguardError, opt } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { analyzeShapes } from '../graph/shapes.js';
import { dequantizedModel } from '../formats/dequantize.js';
import type { Model } from '../graph/types.js';
import type { ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { compareRankingsWith, type CompareOptions, type Comparison } from './groundtruth.js';
import { lrpScores } from './lrp.js';
import type { Composite, CompositeName, RuleName } from './lrp-rules.js';
import { neuronScores, type NeuronMerge, type NeuronScoreFunction } from './neurons.js';
import { computeLayers, l1Scores, magnitudeScores, randomScores, type Scores, type ScoreUnit } from './scores.js';
import { taylorScores } from './taylor.js';
import { vulnerabilityScores, type RobustOption } from './vulnerability.js';

export const RANK_METHODS = ['vulnerability', 'lrp', 'neurons', 'l1', 'magnitude', 'taylor', 'random'] as const;
export type RankMethod = (typeof RANK_METHODS)[number];

/** Units each method can produce, the default first. */
export const METHOD_UNITS: Readonly<Record<RankMethod, readonly ScoreUnit[]>> = {
  vulnerability: ['channel'], lrp: ['weight', 'channel', 'neuron'], neurons: ['neuron'], taylor: ['weight', 'channel'],
  l1: ['channel'], magnitude: ['weight', 'channel'], random: ['channel', 'weight', 'neuron'],
};

/** Methods that need training images. */
export const DATA_METHODS: readonly RankMethod[] = ['vulnerability', 'lrp', 'neurons', 'taylor'];

export interface RankOptions {
  method: RankMethod;
  /** Training images (the training split; SPEC §3); required by vulnerability, lrp, neurons, taylor. */
  data?: Dataset | ImageSet;
  /** Images: profiling (vulnerability 128, taylor 128) or reference set (lrp, neurons: 1000). */
  images?: number;
  /** Seed of image samples and random scores (default 0). */
  seed?: number;
  /**
   * Unit (default: the method's first in METHOD_UNITS). 'channel' gives one score per conv output
   * channel / dense neuron (labelled 'channel' for conv and 'neuron' for dense layers, as l1Scores).
   */
  unit?: ScoreUnit;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Images per onnxruntime run (default per method). */
  batch?: number;
  // vulnerability
  /** Eq. (1): 'exact' per-image gradients (default) or 'batch' (summed before squaring). */
  approx?: 'exact' | 'batch';
  approxBatch?: number;
  /** Eq. (1) robust estimator (off by default): { floor } on |y_t − y_k| or { trim } share. */
  robust?: RobustOption;
  // lrp
  composite?: CompositeName | Composite;
  /** First-layer rule of a named composite. */
  first?: RuleName;
  /** LRP stabiliser (default 1e-6). */
  epsilon?: number;
  /** z^B bounds (default [0, 1]). */
  low?: number;
  high?: number;
  /** Relevance starts at the predicted (default) or true class. */
  start?: 'predicted' | 'true';
  // neurons
  score?: NeuronScoreFunction;
  merge?: NeuronMerge;
  q?: number;
}

function asDataset(method: string, data: Dataset | ImageSet | undefined): Dataset {
  if (!data) throw new FlipguardError(`The ${method} scores are computed on training images, but no data was given; pass the training split (${opt('data')}, e.g. mnist).`);
  if (data.shape.length !== 3) throw new FlipguardError(`The ${method} scores need images of shape [C, H, W], got [${data.shape.join(', ')}].`);
  return data as Dataset;
}

/** Seeded random scores per output element of each layer (unit 'neuron'). */
function randomNeuronScores(model: Model, seed: number): Scores {
  const shapes = analyzeShapes(model, { batch: 1 }).shapes;
  return {
    method: 'random',
    layers: computeLayers(model).map((l) => {
      const rng = new Rng(Rng.derive('random-scores', seed, l.label, 'neuron'));
      const n = (shapes.get(l.node.outputs[0]) ?? [1]).slice(1).reduce((p, q) => p * q, 1);
      return { name: l.label, op: l.node.opType, unit: 'neuron' as const, scores: Array.from({ length: n }, () => rng.next()) };
    }),
  };
}

/**
 * Importance scores of every conv and dense layer of `model` by `opts.method` (see the module
 * table). Throws a FlipguardError for an unknown method, a unit the method cannot give, or missing
 * training data. A float16/bfloat16 or int8 QDQ model is scored through its dequantized float32
 * equivalent (formats/dequantize.ts): the same layers, channels and neurons; a QOperator model's
 * QLinearConv/QLinearMatMul kernels are its conv and dense layers there (formats/qoperator.ts),
 * ConvInteger/MatMulInteger are refused in one sentence. A native float16 model (computing in float16) is scored in float32
 * arithmetic on its exactly decoded words — an explanation, not the float16 arithmetic it runs
 * with; `compareRankings` and `bitProfile` flip its real float16 words and run the native model.
 */
export async function rank(stored: Model, opts: RankOptions): Promise<Scores> {
  const method = opts.method;
  if (!(RANK_METHODS as readonly string[]).includes(method)) throw new FlipguardError(`Unknown ranking method "${String(method)}"; use one of ${RANK_METHODS.join(', ')}.`);
  // float16/bfloat16 (Cast-around or native) and int8 QDQ models are scored through their float32
  // equivalent (same layers and units): float32 arithmetic on the stored words
  const model = dequantizedModel(stored).model;
  const units = METHOD_UNITS[method];
  const unit = opts.unit ?? units[0];
  if (!units.includes(unit)) throw new FlipguardError(`The ${method} ranking gives ${units.join(' or ')} scores, not ${unit}; choose another method or unit.`);
  const seed = opts.seed ?? ANALYSIS_DEFAULTS.seed;
  const runtime: RuntimeOptions = { threads: opts.threads };
  switch (method) {
    case 'l1': return l1Scores(model);
    case 'magnitude': {
      if (unit === 'weight') return magnitudeScores(model);
      return { ...l1Scores(model), method: 'magnitude' };
    }
    case 'random': return unit === 'neuron' ? randomNeuronScores(model, seed) : randomScores(model, { seed, unit: unit === 'weight' ? 'weight' : 'channel' });
    case 'vulnerability':
      return vulnerabilityScores(model, { data: asDataset(method, opts.data), images: opts.images, seed, approx: opts.approx, approxBatch: opts.approxBatch, robust: opts.robust, batch: opts.batch, runtime });
    case 'taylor':
      return taylorScores(model, { data: asDataset(method, opts.data), images: opts.images, seed, unit: unit as 'weight' | 'channel', batch: opts.batch, runtime });
    case 'lrp':
      return lrpScores(model, {
        data: asDataset(method, opts.data), images: opts.images, seed, unit: unit as 'weight' | 'channel' | 'neuron', composite: opts.composite, first: opts.first,
        epsilon: opts.epsilon, low: opts.low, high: opts.high, start: opts.start, batch: opts.batch, runtime,
      });
    case 'neurons':
      return neuronScores(model, {
        data: asDataset(method, opts.data), images: opts.images, seed, score: opts.score, merge: opts.merge, q: opts.q,
        composite: opts.composite, first: opts.first, epsilon: opts.epsilon, low: opts.low, high: opts.high, batch: opts.batch, runtime,
      });
  }
}

export interface CompareRankingsOptions extends Omit<CompareOptions, 'ranker' | 'methods'> {
  /** Methods to compare (default vulnerability, lrp, neurons, l1, taylor, random). */
  methods?: readonly RankMethod[];
  /** Options passed to every `rank` call (method-specific settings, threads…). */
  rankOptions?: Omit<RankOptions, 'method' | 'data' | 'unit'>;
}

/**
 * Fault-injection ground truth for each unit of `opts.layer` at `opts.ber` (evaluated on
 * `opts.data`), then Spearman ρ, Kendall τ-b and top-k overlap of every method's ranking (computed
 * on `opts.rankData`, the training split) with it. Channel-level comparisons ask per-weight methods
 * for channel scores (Σ over the channel); see groundtruth.ts for the unit mapping.
 */
export async function compareRankings(model: Model, opts: CompareRankingsOptions): Promise<Comparison> {
  const methods = opts.methods ?? ['vulnerability', 'lrp', 'neurons', 'l1', 'taylor', 'random'];
  for (const m of methods) if (!(RANK_METHODS as readonly string[]).includes(m)) throw new FlipguardError(`Unknown ranking method "${String(m)}"; use one of ${RANK_METHODS.join(', ')}.`);
  if (!opts.rankData && methods.some((m) => DATA_METHODS.includes(m))) {
    throw new FlipguardError(`Methods ${methods.filter((m) => DATA_METHODS.includes(m)).join(', ')} need training images; pass rankData (the training split).`);
  }
  return compareRankingsWith(model, {
    ...opts, methods,
    ranker: (m, method, unit) => {
      const allowed = METHOD_UNITS[method as RankMethod];
      // the finest unit the method has that maps onto the ground truth's units
      const u: ScoreUnit = unit === 'weight' ? (allowed.includes('weight') ? 'weight' : allowed[0]) : (allowed.includes('channel') ? 'channel' : allowed[0]);
      return rank(m, { ...opts.rankOptions, method: method as RankMethod, data: opts.rankData, images: opts.images, seed: opts.rankSeed ?? opts.rankOptions?.seed, unit: u, threads: opts.rankOptions?.threads ?? opts.runtime?.threads });
    },
  });
}

export * from './scores.js';
export { ANALYSIS_DEFAULTS } from './defaults.js';
export { profilingSample, referenceSet, type ImageSample, type ReferenceSet } from './sample.js';
export {
  perSampleSquaredChannelGradNorms, perSampleNormsByLoop, benchPerSample,
  type PerSampleRunOptions, type PerSampleNorms, type PerSampleBench,
} from './per-sample.js';
export { vulnerabilityScores, vulnerabilityProfile, type VulnerabilityOptions, type VulnerabilityProfile, type RobustOption } from './vulnerability.js';
export {
  epsilonRule, zPlusRule, flatRule, zBoxRule, ruleByName, composite, ruleOf, RULE_NAMES, COMPOSITE_NAMES,
  type LrpRule, type LrpTerm, type Modifier, type RuleName, type Composite, type CompositeName, type RuleSettings,
} from './lrp-rules.js';
export { foldBatchNorm, type FoldedLayer } from './canonize.js';
export {
  lrpScores, lrpComposite, runRelevance, relevanceGraph,
  type LrpOptions, type RelevanceRun, type RelevanceGraph, type RelevanceLayer, type RelevanceOptions, type RelevanceOutputs,
} from './lrp.js';
export {
  neuronScores, classNeuronScores, mergeClassScores, normalizedRanks, NEURON_SCORE_FUNCTIONS, NEURON_MERGES,
  type NeuronOptions, type NeuronScoreFunction, type NeuronMerge, type ClassNeuronScores,
} from './neurons.js';
export { taylorScores, lossGradients, type TaylorOptions } from './taylor.js';
export { averageRanks, spearman, kendallTauB, topkOverlap } from './correlation.js';
export {
  groundTruth, unitFaults, compareWithGroundTruth, formatComparison, unitScores, groundTruthJobs,
  type GroundTruth, type GroundTruthJob, type GroundTruthSpec, type UnitResult, type GroundTruthOptions, type CompareRow, type Comparison,
} from './groundtruth.js';
export { textTable } from './format.js';
export { bitProfile, bitProfileFaults, formatBitProfile, fieldOf, readBitProfileFile, type BitProfile, type BitProfileRow, type BitProfileOptions, type BitProfileFile } from './bit-profile.js';
