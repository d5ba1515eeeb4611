import { visible } from '../util/text.js';

/** Aligned plain-text tables for terminal output (numbers right-aligned); cells may hold names from files, so they are escaped. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => visible(String(c))));
  header = header.map(visible);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,]+(e[-+]?\d+)?\s*[%×a-zA-Z/]*$/.test(r[i] ?? '')));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Formats an integer with thin grouping (1,234,567). */
export function groupInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 1234567 → "1.23 M". */
export function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/**
 * A 95 % interval as `[low, high]` in percentage points, or `n/a (1 trial)` when there are too few
 * trials for one (the campaign summary holds NaN there).
 */
export function formatInterval(ci: [number, number], digits = 2): string {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `[${ci[0].toFixed(digits)}, ${ci[1].toFixed(digits)}]` : 'n/a (1 trial)';
}

/** `±h` half-width of a 95 % interval, or `±n/a` below two trials. */
export function formatHalfWidth(ci: [number, number], digits = 2): string {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `±${((ci[1] - ci[0]) / 2).toFixed(digits)}` : '±n/a';
}
