/**
 * Campaign output files: append-only JSON lines.
 *
 * Line 1 is the header: `{"flipguard": "campaign", "format": 1, "version", "config", "golden", "run"}`.
 * `config` identifies what the records are results of (model, data, seed, fault model); a file
 * whose config differs from the one asked for is refused, never appended to. `golden` is the
 * fault-free result. `run` holds the options that choose which cells (BER, trial) exist (BER list,
 * trials, shard) and the margin rule; a resume that asks for more BERs or trials appends a run line
 * `{"flipguard": "run", "run": {...}}` so the file itself always says which cells it may hold.
 * Every further line is one finished trial:
 * `{"ber", "trial", "seed", "faults", "plan", "accuracy", "accuracyDrop", "sdcRate", "dueRate", "millis"}`.
 *
 * Record files may come from someone else, so every line is checked against the header when read:
 * the cell is one of the campaign's and appears once, the per-trial seed is the one derived from the
 * campaign seed, the rates are whole counts of the evaluated images, the drop is golden − accuracy,
 * and (where the model is at hand, see `verifyPlans`) the fault count and plan digest match the plan
 * regenerated from the seed. Files written before records carried `plan` still read: their seed and
 * fault count are checked, the digest is not (there is none to compare).
 *
 * A process killed while writing can leave a torn last line (no final newline); readers ignore it
 * and a resumed campaign cuts it off before appending. Finished lines are never rewritten.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { FlipguardError } from '../errors.js';
import { ioErrorMessage } from '../util/fs-safe.js';
import { FLIPGUARD_VERSION } from '../defaults.js';
import { planDigest, trialSeed, type FaultPlanner } from '../faults/plan.js';
import { arr, at, num, obj, str } from '../util/validate.js';

/** Format of the header and records; part of a file's identity. */
export const CAMPAIGN_FORMAT = 1;
export { FLIPGUARD_VERSION };
/** How every header line starts (JSON.stringify keeps key order). */
const HEADER_START = '{"flipguard":"campaign"';
/** How a run line (the cells asked for grew on resume) starts. */
const RUN_START = '{"flipguard":"run"';

/** What a campaign's records are a pure function of. Two files can share records only if equal. */
export interface CampaignConfig {
  /** SHA-256 of the model's computation (nodes, wiring, all initializer bytes). */
  model: string;
  /** SHA-256 of the float32 parameters (what fault plans are seeded from). */
  params: string;
  data: { name: string; count: number; fingerprint: string };
  /** The `limit` asked for (null: the whole set). */
  limit: number | null;
  seed: number;
  count: 'binomial' | 'floor' | 'fixed';
  /** Number of faults for count 'fixed' (null otherwise). */
  faults: number | null;
  kind: 'flip' | 'stuck0' | 'stuck1';
  /** Selected bits, 0 = mantissa LSB … 31 = sign. */
  bits: number[];
  /** Target filter, normalised. */
  targets: Record<string, (string | number)[]>;
}

export interface GoldenResult {
  /** Top-1 accuracy of the fault-free model, in [0, 1]. */
  accuracy: number;
  correct: number;
  count: number;
  /** Images whose fault-free logits already hold NaN or ±Inf. */
  due: number;
}

/** Which trials are missing from a merge made with `partial` (see merge.ts). */
export interface PartialInfo {
  /** Shards (`i/n`) of which no file was given. */
  missingShards: string[];
  /** Per BER, how many trials are not present and the first 20 of them (ranges such as "3-5,9", then ",…" when more). */
  missingTrials: { ber: number; count: number; trials: string }[];
}

export interface RunInfo {
  bers: number[];
  trials: number;
  margin: number | null;
  minTrials: number;
  shard: { index: number; count: number } | null;
  /** Set only in the output of a merge made with `partial`: what it lacks. */
  partial?: PartialInfo;
}

export interface CampaignHeader {
  flipguard: 'campaign';
  format: number;
  version: string;
  config: CampaignConfig;
  golden: GoldenResult;
  run: RunInfo;
}

