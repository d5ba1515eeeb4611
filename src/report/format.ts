/**
 * Number formatting with units for the report's tables. Fixed locale (en-US digits), a no-break
 * space between number and unit, and an en dash for missing values.
 */

export const NBSP = '\u00a0';
export const MISSING = '–';

const ok = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** x.toFixed(digits) without a minus sign on a value that rounds to zero ("-0.00" → "0.00"). */
export function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** A bit error rate: "1e-6", "2.5e-7" (three significant digits at most). */
export function fmtBer(x: number): string {
  if (!ok(x)) return MISSING;
  if (x === 0) return '0';
  return Number(x.toPrecision(3)).toExponential().replace('e+', 'e');
}

/** A fraction in [0, 1] as a percentage: "12.34 %". */
export function fmtPct(frac: number | null | undefined, digits = 2): string {
  return ok(frac) ? `${fixed(frac * 100, digits)}${NBSP}%` : MISSING;
}

/** Percentage points: "3.21 pp". */
export function fmtPp(x: number | null | undefined, digits = 2): string {
  return ok(x) ? `${fixed(x, digits)}${NBSP}pp` : MISSING;
}

/** A plain number with `digits` decimals. */
export function fmtNum(x: number | null | undefined, digits = 3): string {
  return ok(x) ? fixed(x, digits) : MISSING;
}

/** A whole count with thousands separators: "61,706". */
export function fmtInt(x: number | null | undefined): string {
  return ok(x) ? Math.round(x).toLocaleString('en-US') : MISSING;
}

/** A count with an SI prefix, three significant digits: "429 M", "61.7 k" (exact below 10 000). */
export function fmtSi(x: number | null | undefined, unit = ''): string {
  if (!ok(x)) return MISSING;
  const u = unit ? `${NBSP}${unit}` : '';
  const a = Math.abs(x);
  if (a < 1e4) return `${fmtInt(x)}${u}`;
  const prefixes: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [f, p] of prefixes) if (a >= f) return `${Number((x / f).toPrecision(3))}${NBSP}${p}${unit}`;
  return `${x}${u}`;
}

/** Bytes with binary prefixes: "1.25 MiB". */
export function fmtBytes(x: number | null | undefined): string {
  if (!ok(x)) return MISSING;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? Math.round(v) : Number(v.toPrecision(3))}${NBSP}${units[i]}`;
}

/** Milliseconds: "12.3 ms". */
export function fmtMs(x: number | null | undefined): string {
  if (!ok(x)) return MISSING;
  return `${x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US')}${NBSP}ms`;
}

/** Seconds: "412 ms" below a second, "2.31 s" above. */
export function fmtSeconds(x: number | null | undefined): string {
  if (!ok(x)) return MISSING;
  if (Math.abs(x) < 1) return `${Number((x * 1000).toPrecision(3))}${NBSP}ms`;
  return `${fixed(x, 2)}${NBSP}s`;
}

/** A ratio: "1.42×". */
export function fmtRatio(x: number | null | undefined, digits = 2): string {
  return ok(x) ? `${fixed(x, digits)}×` : MISSING;
}

/** A 95 % interval: "[1.20, 3.40] pp"; MISSING when either end is missing. */
export function fmtInterval(lo: number | null, hi: number | null, unit: 'pp' | '%', digits = 2): string {
  if (!ok(lo) || !ok(hi)) return MISSING;
  if (unit === '%') return `[${fixed(lo * 100, digits)}, ${fixed(hi * 100, digits)}]${NBSP}%`;
  return `[${fixed(lo, digits)}, ${fixed(hi, digits)}]${NBSP}pp`;
}
