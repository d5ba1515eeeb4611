/**
 * Joining shard outputs of one campaign into the result of one run.
 *
 * A merge is only exact when it is complete, so it checks that the files are shards i/n of one
 * campaign (same n, each i exactly once, the same configuration, fault-free result, BERs, trials and
 * margin rule) and that each file holds all of its cells with no torn line. With `partial` it merges
 * what is there and says so: the result carries `partial` (missing shards and trials), which the
 * summary JSON, the CLI table, a merged record file's header and the report all show.
 */
import { existsSync } from 'node:fs';
import { FlipguardError, opt } from '../errors.js';
import {
  CAMPAIGN_FORMAT, FLIPGUARD_VERSION, canonicalOrder, cellKey, configDifferences, effectiveRun, readCampaignFile, RecordWriter,
  type CampaignConfig, type CampaignHeader, type GoldenResult, type PartialInfo, type RunInfo, type TrialRecord,
} from './records.js';
import { applyMargin, DEFAULT_MIN_TRIALS, stoppingPoint, summarize, type CampaignSummary } from './summary.js';

export interface MergeOptions {
  /** Write the merged campaign here (header + records in canonical order); must not exist yet. */
  out?: string;
  /** Early-stop margin to apply (default: the files' own). */
  margin?: number | null;
  minTrials?: number;
  /**
   * Merge even when shards or trials are missing or a file ends in a torn line; the result is
   * marked partial. Files of different campaigns or options, and a shard given twice, are refused
   * regardless.
   */
  partial?: boolean;
}

export interface MergeResult extends CampaignSummary {
  config: CampaignConfig;
  /** Records in canonical order (BER ascending, then trial), after the margin rule. */
  records: TrialRecord[];
  /** Set when `partial` let an incomplete set through: what is missing. */
  partial?: PartialInfo;
}

