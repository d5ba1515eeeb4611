import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlipguardError, opt } from '../errors.js';

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
