import { writeFileSafe, type OutputOptions } from '../util/fs-safe.js';

/** Writes JSON through a temporary file renamed into place; refuses to clobber (see util/fs-safe). */
export function writeJson(path: string, value: unknown, opts: OutputOptions = {}): void {
  writeFileSafe(path, JSON.stringify(value, null, 2) + '\n', opts);
}

/** Whether colours may be used on stdout. */
export const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
export const bold = (s: string) => (useColor ? `\x1b[1m${s}\x1b[0m` : s);
export const dim = (s: string) => (useColor ? `\x1b[2m${s}\x1b[0m` : s);
export const green = (s: string) => (useColor ? `\x1b[32m${s}\x1b[0m` : s);
export const red = (s: string) => (useColor ? `\x1b[31m${s}\x1b[0m` : s);

/** `n` and the noun, plural unless n is 1 ("1 trial", "3 trials"). */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