/** One finished trial. */
export interface TrialRecord {
  /** Bit error rate (probability per stored bit). */
  ber: number;
  trial: number;
  /** The derived per-trial seed the fault plan was drawn with. */
  seed: number;
  /** Number of faults in the plan (for `floor`, positions drawn twice count twice). */
  faults: number;
  /** `planDigest` of the trial's faults (16 hex digits); absent in files written before digests. */
  plan?: string;
  /** Top-1 accuracy with the faults, in [0, 1]. */
  accuracy: number;
  /** Golden accuracy minus this accuracy, in percentage points. */
  accuracyDrop: number;
  /** Share of images with finite logits whose top-1 differs from the golden top-1, in [0, 1]. */
  sdcRate: number;
  /** Share of images whose logits hold NaN or ±Inf (counted as misclassified), in [0, 1]. */
  dueRate: number;
  /** Wall time of the trial (plan, injection, evaluation), milliseconds. */
  millis: number;
}

export const RECORD_KEYS = ['ber', 'trial', 'seed', 'faults', 'plan', 'accuracy', 'accuracyDrop', 'sdcRate', 'dueRate', 'millis'] as const;

export interface CampaignFile {
  header: CampaignHeader | undefined;
  /** The header's run, then every run line, in file order. */
  runs: RunInfo[];
  /** Every record, validated against the header (see `validateRecord`), in file order. */
  records: TrialRecord[];
  /** 1-based line number of each record, for messages. */
  lines: number[];
  /** Bytes up to and including the last complete line. */
  validBytes: number;
  /** Whether bytes after the last newline were found (a torn last line). */
  torn: boolean;
}

