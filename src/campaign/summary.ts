/**
 * Per-BER summaries of trial records, shared by the runner, shard merging and reports.
 */
import { confidenceInterval, halfWidth, mean, std } from './stats.js';
import { readPartialInfo, type GoldenResult, type PartialInfo, type TrialRecord } from './records.js';
import { FieldError, arr, at, num, numOrNull, obj, optStr, pair, type Obj } from '../util/validate.js';

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

// ───────────────────────────── the summary file ─────────────────────────────

/** Per-BER statistics of a campaign, as in a campaign summary JSON. */
export interface BerStats {
  /** Bit error rate (probability per stored bit). */
  ber: number;
  /** Trials summarised. */
  trials: number;
  /** Mean accuracy drop, percentage points. */
  meanDrop: number;
  /** Sample standard deviation of the drop, percentage points. */
  stdDrop: number;
  /** 95 % Student-t confidence interval of the mean drop, percentage points; null ends below 2 trials. */
  ci95: [number | null, number | null];
  /** Mean SDC rate, in [0, 1]. */
  meanSdc: number;
  /** Mean DUE rate, in [0, 1]. */
  meanDue: number;
  /** Trials per second of wall time (null when not measured). */
  trialsPerSecond: number | null;
  /** Optional: 95 % confidence interval of the mean SDC rate, in [0, 1]. */
  ci95Sdc?: [number | null, number | null];
  /** Optional: mean faulty accuracy, in [0, 1]. */
  meanAccuracy?: number;
  /** Optional: mean number of faults per trial. */
  meanFaults?: number;
  /** Optional: whether the margin rule cut the trials short. */
  stoppedEarly?: boolean;
}

/**
 * Campaign summary JSON (`flipguard inject --json`, `summaryJson`; read by the report and sweeps):
 * `{"golden": {"accuracy"}, "bers": [BerStats...], "model"?, "variant"?, "config"?}`.
 * Extra fields (e.g. the runner's `records`) are allowed and ignored.
 */
export interface CampaignSummaryFile {
  golden: { accuracy: number; [k: string]: unknown };
  bers: BerStats[];
  /** Model name or fingerprint. */
  model?: string;
  /** Name of the model variant (e.g. "baseline", "tmr-10%"); default: the file name. */
  variant?: string;
  config?: Record<string, unknown>;
  /** Set (with `missing`) by a merge made with --partial: shards or trials are missing. */
  partial?: boolean;
  missing?: PartialInfo;
}

function readBerStats(v: unknown, f: string): BerStats {
  const o = obj(v, f);
  const s: BerStats = {
    ber: num(o.ber, `${f}.ber`, [0, 1]),
    trials: num(o.trials, `${f}.trials`, [0, Number.MAX_SAFE_INTEGER]),
    meanDrop: num(o.meanDrop, `${f}.meanDrop`),
    stdDrop: num(o.stdDrop, `${f}.stdDrop`, [0, Infinity]),
    ci95: pair(o.ci95, `${f}.ci95`),
    meanSdc: num(o.meanSdc, `${f}.meanSdc`, [0, 1]),
    meanDue: num(o.meanDue, `${f}.meanDue`, [0, 1]),
    trialsPerSecond: o.trialsPerSecond === undefined ? null : numOrNull(o.trialsPerSecond, `${f}.trialsPerSecond`),
  };
  if (o.ci95Sdc !== undefined) s.ci95Sdc = pair(o.ci95Sdc, `${f}.ci95Sdc`);
  if (o.meanAccuracy !== undefined && o.meanAccuracy !== null) s.meanAccuracy = num(o.meanAccuracy, `${f}.meanAccuracy`, [0, 1]);
  if (o.meanFaults !== undefined && o.meanFaults !== null) s.meanFaults = num(o.meanFaults, `${f}.meanFaults`);
  if (typeof o.stoppedEarly === 'boolean') s.stoppedEarly = o.stoppedEarly;
  return s;
}

/** Reads a campaign summary JSON (`CampaignSummaryFile`); throws a FieldError naming the first bad field. */
export function readSummaryFile(o: Obj): CampaignSummaryFile {
  const golden = obj(o.golden, 'golden');
  const accuracy = num(golden.accuracy, 'golden.accuracy', [0, 1]);
  const bers = arr(o.bers, 'bers', true).map((b, i) => readBerStats(b, at('bers', i)));
  const seen = new Set<number>();
  for (const [i, b] of bers.entries()) {
    if (seen.has(b.ber)) throw new FieldError(at('bers', i), `repeats BER ${b.ber}`);
    seen.add(b.ber);
  }
  const out: CampaignSummaryFile = { golden: { ...golden, accuracy }, bers };
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  if (o.config !== undefined && o.config !== null) out.config = obj(o.config, 'config');
  if (o.partial !== undefined && o.partial !== false) {
    if (o.partial !== true) throw new FieldError('partial', 'is not true or false');
    out.partial = true;
    out.missing = readPartialInfo(o.missing, 'missing');
  }
  return out;
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
  } satisfies CampaignSummaryFile;
}

