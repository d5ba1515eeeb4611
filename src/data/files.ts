import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zc, gunzipSync } from 'node:zlib';
import { FlipguardError, opt } from '../errors.js';

/**
 * Most bytes one data file may hold, compressed or decompressed: 2^31 (2 GiB). Node cannot read a
 * larger file into one buffer, and the float32 images made from it would take 8 GiB.
 */
export const MAX_DATA_FILE_BYTES = 2 ** 31;

/**
 * Most bytes `gunzipHead` inflates while looking for a header. Each compressed byte inflates to at
 * most ~1032 bytes, so probing doubling prefixes from 64 bytes stays below this for any real
 * file; only a file built to inflate explosively before its header is complete reaches it.
 */
const HEAD_PROBE_BYTES = 1 << 20;

/** `BYTE_TO_UNIT[b]` = b / 255 as float32: the [0,1] scaling every file loader applies. */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) t[b] = b / 255;
  return t;
})();

/** Throws a FlipguardError unless `dir` exists and is a folder. `what` names the expected contents. */
export function requireDir(dir: string, what: string): void {
  if (!existsSync(dir)) {
    throw new FlipguardError(`Data folder ${dir} does not exist; set ${opt('dataDir')} to the folder holding the ${what} files.`);
  }
  if (!statSync(dir).isDirectory()) {
    throw new FlipguardError(`Data path ${dir} is a file, not a folder; set ${opt('dataDir')} to the folder holding the ${what} files.`);
  }
}

/**
 * The folder holding a dataset's files: `dir` itself when it has `probe`, else `dir/sub` when that
 * folder exists (the layout an official archive extracts to), else `dir`.
 */
export function resolveDataFolder(dir: string, sub: string, probe: string): string {
  if (existsSync(join(dir, probe))) return dir;
  const nested = join(dir, sub);
  if (existsSync(nested) && statSync(nested).isDirectory()) return nested;
  return dir;
}

/** Size in bytes of a regular file. */
export function fileSize(path: string): number {
  const st = statSync(path);
  if (!st.isFile()) throw new FlipguardError(`Data file ${path} is not a regular file; replace it with the dataset file of that name.`);
  return st.size;
}

/** Reads the first `length` bytes of `path` (which must have at least that many). */
export function readPrefix(path: string, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, got);
      if (n === 0) throw new FlipguardError(`Data file ${path} ended after ${got} bytes while ${length} were expected; download it again.`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Throws a FlipguardError unless `limit` is undefined or a positive integer. */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new FlipguardError(`Sample limit must be a positive integer, got ${limit}; pass a whole number of at least 1 or omit it.`);
  }
}

/** Throws a FlipguardError unless `split` is 'train' or 'test'. */
export function checkSplit(split: string): asserts split is 'train' | 'test' {
  if (split !== 'train' && split !== 'test') {
    throw new FlipguardError(`Unknown data split ${JSON.stringify(split)}; use "train" or "test".`);
  }
}

/**
 * The first `want` bytes (fewer if the data ends sooner) of gzip data `compressed`, read from
 * `path`, inflating only doubling prefixes of the compressed bytes (never the whole file), so a
 * caller can read the size a format header promises before inflating the rest.
 */
export function gunzipHead(path: string, compressed: Uint8Array, want: number, fix: string): Uint8Array {
  for (let p = 64; ; p *= 2) {
    const whole = p >= compressed.length;
    let out: Uint8Array;
    try {
      // a sync flush at the end of a cut-off prefix returns what inflated so far instead of
      // failing; the whole input is inflated strictly, so a truncated file is reported as such
      out = gunzipSync(compressed.subarray(0, p), { finishFlush: whole ? zc.Z_FINISH : zc.Z_SYNC_FLUSH, maxOutputLength: HEAD_PROBE_BYTES });
    } catch (e) {
      throw gzipError(path, e, `more than ${HEAD_PROBE_BYTES} bytes before its header is complete`, fix);
    }
    if (out.length >= want || whole) return out.subarray(0, Math.min(want, out.length));
  }
}

/**
 * Inflates gzip data `compressed` (from `path`) whose header promised `promised` bytes, stopping
 * as soon as the output passes that (a decompression bomb costs at most `promised` + 16 KiB of
 * memory and the time to inflate that much).
 */
export function gunzipCapped(path: string, compressed: Uint8Array, promised: number, fix: string): Uint8Array {
  try {
    return gunzipSync(compressed, { maxOutputLength: Math.max(1, promised) });
  } catch (e) {
    throw gzipError(path, e, `more than the ${promised} bytes its header promises`, fix);
  }
}

/** `tooLarge` says what the output exceeded, e.g. "more than the 7850 bytes its header promises". */
function gzipError(path: string, e: unknown, tooLarge: string, fix: string): FlipguardError {
  if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return new FlipguardError(`Data file ${path} inflates to ${tooLarge} (damaged, or built to exhaust memory); inflation was stopped there — ${fix}.`);
  }
  return new FlipguardError(`Data file ${path} is not valid gzip data (damaged or truncated download); ${fix}.`);
}
