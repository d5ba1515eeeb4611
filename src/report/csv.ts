/**
 * CSV views of the report data (RFC 4180 quoting, "\n" line ends, a header row naming each column's
 * unit). Numbers are written at full precision in the inputs' units: fractions in [0, 1] end in
 * `_rate`/`_share`/`accuracy`, percentage points in `_pp`, milliseconds in `_ms`.
 */
import { OVERHEAD_METRICS, type OverheadMetric } from '../harden/overhead.js';
import type { ReportData } from './types.js';

type Cell = string | number | boolean | null | undefined;

/** One CSV field: empty for null, numbers as written by JS, strings quoted when needed. */
export function csvField(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // a text cell starting like a formula would run in a spreadsheet: neutralise it
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A CSV text from a header and rows (a trailing newline included). */
export function toCsv(header: readonly string[], rows: readonly Cell[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

const METRIC_UNITS: Record<OverheadMetric, string> = { parameters: 'count', storedBytes: 'bytes', macs: 'MACs per image', time: 's per pass' };

/** The CSV files of a report: file name → content. Kinds without data give no file. */
export function reportCsv(data: ReportData): Map<string, string> {
  const out = new Map<string, string>();
  if (data.campaigns.length) {
    out.set('campaign.csv', toCsv(
      ['variant', 'source', 'from', 'model', 'golden_accuracy', 'ber', 'trials', 'mean_drop_pp', 'std_drop_pp', 'ci95_low_drop_pp', 'ci95_high_drop_pp',
        'mean_sdc_rate', 'ci95_low_sdc_rate', 'ci95_high_sdc_rate', 'mean_due_rate', 'mean_accuracy', 'trials_per_second', 'seed'],
      data.campaigns.flatMap((c) => c.rows.map((r) => [
        c.variant, c.source, c.from, c.model, c.goldenAccuracy, r.ber, r.trials, r.meanDrop, r.stdDrop, r.ciLow, r.ciHigh,
        r.meanSdc, r.sdcLow, r.sdcHigh, r.meanDue, r.meanAccuracy, r.trialsPerSecond, c.seed,
      ])),
    ));
  }
  if (data.harden.length) {
    out.set('overheads.csv', toCsv(
      ['variant', 'source', 'method', 'hardened_share', 'metric', 'unit', 'original', 'hardened', 'ratio'],
      data.harden.flatMap((h) => OVERHEAD_METRICS.filter((m) => h.overheads[m]).map((m) => {
        const o = h.overheads[m]!;
        return [h.variant, h.source, h.method, h.ratio, m, METRIC_UNITS[m], o.original, o.hardened, o.ratio];
      })),
    ));
  }
  if (data.scores.length) {
    out.set('scores.csv', toCsv(
      ['source', 'method', 'layer', 'op', 'unit', 'index', 'score'],
      data.scores.flatMap((s) => s.layers.flatMap((l) => l.scores.map((x, i) => [s.source, s.method, l.name, l.op, l.unit, i, x]))),
    ));
    out.set('layers.csv', toCsv(
      ['source', 'method', 'layer', 'op', 'unit', 'units', 'min_score', 'max_score', 'mean_score', 'share_abs_score', 'argmax_index'],
      data.scores.flatMap((s) => s.layers.map((l) => [s.source, s.method, l.name, l.op, l.unit, l.units, l.min, l.max, l.mean, l.share, l.argmax])),
    ));
  }
  if (data.formats.length) {
    out.set('formats.csv', toCsv(
      ['format', 'variant', 'source', 'model', 'stored_bits', 'golden_accuracy', 'ber', 'trials', 'mean_drop_pp', 'std_drop_pp', 'ci95_low_drop_pp', 'ci95_high_drop_pp', 'mean_sdc_rate', 'mean_due_rate', 'trials_per_second'],
      data.formats.flatMap((f) => f.rows.map((r) => [f.format, f.variant, f.source, f.model, f.bits, f.goldenAccuracy, r.ber, r.trials, r.meanDrop, r.stdDrop, r.ciLow, r.ciHigh, r.meanSdc, r.meanDue, r.trialsPerSecond])),
    ));
  }
  if (data.compare.length) {
    out.set('compare.csv', toCsv(
      ['source', 'layer', 'ber', 'k', 'method', 'spearman', 'kendall', 'topk_overlap_share'],
      data.compare.flatMap((c) => c.rows.map((r) => [c.source, c.layer, c.ber, c.k, r.method, r.spearman, r.kendall, r.topkOverlap])),
    ));
  }
  if (data.prune.length) {
    out.set('prune.csv', toCsv(
      ['source', 'variant', 'p_conv_share', 'p_fc_share', 'accuracy', 'parameters', 'macs', 'time_ms', 'accepted', 'status', 'chosen'],
      data.prune.flatMap((p) => p.explored.map((e) => [
        p.source, p.variant, e.pConv, e.pFc, e.accuracy, e.parameters, e.macs, e.timeMs, e.accepted, e.status,
        p.chosen !== null && p.chosen.pConv === e.pConv && p.chosen.pFc === e.pFc,
      ])),
    ));
  }
  return out;
}

/** Every CSV file name reportCsv can produce (stale ones are removed when a report is rewritten). */
export const CSV_FILES = ['campaign.csv', 'overheads.csv', 'scores.csv', 'layers.csv', 'compare.csv', 'prune.csv', 'formats.csv'] as const;