/** "3-5,9" for [3, 4, 5, 9] (sorted input). */
function ranges(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** The first run option in which `b` differs from `a`, as "has X but … has Y" parts, or undefined. */
function runDifference(a: RunInfo, b: RunInfo): [string, string] | undefined {
  if (!sameSet(a.bers, b.bers)) return [`BERs ${b.bers.join(',')}`, a.bers.join(',')];
  if (a.trials !== b.trials) return [`${opt('trials')} ${b.trials}`, String(a.trials)];
  if (a.margin !== b.margin) return [`${opt('margin')} ${b.margin ?? 'none'}`, String(a.margin ?? 'none')];
  if (a.minTrials !== b.minTrials) return [`minTrials ${b.minTrials}`, String(a.minTrials)];
  return undefined;
}

interface ShardFile {
  path: string;
  header: CampaignHeader;
  run: RunInfo;
  index: number;
  records: TrialRecord[];
  torn: boolean;
}

/** Missing trials listed per BER at most (the count is always exact). */
const LISTED = 20;

/** Missing trials of one BER: how many, and the first `LISTED` of them (ascending). */
interface Missing { count: number; first: number[] }

/** Trials index, index + step, … below `trials`: how many. */
const owned = (index: number, step: number, trials: number): number => (trials > index ? Math.ceil((trials - index) / step) : 0);

/**
 * The missing trials of `f`'s cells, per BER. An unsharded file whose margin rule stopped a BER
 * early is complete there (the rule needs trials 0…n−1, which it then holds). Counted from the
 * records (valid, owned and unique: see readCampaignFile), so a header claiming 10^15 trials costs
 * no more than its records plus `LISTED` steps.
 */
function missingIn(f: ShardFile, count: number): Map<number, Missing> {
  const have = new Set(f.records.map((r) => cellKey(r.ber, r.trial)));
  const byBer = new Map<number, TrialRecord[]>();
  for (const r of f.records) { const l = byBer.get(r.ber); if (l) l.push(r); else byBer.set(r.ber, [r]); }
  const out = new Map<number, Missing>();
  for (const ber of f.run.bers) {
    const present = byBer.get(ber) ?? [];
    if (count === 1 && f.run.margin !== null && stoppingPoint(canonicalOrder(present), f.run.margin, f.run.minTrials) !== undefined) continue;
    const miss = owned(f.index, count, f.run.trials) - present.length;
    if (miss === 0) continue;
    const first: number[] = [];
    for (let t = f.index; t < f.run.trials && first.length < LISTED; t += count) if (!have.has(cellKey(ber, t))) first.push(t);
    out.set(ber, { count: miss, first });
  }
  return out;
}

/** Adds `m` to the missing trials of `ber` in `acc`, keeping the first `LISTED`. */
function addMissing(acc: Map<number, Missing>, ber: number, m: Missing): void {
  const prev = acc.get(ber);
  const first = [...(prev?.first ?? []), ...m.first].sort((a, b) => a - b).slice(0, LISTED);
  acc.set(ber, { count: (prev?.count ?? 0) + m.count, first });
}

/**
 * Merges the shard outputs of one campaign (see the file comment for what is checked). The result —
 * records in canonical order and summary — equals that of one unsharded run. Every record is
 * validated against its file's header as it is read (see `readCampaignFile`). Throws one
 * FlipguardError sentence naming what is missing or different; nothing is written then.
 */
export function mergeRuns(files: readonly string[], opts: MergeOptions = {}): MergeResult {
  if (files.length === 0) throw new FlipguardError('No campaign files were given to merge; pass at least one output file.');
  if (opts.out && existsSync(opts.out)) throw new FlipguardError(`The merge output "${opts.out}" already exists; give a new file name (flipguard never overwrites results).`);
  const shards: ShardFile[] = [];
  for (const path of files) {
    const f = readCampaignFile(path);
    if (!f.header) throw new FlipguardError(`"${path}" holds no campaign header (it is empty or was cut short before the golden run finished); rerun that shard or leave the file out.`);
    const run = effectiveRun(f);
    if (run.partial) throw new FlipguardError(`"${path}" is itself a partial merge; merge the shard files it was made from instead.`);
    shards.push({ path, header: f.header, run, index: run.shard?.index ?? 0, records: f.records, torn: f.torn });
  }
  const first = shards[0];
  const n = first.run.shard?.count ?? 1;
  const name = (s: ShardFile): string => (n === 1 ? 'the unsharded run' : `shard ${s.index}/${n}`);
  for (const s of shards.slice(1)) {
    const diff = configDifferences(first.header.config, s.header.config);
    if (diff.length) throw new FlipguardError(`"${s.path}" and "${first.path}" are campaigns with different configurations (${diff.join(', ')} differ); merge only shards of one campaign.`);
    const a = first.header.golden;
    const b = s.header.golden;
    if (a.correct !== b.correct || a.count !== b.count || a.due !== b.due) {
      throw new FlipguardError(`"${s.path}" and "${first.path}" disagree on the fault-free result (${b.correct}/${b.count} vs ${a.correct}/${a.count}); rerun the shards on the same runtime.`);
    }
    const d = runDifference(first.run, s.run);
    if (d) throw new FlipguardError(`"${s.path}" has ${d[0]} but "${first.path}" has ${d[1]}; merge only shards run with the same options.`);
    const sn = s.run.shard?.count ?? 1;
    if (sn !== n) {
      const what = (x: ShardFile, c: number): string => (c === 1 ? 'a whole run (no shard)' : `shard ${x.index}/${c}`);
      throw new FlipguardError(`"${s.path}" is ${what(s, sn)} but "${first.path}" is ${what(first, n)}; merge the shards of one split (the same shard count n in every i/n).`);
    }
  }
  const byIndex = new Map<number, ShardFile>();
  for (const s of shards) {
    const prev = byIndex.get(s.index);
    if (prev) throw new FlipguardError(`${name(s)} is given twice ("${prev.path}" and "${s.path}"); pass each shard once.`);
    byIndex.set(s.index, s);
  }
  // completeness: every shard, every cell of each, no torn line
  const missingShards: number[] = [];
  for (let i = 0; i < n; i++) if (!byIndex.has(i)) missingShards.push(i);
  const missing = new Map<number, Missing>();
  const problems: string[] = [];
  if (missingShards.length) problems.push(`${missingShards.map((i) => `shard ${i}/${n}`).join(', ')} ${missingShards.length === 1 ? 'is' : 'are'} missing`);
  for (const s of shards) {
    const m = missingIn(s, n);
    const total = [...m.values()].reduce((k, x) => k + x.count, 0);
    if (s.torn) problems.push(`"${s.path}" ends in a torn line (its campaign was stopped while writing)`);
    if (total) {
      const [ber, x] = [...m][0];
      problems.push(`"${s.path}" (${name(s)}) lacks ${total} of its trials (first: BER ${ber} trial ${x.first[0]})`);
    }
    for (const [ber, x] of m) addMissing(missing, ber, x);
  }
  for (const i of missingShards) {
    for (const ber of first.run.bers) {
      const first20: number[] = [];
      for (let t = i; t < first.run.trials && first20.length < LISTED; t += n) first20.push(t);
      addMissing(missing, ber, { count: owned(i, n, first.run.trials), first: first20 });
    }
  }
  if (problems.length && !opts.partial) {
    throw new FlipguardError(`The merge is incomplete: ${problems.join('; ')}; resume or rerun what is missing with the same command, or pass ${opt('partial')} to merge what is there, marked partial.`);
  }
  const partial: PartialInfo | undefined = problems.length ? {
    missingShards: missingShards.map((i) => `${i}/${n}`),
    missingTrials: [...missing].sort((a, b) => a[0] - b[0]).map(([ber, m]) => ({ ber, count: m.count, trials: ranges(m.first) + (m.count > m.first.length ? ',…' : '') })),
  } : undefined;

  const run = first.run;
  const margin = opts.margin !== undefined ? opts.margin : run.margin;
  const minTrials = opts.minTrials ?? run.minTrials ?? DEFAULT_MIN_TRIALS;
  const golden: GoldenResult = first.header.golden;
  const records = canonicalOrder(applyMargin(shards.flatMap((s) => s.records), { margin, minTrials }).records);
  const summary = summarize(records, { golden, margin, minTrials });
  if (opts.out) {
    const merged: RunInfo = { bers: run.bers, trials: run.trials, margin, minTrials, shard: null };
    if (partial) merged.partial = partial;
    const w = RecordWriter.open(opts.out, {
      header: { flipguard: 'campaign', format: CAMPAIGN_FORMAT, version: FLIPGUARD_VERSION, config: first.header.config, golden, run: merged },
    });
    try { for (const r of records) w.write(r); } finally { w.close(); }
  }
  const result: MergeResult = { ...summary, config: first.header.config, records };
  if (partial) result.partial = partial;
  return result;
}

/** One line saying what a partial merge lacks ("PARTIAL: shard 1/2 missing; 35 trials missing …"). */
export function partialNote(p: PartialInfo): string {
  const shards = p.missingShards.length ? `shard${p.missingShards.length > 1 ? 's' : ''} ${p.missingShards.join(', ')} missing; ` : '';
  const trials = p.missingTrials.map((m) => `BER ${m.ber}: ${m.count} (${m.trials})`).join(', ');
  return `PARTIAL: ${shards}trials missing per BER: ${trials || 'none (a torn line was dropped)'}`;
}
