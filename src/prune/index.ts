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
import { FieldError, arr, at, num, obj, optStr, type Obj } from '../util/validate.js';

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

// ───────────────────────────── the prune report file ─────────────────────────────

/**
 * One explored point of a pruning search as the report reads it. Written as `{pConv, pFc, …}`
 * (an exploration list) or, by the ratio search (`SearchRow`), as `{conv, fc, …, status}`; both are read.
 */
export interface PrunePoint {
  /** Share of conv channels pruned, in [0, 1]. */
  pConv: number;
  /** Share of dense neurons pruned, in [0, 1]. */
  pFc: number;
  /** Top-1 accuracy after pruning (and fine-tuning), in [0, 1]; null when not evaluated. */
  accuracy: number | null;
  /** Parameter count. */
  parameters: number;
  /** Multiply-accumulates per image. */
  macs: number;
  /** Milliseconds the prune command recorded for the point (for a search: prune, fine-tune and evaluate); null when not measured. */
  timeMs: number | null;
  /** Whether the point met the accuracy constraint; null when unknown. */
  accepted: boolean | null;
  /** Search status (baseline, accepted, rejected, inferred-…, not-evaluated), when recorded. */
  status?: string;
}

/** The pruned model against the original, as a `PruneReport` records it. */
export interface PruneOutcome {
  /** Top-1 accuracy in [0, 1] before and after (null when not measured). */
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  parameters: Compared;
  macs: Compared;
  storedBytes?: Compared;
  /** Milliseconds per inference pass, before and after. */
  timeMs?: Compared | null;
}

/**
 * A prune report file as read: what `flipguard prune --json` writes (`PruneReport`: `ratios`,
 * `accuracy`, `parameters`, `macs`, `timeMs`, `search.rows`, …; read with `outcome` filled in and
 * its chosen ratios as `chosen`), or an exploration list `{"explored": [...], "chosen": {...}}`.
 */
export interface PruneReportFile {
  explored: PrunePoint[];
  chosen: PrunePoint | null;
  variant?: string;
  model?: string;
  /** Largest accepted accuracy drop, accuracy points (when recorded). */
  threshold?: number;
  outcome?: PruneOutcome;
}

function readPrunePoint(v: unknown, f: string): PrunePoint {
  const o = obj(v, f);
  if (o.accepted !== null && typeof o.accepted !== 'boolean') throw new FieldError(`${f}.accepted`, 'is missing or not true/false/null');
  // the ratio search writes conv/fc, an exploration list pConv/pFc
  const conv = 'pConv' in o ? 'pConv' : 'conv';
  const fc = 'pFc' in o ? 'pFc' : 'fc';
  const p: PrunePoint = {
    pConv: num(o[conv], `${f}.${conv}`, [0, 1]),
    pFc: num(o[fc], `${f}.${fc}`, [0, 1]),
    accuracy: o.accuracy === null ? null : num(o.accuracy, `${f}.accuracy`, [0, 1]),
    parameters: num(o.parameters, `${f}.parameters`, [0, Infinity]),
    macs: num(o.macs, `${f}.macs`, [0, Infinity]),
    timeMs: o.timeMs === null || o.timeMs === undefined ? null : num(o.timeMs, `${f}.timeMs`, [0, Infinity]),
    accepted: o.accepted as boolean | null,
  };
  if (typeof o.status === 'string') p.status = o.status;
  return p;
}

function readCompared(v: unknown, f: string): Compared {
  const o = obj(v, f);
  const before = num(o.before, `${f}.before`, [0, Infinity]);
  const after = num(o.after, `${f}.after`, [0, Infinity]);
  return { before, after, ratio: o.ratio === undefined || o.ratio === null ? (before > 0 ? after / before : NaN) : num(o.ratio, `${f}.ratio`) };
}

/** A `PruneReport` JSON read as explored points, choice and outcome. */
function readPruneCommandReport(o: Obj): PruneReportFile {
  const ratios = obj(o.ratios, 'ratios');
  const acc = obj(o.accuracy, 'accuracy');
  const accOf = (k: string): number | null => (acc[k] === null || acc[k] === undefined ? null : num(acc[k], `accuracy.${k}`, [0, 1]));
  const outcome: PruneOutcome = {
    accuracyBefore: accOf('before'),
    accuracyAfter: accOf('after'),
    parameters: readCompared(o.parameters, 'parameters'),
    macs: readCompared(o.macs, 'macs'),
  };
  if (o.storedBytes !== undefined && o.storedBytes !== null) outcome.storedBytes = readCompared(o.storedBytes, 'storedBytes');
  outcome.timeMs = o.timeMs === undefined || o.timeMs === null ? null : readCompared(o.timeMs, 'timeMs');
  const chosen: PrunePoint = {
    pConv: num(ratios.conv, 'ratios.conv', [0, 1]), pFc: num(ratios.fc, 'ratios.fc', [0, 1]),
    accuracy: outcome.accuracyAfter, parameters: outcome.parameters.after, macs: outcome.macs.after, timeMs: null, accepted: true,
  };
  const out: PruneReportFile = { explored: [chosen], chosen, outcome };
  if (o.search !== undefined && o.search !== null) {
    const search = obj(o.search, 'search');
    out.explored = arr(search.rows, 'search.rows', true).map((p, i) => readPrunePoint(p, at('search.rows', i)));
    if (search.threshold !== undefined && search.threshold !== null) out.threshold = num(search.threshold, 'search.threshold');
    const c = out.explored.find((e) => e.pConv === chosen.pConv && e.pFc === chosen.pFc);
    if (c) out.chosen = c;
  }
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

/** Reads a prune report JSON (`PruneReport` or an exploration list) as a `PruneReportFile`; throws a FieldError naming the first bad field. */
export function readPruneReportFile(o: Obj): PruneReportFile {
  if (!('explored' in o)) return readPruneCommandReport(o);
  const explored = arr(o.explored, 'explored', true).map((p, i) => readPrunePoint(p, at('explored', i)));
  const chosen = o.chosen === undefined || o.chosen === null ? null : readPrunePoint(o.chosen, 'chosen');
  const out: PruneReportFile = { explored, chosen };
  if (typeof o.threshold === 'number' && Number.isFinite(o.threshold)) out.threshold = o.threshold;
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}
