/**
 * Ratio search (SPEC §5): find the pruning ratios (p_conv, p_fc) on a grid that minimise MACs per
 * image (ties: parameters) while the test accuracy of the pruned, fine-tuned model stays within
 * `threshold` accuracy points of the unpruned model.
 *
 * Every grid point is pruned and counted first (cheap: no inference). Then points are evaluated
 * (prune → fine-tune → evaluate) by one of three strategies:
 *
 * - 'staircase' (default). Assumes accuracy falls monotonically with both ratios: if (a, b) fails,
 *   every (a', b') with a' ≥ a and b' ≥ b fails; if (a, b) passes, every smaller point passes.
 *   It walks the boundary of the accepted region (saddleback search): start at the smallest
 *   p_conv and the largest p_fc; a failure lowers p_fc, an acceptance raises p_conv. At most
 *   |conv grid| + |fc grid| − 1 evaluations; the other points' outcomes are inferred (reported as
 *   'inferred-accepted' / 'inferred-rejected'). Under the assumption the result is the grid
 *   optimum, because the fewest-MAC accepted point lies on that boundary.
 * - 'ordered'. No assumption: points in order of increasing MACs (decreasing size reduction); the
 *   first accepted point is the grid optimum, so the search stops there.
 * - 'exhaustive'. Every point, in the same order (for plots of the whole trade-off).
 *
 * Points that prune exactly the same channels as one already evaluated (small layers round
 * ⌊p·C⌋ to the same count) reuse its result; points that remove nothing are the baseline.
 * Accuracy is a fraction in [0, 1]; `threshold` and `drop` are in accuracy points (percentage
 * points: drop = 100·(baseline − accuracy)).
 */