/** What every record of one campaign file must satisfy; derived from its header and run lines. */
export interface RecordRules {
  /** BERs the campaign has asked for. */
  bers: ReadonlySet<number>;
  /** Trials per BER: valid trial indices are 0 … trials − 1. */
  trials: number;
  /** The file's shard: it holds only trials with trial % count === index. */
  shard: { index: number; count: number } | null;
  golden: GoldenResult;
  /** Campaign seed and parameter fingerprint, from which each trial's seed is derived. */
  seed: number;
  params: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBer = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/** Reads the `missing` object of a partial merge (`PartialInfo`) from JSON; throws a FieldError naming the field. */
export function readPartialInfo(v: unknown, f: string): PartialInfo {
  const o = obj(v, f);
  const missingShards = arr(o.missingShards, `${f}.missingShards`).map((x, i) => str(x, at(`${f}.missingShards`, i)));
  const missingTrials = arr(o.missingTrials, `${f}.missingTrials`).map((x, i) => {
    const m = obj(x, at(`${f}.missingTrials`, i));
    return { ber: num(m.ber, `${at(`${f}.missingTrials`, i)}.ber`, [0, 1]), count: num(m.count, `${at(`${f}.missingTrials`, i)}.count`, [0, Number.MAX_SAFE_INTEGER]), trials: str(m.trials, `${at(`${f}.missingTrials`, i)}.trials`) };
  });
  return { missingShards, missingTrials };
}

/** The problem with a header's or run line's `run` object, as a clause, or undefined. */
function runProblem(run: unknown): string | undefined {
  if (!isObj(run)) return 'has no run options';
  if (!Array.isArray(run.bers) || run.bers.length === 0 || !run.bers.every(isBer)) return 'lists no BERs in [0, 1]';
  if (new Set(run.bers).size !== run.bers.length) return 'lists a BER twice';
  if (!isCount(run.trials) || run.trials < 1) return `has trials ${JSON.stringify(run.trials)}, not a whole number ≥ 1`;
  if (run.margin !== null && !(typeof run.margin === 'number' && Number.isFinite(run.margin) && run.margin > 0)) return `has margin ${JSON.stringify(run.margin)}, not a positive number or null`;
  if (!isCount(run.minTrials) || run.minTrials < 2) return `has minTrials ${JSON.stringify(run.minTrials)}, not a whole number ≥ 2`;
  const sh = run.shard;
  if (sh !== null && !(isObj(sh) && isCount(sh.count) && sh.count >= 1 && isCount(sh.index) && sh.index < sh.count)) return `has shard ${JSON.stringify(sh)}, not {index, count} with 0 ≤ index < count`;
  return undefined;
}

/** The problem with a parsed header line, as a clause, or undefined. */
function headerProblem(h: Record<string, unknown>): string | undefined {
  const c = h.config;
  if (!isObj(c)) return 'has no config';
  if (typeof c.seed !== 'number' || !Number.isInteger(c.seed) || c.seed < -2147483648 || c.seed >= 4294967296) return `has seed ${JSON.stringify(c.seed)}, not a 32-bit integer`;
  if (typeof c.params !== 'string' || !/^[0-9a-f]{64}$/.test(c.params)) return 'has no parameter fingerprint (config.params)';
  const g = h.golden;
  if (!isObj(g) || !isCount(g.count) || g.count < 1 || !isCount(g.correct) || g.correct > g.count || !isCount(g.due) || g.due > g.count) {
    return 'has no valid fault-free result (golden.correct, golden.count, golden.due)';
  }
  if (g.accuracy !== g.correct / g.count) return `has golden accuracy ${JSON.stringify(g.accuracy)}, not ${g.correct}/${g.count}`;
  const p = runProblem(h.run);
  return p && `run ${p}`;
}

/** The rules a file's records follow: cells of the header's run and of every later run line. */
export function recordRules(header: CampaignHeader, runs: readonly RunInfo[] = [header.run]): RecordRules {
  const bers = new Set<number>();
  let trials = 0;
  for (const r of runs) { for (const b of r.bers) bers.add(b); trials = Math.max(trials, r.trials); }
  return { bers, trials, shard: header.run.shard, golden: header.golden, seed: header.config.seed, params: header.config.params };
}

/** The run a file describes now: its BERs and trials grown by every run line, margin of the last. */
export function effectiveRun(file: Pick<CampaignFile, 'runs'>): RunInfo {
  const last = file.runs[file.runs.length - 1];
  const bers: number[] = [];
  for (const r of file.runs) for (const b of r.bers) if (!bers.includes(b)) bers.push(b);
  return { ...last, bers, trials: Math.max(...file.runs.map((r) => r.trials)), shard: file.runs[0].shard };
}

/** `n` images counted by `share` (exactly count/n), or undefined when no whole count gives it. */
function countOf(share: unknown, n: number): number | undefined {
  if (typeof share !== 'number' || !Number.isFinite(share)) return undefined;
  const k = Math.round(share * n);
  return k >= 0 && k <= n && k / n === share ? k : undefined;
}

/** The problem with one parsed record, as a clause (e.g. "has accuracy 7, …"), or undefined. */
export function recordProblem(rules: RecordRules, o: unknown): string | undefined {
  if (!isObj(o)) return 'is not a trial record';
  for (const k of RECORD_KEYS) {
    if (k === 'plan') continue;
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) return `is not a trial record (${k} is ${o[k] === undefined ? 'missing' : `${JSON.stringify(o[k])}, not a number`})`;
  }
  const r = o as unknown as TrialRecord;
  if (!rules.bers.has(r.ber)) return `has BER ${r.ber}, which is not one of the campaign's BERs (${[...rules.bers].join(', ')})`;
  if (!Number.isInteger(r.trial) || r.trial < 0 || r.trial >= rules.trials) return `has trial ${r.trial}, not a whole number from 0 to ${rules.trials - 1}`;
  const sh = rules.shard;
  if (sh && r.trial % sh.count !== sh.index) return `has trial ${r.trial}, which belongs to shard ${r.trial % sh.count}/${sh.count}, not this file's shard ${sh.index}/${sh.count}`;
  const seed = trialSeed(rules.seed, rules.params, r.ber, r.trial);
  if (r.seed !== seed) return `has seed ${r.seed}, but BER ${r.ber} trial ${r.trial} of campaign seed ${rules.seed} draws its faults with seed ${seed}`;
  if (!isCount(r.faults)) return `has faults ${r.faults}, not a whole number ≥ 0`;
  if (o.plan !== undefined && (typeof o.plan !== 'string' || !/^[0-9a-f]{16}$/.test(o.plan))) return `has plan ${JSON.stringify(o.plan)}, not a digest of 16 hex digits`;
  const { golden: g } = rules;
  const n = g.count;
  const correct = countOf(r.accuracy, n);
  if (correct === undefined) return `has accuracy ${r.accuracy}, not a share of the ${n} evaluated images`;
  const drop = ((g.correct - correct) * 100) / n;
  if (r.accuracyDrop !== drop) return `has accuracyDrop ${r.accuracyDrop}, but golden ${g.correct}/${n} minus accuracy ${correct}/${n} is ${drop} percentage points`;
  const sdc = countOf(r.sdcRate, n);
  if (sdc === undefined) return `has sdcRate ${r.sdcRate}, not a share of the ${n} evaluated images`;
  const due = countOf(r.dueRate, n);
  if (due === undefined || correct + due > n || sdc + due > n) return `has dueRate ${r.dueRate}, not a share of the ${n} images left after ${correct} correct and ${sdc} SDC`;
  if (r.millis < 0) return `has millis ${r.millis}, a negative time`;
  return undefined;
}

