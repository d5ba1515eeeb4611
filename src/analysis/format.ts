/**
 * Plain-text tables for the analysis results (comparison and bench tables). The CLI has its own
 * table helper; analysis does not import `cli/` (nothing may depend on it).
 */
import { visible } from '../util/text.js';

/** Columns padded to their widest cell; columns whose cells all look numeric are right-aligned. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  // cells hold layer and tensor names from the model file: escaped for the terminal
  const cells = rows.map((r) => r.map((c) => visible(String(c))));
  header = header.map(visible);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => cells.length > 0 && cells.every((r) => /^\s*[-+]?[\d.,]+(e[-+]?\d+)?\s*[%×a-z]*$/i.test(r[i] ?? '')));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
