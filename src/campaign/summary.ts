/**
 * Per-BER summaries of trial records, shared by the runner, shard merging and reports.
 */
import { confidenceInterval, halfWidth, mean, std } from './stats.js';
import type { GoldenResult, PartialInfo, TrialRecord } from './records.js';

export interface BerSummary {
  /** Bit error rate. */
  ber: number;
  /** Trials summarised. */
  trials: number;
  /** Mean accuracy drop, percentage points (golden − faulty, × 100). */
  meanDrop: number;
  /** Sample standard deviation of the drop, percentage points (0 for one trial). */
  stdDrop: number;
  /** 95 % Student-t confidence interval of the mean drop, percentage points ([NaN, NaN] below 2 trials). */
  ci95: [number, number];
  /** Mean SDC rate, in [0, 1]. */
  meanSdc: number;
  stdSdc: number;
  /** 95 % confidence interval of the mean SDC rate. */
  ci95Sdc: [number, number];
  /** Mean DUE rate, in [0, 1]. */
  meanDue: number;
  /** Mean faulty accuracy, in [0, 1]. */
  meanAccuracy: number;
  /** Mean number of faults per trial. */
  meanFaults: number;
  /** Trials per second of wall time spent in trials (from the records' `millis`). */
  trialsPerSecond: number;
  /** Whether the margin rule cut the trials short. */
  stoppedEarly: boolean;
}

export interface CampaignSummary {
  golden: GoldenResult;
  bers: BerSummary[];
}

export interface SummaryOptions {
  /**
   * Early-stop margin in percentage points: per BER, only the first n trials (0…n−1, all present)
   * count, n the smallest ≥ `minTrials` whose 95 % half-width of the drop is below `margin`.
   */
  margin?: number | null;
  /** Fewest trials before the margin rule may stop (default 10). */
  minTrials?: number;
}

export const DEFAULT_MIN_TRIALS = 10;

/**
 * Where the margin rule stops for one BER's records sorted by trial: the number of leading trials
 * kept, or undefined when it has not triggered (yet).
 */
export function stoppingPoint(sorted: readonly TrialRecord[], margin: number, minTrials = DEFAULT_MIN_TRIALS): number | undefined {
  const drops: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].trial !== i) return undefined; // a gap: the rule needs trials 0…n−1
    drops.push(sorted[i].accuracyDrop);
    if (drops.length >= Math.max(2, minTrials) && halfWidth(drops) < margin) return drops.length;
  }
  return undefined;
}

/** Keeps, per BER, the records the margin rule counts (all of them without a margin). */
export function applyMargin(records: readonly TrialRecord[], opts: SummaryOptions = {}): { records: TrialRecord[]; stopped: Set<number> } {
  const byBer = new Map<number, TrialRecord[]>();
  for (const r of records) { const l = byBer.get(r.ber); if (l) l.push(r); else byBer.set(r.ber, [r]); }
  const out: TrialRecord[] = [];
  const stopped = new Set<number>();
  for (const [ber, list] of [...byBer].sort((a, b) => a[0] - b[0])) {
    list.sort((a, b) => a.trial - b.trial);
    let keep = list;
    if (opts.margin !== undefined && opts.margin !== null) {
      const n = stoppingPoint(list, opts.margin, opts.minTrials);
      if (n !== undefined) { keep = list.slice(0, n); stopped.add(ber); }
    }
    out.push(...keep);
  }
  return { records: out, stopped };
}

/** Golden result implied by records (accuracy + drop), when no header is at hand. */
function impliedGolden(records: readonly TrialRecord[]): GoldenResult {
  const r = records[0];
  const acc = r ? r.accuracy + r.accuracyDrop / 100 : NaN;
  return { accuracy: acc, correct: NaN, count: NaN, due: NaN };
}

/**
 * Per-BER statistics of `records` (any order; BERs ascending in the result). With `margin`, the
 * early-stop rule of `SummaryOptions` decides which trials count, so a run that stopped early and
 * one that ran on give the same summary.
 */
export function summarize(records: readonly TrialRecord[], opts: SummaryOptions & { golden?: GoldenResult } = {}): CampaignSummary {
  const { records: kept, stopped } = applyMargin(records, opts);
  const byBer = new Map<number, TrialRecord[]>();
  for (const r of kept) { const l = byBer.get(r.ber); if (l) l.push(r); else byBer.set(r.ber, [r]); }
  const bers: BerSummary[] = [];
  for (const [ber, list] of byBer) {
    const drops = list.map((r) => r.accuracyDrop);
    const sdc = list.map((r) => r.sdcRate);
    const ms = list.reduce((s, r) => s + r.millis, 0);
    bers.push({
      ber, trials: list.length,
      meanDrop: mean(drops), stdDrop: std(drops), ci95: confidenceInterval(drops),
      meanSdc: mean(sdc), stdSdc: std(sdc), ci95Sdc: confidenceInterval(sdc),
      meanDue: mean(list.map((r) => r.dueRate)),
      meanAccuracy: mean(list.map((r) => r.accuracy)),
      meanFaults: mean(list.map((r) => r.faults)),
      trialsPerSecond: ms > 0 ? list.length / (ms / 1000) : Infinity,
      stoppedEarly: stopped.has(ber),
    });
  }
  return { golden: opts.golden ?? impliedGolden(records), bers };
}

/**
 * The summary document `flipguard inject --json` writes and the report reads: golden accuracy and
 * per-BER statistics (drop in percentage points; SDC/DUE as shares), plus any `extra` fields
 * (variant, model, config). A partial merge adds `partial: true` and `missing` (see PartialInfo).
 */
export function summaryJson(s: CampaignSummary & { partial?: PartialInfo }, extra: Record<string, unknown> = {}) {
  return {
    ...extra,
    ...(s.partial ? { partial: true, missing: s.partial } : {}),
    golden: { accuracy: s.golden.accuracy },
    bers: s.bers.map((b) => ({ ber: b.ber, trials: b.trials, meanDrop: b.meanDrop, stdDrop: b.stdDrop, ci95: b.ci95, meanSdc: b.meanSdc, meanDue: b.meanDue, trialsPerSecond: b.trialsPerSecond, meanAccuracy: b.meanAccuracy, meanFaults: b.meanFaults, ci95Sdc: b.ci95Sdc, stoppedEarly: b.stoppedEarly })),
  };
}