/** The advice every refused record line ends with. */
const RECORD_FIX = 'the file was changed or damaged after flipguard wrote it, so remove that line (a resumed campaign reruns its trial) or start a new output file';

/**
 * Checks one parsed record line of `path` against `rules` and returns it as a clean record (known
 * keys only); throws a FlipguardError naming the file, the line and the problem otherwise.
 */
export function validateRecord(rules: RecordRules, o: unknown, path: string, line: number): TrialRecord {
  const p = recordProblem(rules, o);
  if (p) throw new FlipguardError(`Line ${line} of "${path}" ${p}; ${RECORD_FIX}.`);
  const src = o as Record<string, unknown>;
  const r: Record<string, unknown> = {};
  for (const k of RECORD_KEYS) if (src[k] !== undefined) r[k] = src[k];
  return r as unknown as TrialRecord;
}

/**
 * The problem with one record's fault count or plan digest against the plan `planner` regenerates
 * from campaign seed `seed` (cheap: drawing a plan costs O(faults), no inference), as a clause, or
 * undefined. A record without a digest (written before digests) has its fault count checked only.
 */
export function planProblem(planner: FaultPlanner, seed: number, r: TrialRecord): string | undefined {
  const plan = planner.plan(seed, r.ber, r.trial);
  if (plan.faults.length !== r.faults) return `has faults ${r.faults}, but the plan of BER ${r.ber} trial ${r.trial} holds ${plan.faults.length}`;
  if (r.plan === undefined) return undefined;
  const d = planDigest(plan.faults);
  return r.plan === d ? undefined : `has plan digest ${r.plan}, but the plan of BER ${r.ber} trial ${r.trial} regenerated from the seed has ${d}`;
}

/** Checks every record of `file` with `planProblem`; throws naming the file and line. */
export function verifyPlans(file: CampaignFile, path: string, planner: FaultPlanner): void {
  const seed = file.header!.config.seed;
  file.records.forEach((r, i) => {
    const p = planProblem(planner, seed, r);
    if (p) throw new FlipguardError(`Line ${file.lines[i]} of "${path}" ${p}; ${RECORD_FIX}.`);
  });
}

/**
 * The rules for the records of a file whose header is the runner's own (valid `config`, `golden`
 * and `run`), grown by its run lines; undefined for other headers (e.g. hand-made flat ones).
 */
export function runnerRecordRules(header: unknown, runLines: readonly unknown[] = []): RecordRules | undefined {
  if (!isObj(header) || header.flipguard !== 'campaign' || headerProblem(header)) return undefined;
  const h = header as unknown as CampaignHeader;
  const runs = [h.run, ...runLines.filter((r): r is RunInfo => runProblem(r) === undefined)];
  return recordRules(h, runs);
}

/**
 * Reads a campaign file without changing it and validates the header, every run line and every
 * record (see `validateRecord`; each (BER, trial) at most once). A torn last line is ignored
 * (reported in `torn`). Throws a FlipguardError naming the file and line of the first problem.
 */
