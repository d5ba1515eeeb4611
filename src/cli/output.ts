import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { FlipguardError } from '../errors.js';

/** Writes JSON atomically (temp file + rename), creating the folder. */
export function writeJson(path: string, value: unknown): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
    renameSync(tmp, path);
  } catch (e) {
    throw new FlipguardError(`Cannot write "${path}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path.`);
  }
}

/** Whether colours may be used on stdout. */
export const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
export const bold = (s: string) => (useColor ? `\x1b[1m${s}\x1b[0m` : s);
export const dim = (s: string) => (useColor ? `\x1b[2m${s}\x1b[0m` : s);
export const green = (s: string) => (useColor ? `\x1b[32m${s}\x1b[0m` : s);
export const red = (s: string) => (useColor ? `\x1b[31m${s}\x1b[0m` : s);
