/**
 * Field checks for JSON that flipguard reads back (report inputs, summaries, comparisons): each
 * check returns the value or throws a FieldError naming the field path (`bers[2].ci95`) and the
 * problem, which the reader turns into one sentence naming the file.
 */

/** A field that does not hold what the reader needs: `field` is a path like `bers[2].ci95`. */
export class FieldError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field} ${problem}`);
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) throw new FieldError(field, 'is missing or not an object');
  return v;
}

export function arr(v: unknown, field: string, nonEmpty = false): unknown[] {
  if (!Array.isArray(v)) throw new FieldError(field, 'is missing or not a list');
  if (nonEmpty && v.length === 0) throw new FieldError(field, 'is empty');
  return v;
}

export function num(v: unknown, field: string, range?: [number, number]): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(field, 'is missing or not a finite number');
  if (range && (v < range[0] || v > range[1])) throw new FieldError(field, `is ${v}, outside [${range[0]}, ${range[1]}]`);
  return v;
}

export function numOrNull(v: unknown, field: string): number | null {
  if (v === null) return null;
  return num(v, field);
}

export function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new FieldError(field, 'is missing or not a non-empty string');
  return v;
}

export function optStr(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  return str(v, field);
}

export function pair(v: unknown, field: string): [number | null, number | null] {
  if (!Array.isArray(v) || v.length !== 2) throw new FieldError(field, 'is missing or not a pair [low, high]');
  return [numOrNull(v[0], `${field}[0]`), numOrNull(v[1], `${field}[1]`)];
}

/** Field path helper: `bers[2]`. */
export const at = (base: string, i: number): string => `${base}[${i}]`;