export function readCampaignFile(path: string): CampaignFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new FlipguardError(`Campaign file "${path}" cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path.`);
  }
  const lastNl = buf.lastIndexOf(0x0a);
  const validBytes = lastNl + 1;
  const torn = validBytes < buf.length;
  const text = buf.subarray(0, validBytes).toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // the empty string after the final newline
  if (lines.length === 0) {
    // nothing complete: only a torn header may be dropped, never someone else's file
    const head = buf.subarray(0, Math.min(buf.length, HEADER_START.length)).toString('utf8');
    if (buf.length > 0 && !HEADER_START.startsWith(head)) {
      throw new FlipguardError(`"${path}" is not a flipguard campaign file; choose another output file.`);
    }
    return { header: undefined, runs: [], records: [], lines: [], validBytes, torn };
  }
  let header: CampaignHeader;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    throw new FlipguardError(`"${path}" is not a flipguard campaign file (its first line is not JSON); choose another output file.`);
  }
  if (!isObj(header) || header.flipguard !== 'campaign' || !header.config || !header.golden) {
    throw new FlipguardError(`"${path}" is not a flipguard campaign file (no campaign header); choose another output file.`);
  }
  if (header.format !== CAMPAIGN_FORMAT) {
    throw new FlipguardError(`"${path}" uses campaign file format ${header.format}, this flipguard writes format ${CAMPAIGN_FORMAT}; write to a new output file.`);
  }
  const hp = headerProblem(header as unknown as Record<string, unknown>);
  if (hp) throw new FlipguardError(`The header (line 1) of "${path}" ${hp}; ${RECORD_FIX.replace('remove that line (a resumed campaign reruns its trial)', 'regenerate it')}.`);
  const runs: RunInfo[] = [header.run];
  let rules = recordRules(header, runs);
  const records: TrialRecord[] = [];
  const lineNos: number[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    let o: unknown;
    try {
      o = JSON.parse(lines[i]);
    } catch {
      throw new FlipguardError(`Line ${i + 1} of "${path}" is not JSON; ${RECORD_FIX}.`);
    }
    if (lines[i].startsWith(RUN_START)) {
      const run = isObj(o) ? o.run : undefined;
      const p = runProblem(run);
      if (p) throw new FlipguardError(`Line ${i + 1} of "${path}" is a run line that ${p}; ${RECORD_FIX}.`);
      if ((run as RunInfo).shard?.index !== header.run.shard?.index || (run as RunInfo).shard?.count !== header.run.shard?.count) {
        throw new FlipguardError(`Line ${i + 1} of "${path}" is a run line for another shard than the header's; ${RECORD_FIX}.`);
      }
      runs.push(run as RunInfo);
      rules = recordRules(header, runs);
      continue;
    }
    const r = validateRecord(rules, o, path, i + 1);
    const k = cellKey(r.ber, r.trial);
    const prev = seen.get(k);
    if (prev !== undefined) throw new FlipguardError(`Line ${i + 1} of "${path}" repeats BER ${r.ber} trial ${r.trial} of line ${prev}; ${RECORD_FIX}.`);
    seen.set(k, i + 1);
    records.push(r);
    lineNos.push(i + 1);
  }
  return { header, runs, records, lines: lineNos, validBytes, torn };
}

/** A run line recording that the cells asked for grew on resume (see the file comment). */
export function runLine(run: RunInfo): string {
  return JSON.stringify({ flipguard: 'run', run });
}