import { refuseStoredFormats } from '../formats/dequantize.js';
import { check, FlipguardError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { countModel } from '../graph/count.js';
import type { Model } from '../graph/types.js';
import { checkRatio, type Scores } from '../analysis/scores.js';
import { evaluate as evaluateModel, type ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { fineTune, type FineTuneOptions } from './finetune.js';
import { pruneChannels, type PruneChannelsOptions, type PruneChannelsResult } from './structured.js';

export interface RatioPoint { conv: number; fc: number }

export type SearchStatus = 'baseline' | 'accepted' | 'rejected' | 'inferred-accepted' | 'inferred-rejected' | 'not-evaluated';

/** One grid point. JSON-able. */
export interface SearchRow {
  conv: number;
  fc: number;
  /** Test accuracy in [0, 1] after pruning and fine-tuning; null when not evaluated. */
  accuracy: number | null;
  /** 100·(baseline − accuracy), accuracy points; null when not evaluated. */
  drop: number | null;
  parameters: number;
  macs: number;
  /** Wall time to prune, fine-tune and evaluate this point (ms); null when not evaluated or reused. */
  timeMs: number | null;
  status: SearchStatus;
  /** Whether the point keeps accuracy within the threshold (inferred ones included); null if unknown. */
  accepted: boolean | null;
  /** The point whose result this one reuses (same channels removed). */
  sameAs?: RatioPoint;
}

export interface SearchProgress {
  /** Evaluations done (fine-tune + evaluate runs). */
  evaluations: number;
  /** Upper bound on the evaluations this strategy makes. */
  maxEvaluations: number;
  row: SearchRow;
  best: SearchRow;
}

/** The grid paper A's search ranges over (our choice; the paper does not list its grid). */
export const DEFAULT_CONV_RATIOS: readonly number[] = Object.freeze([0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]);
export const DEFAULT_FC_RATIOS: readonly number[] = Object.freeze([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);

export interface RatioSearchOptions {
  /** Channel / neuron scores, higher = keep (see pruneChannels). */
  scores: Scores;
  /** p_conv values to try, each in [0, 1] (default DEFAULT_CONV_RATIOS). */
  convRatios?: readonly number[];
  /** p_fc values to try, each in [0, 1] (default DEFAULT_FC_RATIOS). */
  fcRatios?: readonly number[];
  /** Largest accepted accuracy drop, in accuracy points (default 1). */
  threshold?: number;
  strategy?: 'staircase' | 'ordered' | 'exhaustive';
  /** Stop after this many evaluations (the best accepted point so far is chosen). */
  maxEvaluations?: number;
  /** Other pruning options (minKeep, layers, residual, groupScore, skipUnprunable). */
  prune?: Omit<PruneChannelsOptions, 'scores' | 'conv' | 'fc'>;
  /** Training set for the default fine-tuning. */
  trainData?: Dataset;
  /** Test set for the default evaluation (and the fine-tuning's best checkpoint). */
  evalData?: ImageSet;
  /** Fine-tuning epochs per point (default 10; 0 = no fine-tuning). */
  epochs?: number;
  /** Further fine-tuning options (lr, momentum, schedule, batch, seed, maxStepsPerEpoch, …). */
  fineTune?: Omit<FineTuneOptions, 'epochs'>;
  /** Runtime options for the default evaluation. */
  runtime?: RuntimeOptions;
  /** Replaces the default fine-tuning (fineTune on trainData). */
  fineTuneModel?: (model: Model, point: RatioPoint) => Promise<Model>;
  /** Replaces the default evaluation (accuracy on evalData); returns accuracy in [0, 1]. */
  evaluate?: (model: Model, point: RatioPoint) => Promise<number>;
  /** Accuracy of the unpruned model in [0, 1]; measured with `evaluate` when not given. */
  baselineAccuracy?: number;
  onProgress?: (p: SearchProgress) => void;
}

export interface RatioSearchResult {
  baseline: { accuracy: number; parameters: number; macs: number };
  threshold: number;
  strategy: 'staircase' | 'ordered' | 'exhaustive';
  /** Evaluated points (including reused ones), in exploration order. */
  rows: SearchRow[];
  /** Every grid point, p_conv-major, with its status. */
  grid: SearchRow[];
  /** The accepted point with the fewest MACs (ties: parameters; then smaller ratios); the baseline if none. */
  chosen: SearchRow;
  /** The chosen point's pruned and fine-tuned model (the input model for the baseline). */
  model: Model;
  /** The chosen point's pruning record. */
  pruned: PruneChannelsResult;
  /** Number of fine-tune + evaluate runs made. */
  evaluations: number;
}

/** A ratio grid: at least one value, each a share from 0 to 1 (checkRatio; `what` is 'conv' or 'fc', the option is `${what}Ratios`). */
function checkGrid(values: readonly number[], what: string): number[] {
  check(Array.isArray(values) && values.length > 0, `The ${what} ratio grid must list at least one value.`);
  for (const v of values) checkRatio(v, `${what}Ratios`);
  return [...new Set(values)].sort((a, b) => a - b);
}

interface Candidate {
  i: number;
  j: number;
  row: SearchRow;
  signature: string;
  pruned?: PruneChannelsResult;
  model?: Model;
}

/**
 * Searches the (p_conv, p_fc) grid for the smallest model (fewest MACs, then parameters) whose
 * accuracy stays within `threshold` points of the unpruned model; see the module comment for the
 * strategies. The default evaluation fine-tunes each point on `trainData` (`epochs`, default 10)
 * and measures accuracy on `evalData`; `fineTuneModel` and `evaluate` replace those steps.
 */
export async function searchRatios(model: Model, opts: RatioSearchOptions): Promise<RatioSearchResult> {
  refuseStoredFormats(model, 'prune');
  const convs = checkGrid(opts.convRatios ?? DEFAULT_CONV_RATIOS, 'conv');
  const fcs = checkGrid(opts.fcRatios ?? DEFAULT_FC_RATIOS, 'fc');
  const threshold = opts.threshold ?? 1;
  check(typeof threshold === 'number' && Number.isFinite(threshold) && threshold >= 0, `The accuracy threshold must be a number of points ≥ 0, got ${threshold}.`);
  const strategy = opts.strategy ?? 'staircase';
  check(['staircase', 'ordered', 'exhaustive'].includes(strategy), `Unknown search strategy "${strategy}"; use staircase, ordered or exhaustive.`);
  const epochs = opts.epochs ?? 10;
  check(Number.isInteger(epochs) && epochs >= 0, `The fine-tuning epochs must be a whole number ≥ 0, got ${epochs}.`);
  if (opts.maxEvaluations !== undefined) check(Number.isInteger(opts.maxEvaluations) && opts.maxEvaluations >= 0, `maxEvaluations must be a whole number ≥ 0, got ${opts.maxEvaluations}.`);
  if (!opts.evaluate && !opts.evalData) throw new FlipguardError('The ratio search needs test data (evalData) to measure accuracy, or an evaluate function.');
  if (epochs > 0 && !opts.fineTuneModel && !opts.trainData) throw new FlipguardError('The ratio search fine-tunes each pruned model and needs training data (trainData); pass it, or epochs: 0 to skip fine-tuning.');

  const evalFn = opts.evaluate ?? (async (m: Model) => (await evaluateModel(m, opts.evalData!, opts.runtime)).accuracy);
  const tuneFn = opts.fineTuneModel ?? (epochs > 0
    ? async (m: Model) => (await fineTune(m, opts.trainData!, { evalData: opts.evalData, ...opts.runtime, ...opts.fineTune, epochs })).model
    : async (m: Model) => m);

  const base = countModel(model);
  const baselineAccuracy = opts.baselineAccuracy ?? await evalFn(model, { conv: 0, fc: 0 });
  check(Number.isFinite(baselineAccuracy) && baselineAccuracy >= 0 && baselineAccuracy <= 1, `The baseline accuracy must be in [0, 1], got ${baselineAccuracy}.`);

  // prune and count every grid point
  const cands: Candidate[][] = convs.map((conv, i) => fcs.map((fc, j) => {
    const pr = pruneChannels(model, { ...opts.prune, scores: opts.scores, conv, fc });
    const c = pr.removed.some((r) => r.removed.length) ? countModel(pr.model) : base;
    const signature = pr.removed.map((r) => r.removed.length).join(',');
    const row: SearchRow = { conv, fc, accuracy: null, drop: null, parameters: c.parameters, macs: c.macs, timeMs: null, status: 'not-evaluated', accepted: null };
    return { i, j, row, signature };
  }));
  const all = cands.flat();
  const baselineSig = all[0].signature.replace(/\d+/g, '0');
  const baseRow: SearchRow = { conv: 0, fc: 0, accuracy: baselineAccuracy, drop: 0, parameters: base.parameters, macs: base.macs, timeMs: null, status: 'baseline', accepted: true };

  const rows: SearchRow[] = [];
  const bySignature = new Map<string, Candidate>();
  let evaluations = 0;
  const limit = opts.maxEvaluations ?? Infinity;
  const upper = Math.min(limit, strategy === 'staircase' ? convs.length + fcs.length - 1 : all.length);
  let best: Candidate | undefined;
  const better = (a: SearchRow, b: SearchRow) => (a.macs - b.macs || a.parameters - b.parameters || a.conv - b.conv || a.fc - b.fc) < 0;
  const bestRow = () => (best ? best.row : baseRow);

  /** Evaluates (or reuses) a candidate; returns whether it is accepted, undefined when out of budget. */
  const visit = async (c: Candidate): Promise<boolean | undefined> => {
    if (c.row.accepted !== null && c.row.status !== 'inferred-accepted' && c.row.status !== 'inferred-rejected') return c.row.accepted;
    if (c.signature === baselineSig) {
      Object.assign(c.row, { accuracy: baselineAccuracy, drop: 0, status: 'baseline', accepted: true });
      rows.push(c.row);
      return true;
    }
    const prev = bySignature.get(c.signature);
    if (prev) {
      Object.assign(c.row, { accuracy: prev.row.accuracy, drop: prev.row.drop, status: prev.row.status, accepted: prev.row.accepted, sameAs: { conv: prev.row.conv, fc: prev.row.fc } });
      c.model = prev.model;
      c.pruned = prev.pruned;
    } else {
      if (evaluations >= limit) return undefined;
      const t0 = performance.now();
      const point = { conv: c.row.conv, fc: c.row.fc };
      const pr = pruneChannels(model, { ...opts.prune, scores: opts.scores, ...point });
      const tuned = await tuneFn(pr.model, point);
      const acc = await evalFn(tuned, point);
      check(Number.isFinite(acc) && acc >= 0 && acc <= 1, `The evaluation of point conv ${point.conv}, fc ${point.fc} returned accuracy ${acc}, outside [0, 1].`);
      evaluations++;
      const drop = 100 * (baselineAccuracy - acc);
      const accepted = drop <= threshold + 1e-9;
      Object.assign(c.row, { accuracy: acc, drop, timeMs: performance.now() - t0, status: accepted ? 'accepted' : 'rejected', accepted });
      c.pruned = pr;
      c.model = accepted ? tuned : undefined;
      bySignature.set(c.signature, c);
    }
    rows.push(c.row);
    // only the best accepted model is kept (a reused point whose model was dropped is an identical
    // network with the same result as the kept best, so it never needs to replace it)
    if (c.row.accepted && c.model && (!best || better(c.row, best.row))) {
      if (best && best.model !== c.model) best.model = undefined;
      best = c;
    } else if (c !== best && c.model !== best?.model) c.model = undefined;
    opts.onProgress?.({ evaluations, maxEvaluations: upper, row: c.row, best: bestRow() });
    return c.row.accepted!;
  };

  const order = [...all].sort((a, b) => a.row.macs - b.row.macs || a.row.parameters - b.row.parameters || a.row.conv - b.row.conv || a.row.fc - b.row.fc);
  if (strategy === 'staircase') {
    let i = 0, j = fcs.length - 1;
    while (i < convs.length && j >= 0) {
      const ok = await visit(cands[i][j]);
      if (ok === undefined) break;
      if (ok) i++; else j--;
    }
    // infer the rest from monotonicity
    const evaluated = all.filter((c) => c.row.status === 'accepted' || c.row.status === 'rejected' || c.row.status === 'baseline');
    for (const c of all) {
      if (c.row.accepted !== null) continue;
      if (evaluated.some((e) => e.row.accepted && e.i >= c.i && e.j >= c.j)) Object.assign(c.row, { status: 'inferred-accepted', accepted: true });
      else if (evaluated.some((e) => e.row.accepted === false && e.i <= c.i && e.j <= c.j)) Object.assign(c.row, { status: 'inferred-rejected', accepted: false });
    }
  } else {
    for (const c of order) {
      const ok = await visit(c);
      if (ok === undefined) break;
      if (ok && strategy === 'ordered') break;
    }
  }

  const chosen = bestRow();
  let chosenModel = model;
  let chosenPruned: PruneChannelsResult;
  if (best) {
    chosenModel = best.model!;
    chosenPruned = best.pruned!;
  } else {
    chosenPruned = pruneChannels(model, { ...opts.prune, scores: opts.scores, conv: 0, fc: 0 });
  }
  return {
    baseline: { accuracy: baselineAccuracy, parameters: base.parameters, macs: base.macs },
    threshold, strategy, rows, grid: all.map((c) => c.row), chosen, model: chosenModel, pruned: chosenPruned, evaluations,
  };
}
