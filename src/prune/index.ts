/**
 * Vulnerability-based pruning (SPEC §5, paper A §IV): structured channel pruning ranked by any
 * importance scores, fine-tuning, and the (p_conv, p_fc) ratio search; `prune` ties them together
 * and writes a JSON-able report.
 */
import { refuseStoredFormats } from '../formats/dequantize.js';
import { check, FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { countModel } from '../graph/count.js';
import type { Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { evaluate as evaluateModel, type ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { EpochRecord } from '../train/train.js';
import { timeInferenceMany } from '../runtime/timing.js';
import { fineTune, type FineTuneOptions } from './finetune.js';
import { searchRatios, type RatioPoint, type RatioSearchOptions, type SearchProgress, type SearchRow } from './search.js';
import { pruneChannels, type PruneChannelsOptions, type SkippedLayer } from './structured.js';

export * from './structured.js';
export * from './finetune.js';
export * from './search.js';

export interface PruneOptions {
  /** Channel / neuron scores, higher = keep: Eq. (1) vulnerability, L1 norm, random, … */
  scores: Scores;
  /** Name of the ranking for the report (default `scores.method`), e.g. 'vulnerability' or 'l1'. */
  rank?: string;
  /** Training set, for fine-tuning. */
  data?: Dataset;
  /** Test set: accuracy before/after, the search's criterion, the inference time. */
  evalData?: ImageSet;
  /** Fixed p_conv in [0, 1] (required unless `search`). */
  conv?: number;
  /** Fixed p_fc in [0, 1] (required unless `search`). */
  fc?: number;
  /**
   * Search the ratios instead of fixing them: true for the defaults, or the search's grid,
   * threshold (accuracy points, default 1), strategy and budget.
   */
  search?: boolean | Pick<RatioSearchOptions, 'convRatios' | 'fcRatios' | 'threshold' | 'strategy' | 'maxEvaluations'>;
  /** Fine-tuning epochs (default 10, paper A; 0 = none). */
  epochs?: number;
  /** Further fine-tuning options (lr default 0.001, momentum, schedule, batch, seed, maxStepsPerEpoch, onProgress). */
  fineTune?: Omit<FineTuneOptions, 'epochs'>;
  /** Other pruning options (minKeep, layers, residual, groupScore, skipUnprunable). */
  prune?: Omit<PruneChannelsOptions, 'scores' | 'conv' | 'fc'>;
  /** Replaces accuracy on evalData (returns accuracy in [0, 1]); for tests and custom metrics. */
  evaluate?: (model: Model, point: RatioPoint) => Promise<number>;
  /** Replaces fine-tuning on `data`. */
  fineTuneModel?: (model: Model, point: RatioPoint) => Promise<Model>;
  /** Measure inference time on evalData before and after (default true when evalData is given). */
  measureTime?: boolean;
  /** Timed passes per model (default 3). */
  timeRepeats?: number;
  runtime?: RuntimeOptions;
  onSearchProgress?: (p: SearchProgress) => void;
}

/** Before/after pair with after/before. */
export interface Compared { before: number; after: number; ratio: number }

/** What `prune` did, JSON-able. Accuracies are fractions in [0, 1]; drop is in accuracy points. */
export interface PruneReport {
  rank: string;
  ratios: RatioPoint;
  accuracy: { before: number | null; after: number | null; drop: number | null };
  parameters: Compared;
  storedBytes: Compared;
  /** Multiply-accumulates per image. */
  macs: Compared;
  /** Milliseconds per inference pass over evalData (median of timeRepeats); null when not measured. */
  timeMs: { before: number; after: number; ratio: number } | null;
  epochs: number;
  /** Per pruned layer: channels before, kept, removed (count), residual group. */
  layers: { layer: string; kind: 'conv' | 'dense'; channels: number; kept: number; removed: number; group?: string[] }[];
  skipped: SkippedLayer[];
  fineTune: { bestEpoch: number; history: EpochRecord[] } | null;
  search: { threshold: number; strategy: string; evaluations: number; rows: SearchRow[]; grid: SearchRow[] } | null;
}

function compared(before: number, after: number): Compared {
  return { before, after, ratio: before ? after / before : 0 };
}

/**
 * Prunes `model` by `scores` at fixed ratios (`conv`, `fc`) or at the ratios a search finds
 * (`search`), fine-tunes it on `data` (`epochs`, default 10, SGD lr 0.001) and measures it on
 * `evalData`. Returns the pruned model and a JSON-able report. The input model is not modified.
 */
export async function prune(model: Model, opts: PruneOptions): Promise<{ model: Model; report: PruneReport }> {
  refuseStoredFormats(model, 'prune');
  check(opts && opts.scores, 'Pruning needs scores (per channel / neuron); compute them with "flipguard rank" or l1Scores.');
  const epochs = opts.epochs ?? 10;
  check(Number.isInteger(epochs) && epochs >= 0, `The fine-tuning epochs must be a whole number ≥ 0, got ${epochs}.`);
  const searching = !!opts.search;
  if (!searching && (opts.conv === undefined || opts.fc === undefined)) {
    throw new FlipguardError('Give both pruning ratios (conv and fc, each from 0 to 1) or ask for a ratio search.');
  }
  if (epochs > 0 && !opts.fineTuneModel && !opts.data) {
    throw new FlipguardError('Fine-tuning after pruning needs the training set (data); pass it, or epochs: 0 to skip fine-tuning.');
  }
  const canEvaluate = !!(opts.evaluate || opts.evalData);
  const evalFn = opts.evaluate ?? (async (m: Model) => (await evaluateModel(m, opts.evalData!, opts.runtime)).accuracy);
  const rank = opts.rank ?? opts.scores.method;

  let pruned: Model;
  let ratios: RatioPoint;
  let before: number | null = null, after: number | null = null;
  let removedInfo;
  let fineTuneInfo: PruneReport['fineTune'] = null;
  let searchInfo: PruneReport['search'] = null;

  if (searching) {
    const s = typeof opts.search === 'object' ? opts.search : {};
    const res = await searchRatios(model, {
      ...s, scores: opts.scores, prune: opts.prune, trainData: opts.data, evalData: opts.evalData, epochs,
      fineTune: opts.fineTune, runtime: opts.runtime, fineTuneModel: opts.fineTuneModel, evaluate: opts.evaluate,
      onProgress: opts.onSearchProgress,
    });
    pruned = res.model;
    ratios = { conv: res.chosen.conv, fc: res.chosen.fc };
    before = res.baseline.accuracy;
    after = res.chosen.accuracy;
    removedInfo = res.pruned;
    searchInfo = { threshold: res.threshold, strategy: res.strategy, evaluations: res.evaluations, rows: res.rows, grid: res.grid };
  } else {
    ratios = { conv: opts.conv!, fc: opts.fc! };
    const pr = pruneChannels(model, { ...opts.prune, scores: opts.scores, ...ratios });
    removedInfo = pr;
    if (canEvaluate) before = await evalFn(model, { conv: 0, fc: 0 });
    pruned = pr.model;
    if (opts.fineTuneModel) pruned = await opts.fineTuneModel(pr.model, ratios);
    else if (epochs > 0) {
      const t = await fineTune(pr.model, opts.data!, { evalData: opts.evalData, ...opts.runtime, ...opts.fineTune, epochs });
      pruned = t.model;
      fineTuneInfo = { bestEpoch: t.bestEpoch, history: t.history };
    }
    if (canEvaluate) after = await evalFn(pruned, ratios);
  }

  const c0 = countModel(model), c1 = countModel(pruned);
  let timeMs: PruneReport['timeMs'] = null;
  if (opts.evalData && (opts.measureTime ?? true)) {
    const [t0, t1] = await timeInferenceMany([model, pruned], opts.evalData, { ...opts.runtime, repeats: opts.timeRepeats ?? 3 });
    timeMs = { before: t0.msPerPass, after: t1.msPerPass, ratio: t1.msPerPass / t0.msPerPass };
  }
  const report: PruneReport = {
    rank,
    ratios,
    accuracy: { before, after, drop: before !== null && after !== null ? 100 * (before - after) : null },
    parameters: compared(c0.parameters, c1.parameters),
    storedBytes: compared(c0.storedBytes, c1.storedBytes),
    macs: compared(c0.macs, c1.macs),
    timeMs,
    epochs,
    layers: removedInfo.removed.map((r) => ({ layer: r.layer, kind: r.kind, channels: r.channels, kept: r.kept.length, removed: r.removed.length, ...(r.group ? { group: r.group } : {}) })),
    skipped: removedInfo.skipped,
    fineTune: fineTuneInfo,
    search: searchInfo,
  };
  return { model: pruned, report };
}