/** Names of config fields whose values differ (deep, via JSON). */
export function configDifferences(a: CampaignConfig, b: CampaignConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof CampaignConfig>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Key of a (BER, trial) cell. */
export function cellKey(ber: number, trial: number): string {
  return `${ber}|${trial}`;
}

/** Records sorted by BER (ascending), then trial: the canonical order. */
export function canonicalOrder(records: readonly TrialRecord[]): TrialRecord[] {
  return [...records].sort((a, b) => a.ber - b.ber || a.trial - b.trial);
}

/** A record as one JSON line (fixed key order). */
export function recordLine(r: TrialRecord): string {
  const o: Record<string, number | string> = {};
  for (const k of RECORD_KEYS) if (r[k] !== undefined) o[k] = r[k];
  return JSON.stringify(o);
}

/**
 * Appends lines to a campaign file: each line goes out in one write() as it finishes, so it
 * survives the process being killed; the file is also fsync'ed at most once a second and on close.
 */
export class RecordWriter {
  private fd: number;
  private lastSync = Date.now();

  private constructor(fd: number, private readonly path: string) {
    this.fd = fd;
  }

  /**
   * Opens `path` for appending. With `header`, the file must be new or empty and the header becomes
   * its first line; `truncateTo` first cuts off a torn tail.
   */
  static open(path: string, opts: { header?: CampaignHeader; truncateTo?: number } = {}): RecordWriter {
    if (opts.truncateTo !== undefined) truncateSync(path, opts.truncateTo);
    let fd: number;
    try {
      fd = openSync(path, 'a');
    } catch (e) {
      throw new FlipguardError(`Campaign output "${path}" cannot be opened for writing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the folder exists and is writable.`);
    }
    const w = new RecordWriter(fd, path);
    if (opts.header) w.writeLine(JSON.stringify(opts.header), true);
    return w;
  }

  writeLine(line: string, sync = false): void {
    const b = Buffer.from(`${line}\n`, 'utf8');
    try {
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
      if (sync || Date.now() - this.lastSync > 1000) { fsyncSync(this.fd); this.lastSync = Date.now(); }
    } catch (e) {
      // ENOSPC, EIO, EDQUOT: the lines already written are whole; a torn last one is dropped on resume
      throw new FlipguardError(`${ioErrorMessage(e, this.path)} The trials recorded before are kept; rerun the same command to resume.`);
    }
  }

  write(r: TrialRecord): void {
    this.writeLine(recordLine(r));
  }

  close(): void {
    if (this.fd < 0) return;
    try { fsyncSync(this.fd); } finally { closeSync(this.fd); this.fd = -1; }
  }
}

/**
 * Claims `${path}.lock` for this process (it holds "pid start-time"), so two processes never append
 * to one output. A stale lock — its process is gone, or the pid now belongs to another program
 * (a different start time, or not node) — is removed and reported through `onStale`. Returns a
 * release function.
 */
export function lockOutput(path: string, onStale?: (message: string) => void): () => void {
  const lock = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid} ${processStart(process.pid) ?? ''}`.trim(), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FlipguardError(ioErrorMessage(e, lock, 'create the lock file'));
      let text = '';
      try { text = readFileSync(lock, 'utf8').slice(0, 100).trim(); } catch { /* vanished meanwhile */ }
      const [pidText, start] = text.split(/\s+/);
      const pid = Number(pidText);
      const why = staleReason(pid, start);
      if (!why) {
        throw new FlipguardError(`Another flipguard process (pid ${pid}) is writing "${path}" and holds the lock file "${lock}"; wait for it, give each process its own output (use shards), or delete "${lock}" if that process is not a flipguard campaign.`);
      }
      rmSync(lock, { force: true });
      onStale?.(`removed the stale lock file "${lock}" (${why}).`);
    }
  }
  throw new FlipguardError(`Campaign output "${path}" could not be locked; delete "${lock}" if no campaign is running.`);
}

/** Why a lock held by `pid` (started at `start`, clock ticks since boot) is stale, or undefined if it is live. */
function staleReason(pid: number, start: string | undefined): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return 'it names no process';
  if (pid === process.pid) return 'it was left by this process';
  if (!processAlive(pid)) return `process ${pid} is not running`;
  const now = processStart(pid);
  if (start !== undefined && now !== undefined && now !== start) return `process ${pid} is now another program`;
  const cmd = processCommand(pid);
  if (cmd !== undefined && !/node|flipguard/.test(cmd)) return `process ${pid} is "${cmd.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}", not flipguard`;
  return undefined;
}

/** A process's start time (field 22 of /proc/PID/stat, clock ticks since boot); undefined off Linux. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ")"
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A process's command line (arguments joined by spaces); undefined off Linux. */
function processCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
