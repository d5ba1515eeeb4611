/**
 * Campaign output files: append-only JSON lines.
 *
 * Line 1 is the header: `{"flipguard": "campaign", "format": 1, "version", "config", "golden", "run"}`.
 * `config` identifies what the records are results of (model, data, seed, fault model); a file
 * whose config differs from the one asked for is refused, never appended to. `golden` is the
 * fault-free result. `run` holds options that do not change any record (BER list, trials, margin,
 * shard) and is informational.
 * Every further line is one finished trial:
 * `{"ber", "trial", "seed", "faults", "accuracy", "accuracyDrop", "sdcRate", "dueRate", "millis"}`.
 *
 * A process killed while writing can leave a torn last line (no final newline); readers ignore it
 * and a resumed campaign cuts it off before appending. Finished lines are never rewritten.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { FlipguardError } from '../errors.js';
import { FLIPGUARD_VERSION } from '../defaults.js';

/** Format of the header and records; part of a file's identity. */
export const CAMPAIGN_FORMAT = 1;
export { FLIPGUARD_VERSION };
/** How every header line starts (JSON.stringify keeps key order). */
const HEADER_START = '{"flipguard":"campaign"';

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

export interface RunInfo {
  bers: number[];
  trials: number;
  margin: number | null;
  minTrials: number;
  shard: { index: number; count: number } | null;
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

export const RECORD_KEYS = ['ber', 'trial', 'seed', 'faults', 'accuracy', 'accuracyDrop', 'sdcRate', 'dueRate', 'millis'] as const;

export interface CampaignFile {
  header: CampaignHeader | undefined;
  records: TrialRecord[];
  /** Bytes up to and including the last complete line. */
  validBytes: number;
  /** Whether bytes after the last newline were found (a torn last line). */
  torn: boolean;
}

function isRecord(o: unknown): o is TrialRecord {
  if (!o || typeof o !== 'object') return false;
  const r = o as Record<string, unknown>;
  return RECORD_KEYS.every((k) => typeof r[k] === 'number');
}

/** Reads a campaign file without changing it. A torn last line is ignored (reported in `torn`). */
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
    return { header: undefined, records: [], validBytes, torn };
  }
  let header: CampaignHeader;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    throw new FlipguardError(`"${path}" is not a flipguard campaign file (its first line is not JSON); choose another output file.`);
  }
  if (!header || header.flipguard !== 'campaign' || !header.config || !header.golden) {
    throw new FlipguardError(`"${path}" is not a flipguard campaign file (no campaign header); choose another output file.`);
  }
  if (header.format !== CAMPAIGN_FORMAT) {
    throw new FlipguardError(`"${path}" uses campaign file format ${header.format}, this flipguard writes format ${CAMPAIGN_FORMAT}; write to a new output file.`);
  }
  const records: TrialRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    let r: unknown;
    try {
      r = JSON.parse(lines[i]);
    } catch {
      r = undefined;
    }
    if (!isRecord(r)) throw new FlipguardError(`Line ${i + 1} of "${path}" is damaged (not a trial record); move the file away or remove that line.`);
    records.push(r);
  }
  return { header, records, validBytes, torn };
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
  const o: Record<string, number> = {};
  for (const k of RECORD_KEYS) o[k] = r[k];
  return JSON.stringify(o);
}

/**
 * Appends lines to a campaign file: each line goes out in one write() as it finishes, so it
 * survives the process being killed; the file is also fsync'ed at most once a second and on close.
 */
export class RecordWriter {
  private fd: number;
  private lastSync = Date.now();

  private constructor(fd: number) {
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
    const w = new RecordWriter(fd);
    if (opts.header) w.writeLine(JSON.stringify(opts.header), true);
    return w;
  }

  writeLine(line: string, sync = false): void {
    const b = Buffer.from(`${line}\n`, 'utf8');
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    if (sync || Date.now() - this.lastSync > 1000) { fsyncSync(this.fd); this.lastSync = Date.now(); }
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
 * Claims `${path}.lock` for this process (holding its pid), so two processes never append to one
 * output. A lock left by a process that no longer exists (killed) is taken over. Returns a release
 * function.
 */
export function lockOutput(path: string): () => void {
  const lock = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new FlipguardError(`Campaign output "${path}" cannot be locked (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the folder exists and is writable.`);
      }
      let pid = NaN;
      try { pid = Number(readFileSync(lock, 'utf8').trim()); } catch { /* vanished meanwhile */ }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new FlipguardError(`Another flipguard process (pid ${pid}) is writing "${path}"; wait for it, or give each process its own output (use shards).`);
      }
      rmSync(lock, { force: true });
    }
  }
  throw new FlipguardError(`Campaign output "${path}" could not be locked; remove "${lock}" if no campaign is running.`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
