/**
 * The report's charts as Vega-Lite specifications, compiled here (in Node) to Vega specifications
 * that the page renders to SVG with the inlined Vega runtime.
 *
 * Colours: every non-data ink (axes, grid, legends, titles) is `currentColor`, so a chart takes the
 * page's text colour in light mode, dark mode and print alike; series colours come from PALETTE,
 * whose every colour has at least 3:1 contrast against both the light and the dark page background.
 * A variant keeps its colour across all charts.
 */
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { OVERHEAD_METRICS, type OverheadMetric } from '../harden/overhead.js';
import type { ReportData, ScoresSeries } from './types.js';

/** Series colours: ≥ 3:1 contrast on both LIGHT_BACKGROUND and DARK_BACKGROUND (checked in tests). */
export const PALETTE = ['#4e79a7', '#d55e00', '#009e73', '#cc79a7', '#a67c00', '#8f6bb8', '#168a9c', '#9c755f', '#e15759', '#7f7f7f'] as const;
export const LIGHT_BACKGROUND = '#ffffff';
export const DARK_BACKGROUND = '#16181d';

/** Most cells drawn per layer in the heat strip; longer layers are binned (bin value: largest |score|). */
export const MAX_HEAT_CELLS = 256;

export const OVERHEAD_LABELS: Record<OverheadMetric, string> = { parameters: 'parameters', storedBytes: 'stored bytes', macs: 'MACs', time: 'time' };

type Spec = Record<string, unknown>;

/** One chart of the report. */
export interface ChartDef {
  /** DOM id of the chart's container. */
  id: string;
  /** Section the chart belongs to. */
  section: 'campaign' | 'overheads' | 'scores' | 'pareto' | 'bits' | 'formats';
  title: string;
  caption: string;
  /** Number of series (legend entries / lines / bar groups) the chart must show. */
  series: number;
  /** The Vega-Lite specification (kept in report.json so a chart can be reproduced). */
  vegaLite: Spec;
  /** The compiled Vega specification the page renders. */
  vega: Spec;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

/** Shared chart configuration: transparent background, currentColor ink, the palette. */
export function chartConfig(): Spec {
  const ink = 'currentColor';
  return {
    background: 'transparent',
    font: FONT,
    padding: 4,
    view: { stroke: ink, strokeOpacity: 0.25 },
    axis: {
      labelColor: ink, titleColor: ink, domainColor: ink, tickColor: ink, gridColor: ink,
      gridOpacity: 0.13, domainOpacity: 0.55, tickOpacity: 0.55, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titlePadding: 8,
    },
    legend: { labelColor: ink, titleColor: ink, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 260, symbolStrokeWidth: 2 },
    title: { color: ink, subtitleColor: ink, fontWeight: 'normal' },
    header: { labelColor: ink, titleColor: ink },
    range: { category: [...PALETTE] },
  };
}

class CollectingLogger {
  readonly messages: string[] = [];
  private lvl = 2;
  level(l?: number): number | this {
    if (l === undefined) return this.lvl;
    this.lvl = l;
    return this;
  }
  error(...a: unknown[]): this { this.messages.push(`error: ${a.join(' ')}`); return this; }
  warn(...a: unknown[]): this { this.messages.push(`warn: ${a.join(' ')}`); return this; }
  info(): this { return this; }
  debug(): this { return this; }
}

/** Compiles a Vega-Lite spec to Vega; Vega-Lite's warnings are returned instead of printed. */
export function compileChart(vl: Spec): { vega: Spec; warnings: string[] } {
  const logger = new CollectingLogger();
  const out = compile(vl as unknown as TopLevelSpec, { logger: logger as unknown as NonNullable<Parameters<typeof compile>[1]>['logger'] });
  const vega = { ...(out.spec as unknown as Spec) };
  delete vega.$schema; // the report carries no external address
  return { vega, warnings: logger.messages };
}

/** Variants in report order: campaign variants first, then hardened variants not in a campaign. */
export function variantOrder(data: ReportData): string[] {
  const out: string[] = [];
  for (const c of data.campaigns) if (!out.includes(c.variant)) out.push(c.variant);
  for (const h of data.harden) if (!out.includes(h.variant)) out.push(h.variant);
  return out;
}

function colorScale(variants: string[]): Spec {
  return { domain: variants, range: variants.map((_, i) => PALETTE[i % PALETTE.length]) };
}

/** BER axis: log scale, one tick per measured BER when there are few. */
function berAxis(bers: number[]): Spec {
  const axis: Spec = { title: 'bit error rate (per stored bit, log scale)', format: '~e', grid: true };
  if (bers.length <= 12) axis.values = bers;
  return { field: 'ber', type: 'quantitative', scale: { type: 'log', nice: false, padding: 12 }, axis };
}

function campaignValues(data: ReportData): Spec[] {
  return data.campaigns.flatMap((c) => c.rows.filter((r) => r.ber > 0).map((r) => ({ variant: c.variant, ...r })));
}

/** The band (drawn first) would lend a legend its faint fill: legend symbols at full strength. */
const FULL_STRENGTH_SYMBOLS = { symbols: { update: { opacity: { value: 1 }, fillOpacity: { value: 1 }, strokeOpacity: { value: 1 } } } };

function rateChart(data: ReportData, variants: string[], field: 'meanDrop' | 'meanSdc' | 'meanDue', band: [string, string] | null, yTitle: string, size: 'wide' | 'narrow'): Spec {
  const values = campaignValues(data);
  const bers = [...new Set(values.map((v) => v.ber as number))].sort((a, b) => a - b);
  const shown = data.campaigns.map((c) => c.variant);
  const isRate = field !== 'meanDrop';
  const legend = {
    title: 'variant', values: shown, symbolType: 'stroke', symbolSize: 260, symbolStrokeWidth: 2.5,
    encode: FULL_STRENGTH_SYMBOLS,
    ...(size === 'wide' ? { orient: 'right' } : { orient: 'bottom', direction: 'horizontal', columns: 3, columnPadding: 14 }),
  };
  const color = { field: 'variant', type: 'nominal', scale: colorScale(variants), legend };
  const layers: Spec[] = [];
  if (band) {
    // a rate's interval is cut to [0, 1] for drawing (the tables show it as computed)
    const [lo, hi] = isRate ? [`max(0, datum.${band[0]})`, `min(1, datum.${band[1]})`] : [`datum.${band[0]}`, `datum.${band[1]}`];
    layers.push({
      name: 'band',
      transform: [{ filter: `isValid(datum.${band[0]}) && isValid(datum.${band[1]})` }, { calculate: lo, as: 'bandLow' }, { calculate: hi, as: 'bandHigh' }],
      mark: { type: 'area', opacity: 0.18, clip: true },
      encoding: { y: { field: 'bandLow', type: 'quantitative' }, y2: { field: 'bandHigh' }, color },
    });
  }
  const tooltip = [
    { field: 'variant', type: 'nominal' },
    { field: 'ber', type: 'quantitative', title: 'BER', format: '.2e' },
    { field: field, type: 'quantitative', title: yTitle, format: isRate ? '.3%' : '.3f' },
    { field: 'trials', type: 'quantitative', title: 'trials' },
  ];
  if (band) tooltip.push({ field: band[0], type: 'quantitative', title: '95% CI low', format: isRate ? '.3%' : '.3f' }, { field: band[1], type: 'quantitative', title: '95% CI high', format: isRate ? '.3%' : '.3f' });
  layers.push(
    { name: 'mean', mark: { type: 'line', strokeWidth: 2 }, encoding: { y: { field, type: 'quantitative', title: yTitle, axis: isRate ? { format: '~%' } : {} }, color } },
    { name: 'points', mark: { type: 'point', filled: true, size: 36, opacity: 1 }, encoding: { y: { field, type: 'quantitative' }, color, tooltip } },
  );
  return {
    width: size === 'wide' ? 560 : 360,
    height: size === 'wide' ? 280 : 220,
    config: chartConfig(),
    data: { values },
    encoding: { x: berAxis(bers) },
    layer: layers,
  };
}

/** Accuracy drop (pp) vs BER: mean line and 95 % interval band per variant. */
export function dropChartSpec(data: ReportData): Spec {
  const variants = variantOrder(data);
  return rateChart(data, variants, 'meanDrop', ['ciLow', 'ciHigh'], 'accuracy drop (percentage points)', 'wide');
}

/** SDC rate vs BER (band when the inputs have its interval). */
export function sdcChartSpec(data: ReportData): Spec {
  const hasBand = data.campaigns.some((c) => c.rows.some((r) => r.sdcLow !== null));
  return rateChart(data, variantOrder(data), 'meanSdc', hasBand ? ['sdcLow', 'sdcHigh'] : null, 'SDC rate (share of images)', 'narrow');
}

/** DUE rate vs BER. */
export function dueChartSpec(data: ReportData): Spec {
  return rateChart(data, variantOrder(data), 'meanDue', null, 'DUE rate (share of images)', 'narrow');
}

/** Overhead ratios (hardened ÷ original) per metric, one bar per hardened variant. */
export function overheadChartSpec(data: ReportData): Spec {
  const variants = variantOrder(data);
  const hv = data.harden.map((h) => h.variant);
  const metrics = OVERHEAD_METRICS.filter((m) => data.harden.some((h) => h.overheads[m]));
  const values = data.harden.flatMap((h) => metrics.filter((m) => h.overheads[m]).map((m) => ({
    variant: h.variant, method: h.method, hardenedShare: h.ratio, metric: OVERHEAD_LABELS[m], ...h.overheads[m],
  })));
  const color = { field: 'variant', type: 'nominal', scale: colorScale(variants), legend: { title: 'variant', orient: 'right', values: hv } };
  const x = { field: 'metric', type: 'nominal', sort: metrics.map((m) => OVERHEAD_LABELS[m]), axis: { title: null, labelAngle: 0, labelFontSize: 12 } };
  const xOffset = { field: 'variant', type: 'nominal', sort: hv };
  const y = { field: 'ratio', type: 'quantitative', title: 'hardened ÷ original (×)', scale: { zero: true } };
  return {
    width: 560,
    height: 280,
    config: chartConfig(),
    data: { values },
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        encoding: {
          x, xOffset, y, color,
          tooltip: [
            { field: 'variant', type: 'nominal' }, { field: 'method', type: 'nominal' }, { field: 'metric', type: 'nominal' },
            { field: 'ratio', type: 'quantitative', title: 'ratio (×)', format: '.3f' },
            { field: 'original', type: 'quantitative', format: ',.4~g' }, { field: 'hardened', type: 'quantitative', format: ',.4~g' },
          ],
        },
      },
      {
        name: 'labels',
        transform: [{ calculate: "format(datum.ratio, '.2f') + '×'", as: 'label' }],
        mark: { type: 'text', dy: -5, fontSize: 10, fill: 'currentColor', baseline: 'bottom' },
        encoding: { x, xOffset, y, text: { field: 'label', type: 'nominal' } },
      },
      {
        name: 'baseline',
        mark: { type: 'rule', stroke: 'currentColor', strokeDash: [4, 3], strokeOpacity: 0.7 },
        encoding: { y: { datum: 1, type: 'quantitative' } },
      },
    ],
  };
}

/**
 * Accuracy drop at the Pareto view's BER (with its 95% interval) against one overhead: a point per
 * variant in its colour, the front's points filled diamonds joined by a dashed line.
 */
export function paretoChartSpec(data: ReportData, cost: 'memory' | 'time'): Spec {
  const view = data.pareto!;
  const variants = variantOrder(data);
  const frontKey = cost === 'memory' ? 'frontMemory' : 'frontTime';
  const values = view.rows.map((r) => ({ ...r, onFront: r[frontKey] ? 'on the front' : 'dominated', dominated: r.dominatedBy.join(', ') }));
  const x = { field: cost, type: 'quantitative', title: `${cost === 'memory' ? 'memory (stored bytes)' : 'inference time'} overhead, hardened ÷ original − 1`, axis: { format: '~%' }, scale: { zero: true, nice: true } };
  const y = { field: 'drop', type: 'quantitative', title: `accuracy drop at BER ${view.ber.toExponential(0)} (pp)` };
  const color = { field: 'variant', type: 'nominal', scale: colorScale(variants), legend: { title: 'variant', orient: 'right', values: view.rows.map((r) => r.variant) } };
  return {
    width: 360,
    height: 240,
    config: chartConfig(),
    data: { values },
    layer: [
      {
        name: 'front',
        transform: [{ filter: `datum.${frontKey}` }],
        mark: { type: 'line', stroke: 'currentColor', strokeDash: [5, 3], strokeOpacity: 0.6 },
        encoding: { x: { ...x, sort: null }, y, order: { field: cost, type: 'quantitative' } },
      },
      {
        name: 'ci',
        transform: [{ filter: 'isValid(datum.ciLow) && isValid(datum.ciHigh)' }],
        mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x, y: { field: 'ciLow', type: 'quantitative' }, y2: { field: 'ciHigh' }, color },
      },
      {
        name: 'frontfill',
        transform: [{ filter: `datum.${frontKey}` }],
        mark: { type: 'point', size: 90, filled: true, opacity: 1, shape: 'diamond' },
        encoding: { x, y, color },
      },
      {
        name: 'variants',
        mark: { type: 'point', size: 90, strokeWidth: 2, opacity: 1 },
        encoding: {
          x, y, color,
          shape: { field: 'onFront', type: 'nominal', scale: { domain: ['on the front', 'dominated'], range: ['diamond', 'circle'] }, legend: { title: 'Pareto', orient: 'right' } },
          tooltip: [
            { field: 'variant', type: 'nominal' }, { field: 'drop', type: 'quantitative', title: 'drop (pp)', format: '.3f' },
            { field: 'ciLow', type: 'quantitative', title: '95% CI low', format: '.3f' }, { field: 'ciHigh', type: 'quantitative', title: '95% CI high', format: '.3f' },
            { field: 'memory', type: 'quantitative', title: 'memory overhead', format: '.2%' }, { field: 'time', type: 'quantitative', title: 'time overhead', format: '.2%' },
            { field: 'dominated', type: 'nominal', title: 'dominated by' },
          ],
        },
      },
    ],
  };
}

/** Number formats in the order the report shows them (others after, in input order). */
const FORMAT_ORDER = ['float32', 'float16', 'bfloat16', 'int8'];

/** The formats of the per-format comparison in report order. */
export function formatOrder(data: ReportData): string[] {
  const seen = [...new Set(data.formats.map((f) => f.format))];
  return [...FORMAT_ORDER.filter((f) => seen.includes(f)), ...seen.filter((f) => !FORMAT_ORDER.includes(f))];
}

/**
 * Accuracy drop vs BER per number format: one colour per format, one dash pattern per hardening
 * variant (solid = unprotected), the 95 % interval of the mean as a band.
 */
export function formatsChartSpec(data: ReportData): Spec {
  const formats = formatOrder(data);
  const variants = [...new Set(data.formats.map((f) => f.variant))].sort((a, b) => (a === 'none' ? -1 : b === 'none' ? 1 : 0));
  const values = data.formats.flatMap((f) => f.rows.filter((r) => r.ber > 0).map((r) => ({ format: f.format, variant: f.variant, series: `${f.format} · ${f.variant}`, ...r })));
  const bers = [...new Set(values.map((v) => v.ber))].sort((a, b) => a - b);
  const color = { field: 'format', type: 'nominal', scale: { domain: formats, range: formats.map((_, i) => PALETTE[i % PALETTE.length]) }, legend: { title: 'stored format', orient: 'right', symbolType: 'stroke', symbolSize: 260, symbolStrokeWidth: 2.5, encode: FULL_STRENGTH_SYMBOLS } };
  const dash = variants.length > 1
    ? { strokeDash: { field: 'variant', type: 'nominal', scale: { domain: variants }, legend: { title: 'protection', orient: 'right', symbolType: 'stroke', symbolSize: 260, symbolStrokeWidth: 2, symbolStrokeColor: 'currentColor', encode: FULL_STRENGTH_SYMBOLS } } }
    : {};
  const x = berAxis(bers);
  return {
    width: 560,
    height: 260,
    config: chartConfig(),
    data: { values },
    encoding: { x },
    layer: [
      {
        name: 'band',
        transform: [{ filter: 'isValid(datum.ciLow) && isValid(datum.ciHigh)' }],
        mark: { type: 'area', opacity: 0.15, clip: true },
        encoding: { y: { field: 'ciLow', type: 'quantitative' }, y2: { field: 'ciHigh' }, color, detail: { field: 'series', type: 'nominal' } },
      },
      {
        name: 'mean',
        mark: { type: 'line', strokeWidth: 2, point: true },
        encoding: {
          y: { field: 'meanDrop', type: 'quantitative', title: 'accuracy drop (pp)' }, color, ...dash, detail: { field: 'series', type: 'nominal' },
          tooltip: [
            { field: 'format', type: 'nominal' }, { field: 'variant', type: 'nominal', title: 'protection' }, { field: 'ber', type: 'quantitative', title: 'BER', format: '.2e' },
            { field: 'meanDrop', type: 'quantitative', title: 'drop (pp)', format: '.3f' }, { field: 'ciLow', type: 'quantitative', title: '95% CI low', format: '.3f' },
            { field: 'ciHigh', type: 'quantitative', title: '95% CI high', format: '.3f' }, { field: 'trials', type: 'quantitative' },
          ],
        },
      },
    ],
  };
}

/** Accuracy drop per bit position (bars coloured by field, 95% interval as a rule). */
export function bitProfileSpec(p: ReportData['bitProfiles'][number]): Spec {
  const values = p.rows.map((r) => ({ ...r, ciLow: r.ci95[0], ciHigh: r.ci95[1] }));
  const x = { field: 'bit', type: 'ordinal', sort: 'descending', title: 'bit position (31 = sign, 30–23 exponent, 22–0 mantissa)', axis: { labelAngle: 0 } };
  const y = { field: 'drop', type: 'quantitative', title: 'accuracy drop (pp)' };
  return {
    width: 560,
    height: 220,
    config: chartConfig(),
    data: { values },
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar' },
        encoding: {
          x, y,
          color: { field: 'field', type: 'nominal', scale: { domain: ['sign', 'exponent', 'mantissa'], range: [PALETTE[1], PALETTE[0], PALETTE[2]] }, legend: { title: 'field', orient: 'right' } },
          tooltip: [
            { field: 'bit', type: 'ordinal' }, { field: 'field', type: 'nominal' }, { field: 'drop', type: 'quantitative', title: 'drop (pp)', format: '.3f' },
            { field: 'ciLow', type: 'quantitative', title: '95% CI low', format: '.3f' }, { field: 'ciHigh', type: 'quantitative', title: '95% CI high', format: '.3f' },
            { field: 'sdc', type: 'quantitative', title: 'SDC', format: '.2%' }, { field: 'due', type: 'quantitative', title: 'DUE', format: '.2%' },
          ],
        },
      },
      { name: 'ci', mark: { type: 'rule', stroke: 'currentColor', strokeOpacity: 0.7 }, encoding: { x, y: { field: 'ciLow', type: 'quantitative' }, y2: { field: 'ciHigh' } } },
    ],
  };
}

/** Longest layer name shown in full in the heat strip; longer names keep their start and end. */
const LABEL_NAME_CHARS = 34;

/** Row labels of the heat strip: "name · 16 channels", long names shortened in the middle, all distinct. */
export function layerLabels(layers: ScoresSeries['layers']): string[] {
  const seen = new Set<string>();
  return layers.map((l, i) => {
    const name = l.name.length <= LABEL_NAME_CHARS ? l.name : `${l.name.slice(0, 10)}…${l.name.slice(-(LABEL_NAME_CHARS - 11))}`;
    let label = `${name} · ${l.units} ${l.unit}${l.units === 1 ? '' : 's'}`;
    if (seen.has(label)) label = `${label} (#${i + 1})`;
    seen.add(label);
    return label;
  });
}

/**
 * Per-layer vulnerability heat strip: one row per layer in graph order, units left to right
 * (each layer spans the full width; above MAX_HEAT_CELLS units, bins of consecutive units show
 * their largest |score|), colour = score ÷ the file's largest |score|; beside it, each layer's share
 * of the file's Σ|score|.
 */
export function heatStripSpec(s: ScoresSeries): Spec {
  let maxAbs = 0;
  let negative = false;
  for (const l of s.layers) for (const x of l.scores) { maxAbs = Math.max(maxAbs, Math.abs(x)); if (x < 0) negative = true; }
  const norm = maxAbs > 0 ? maxAbs : 1;
  const cells: Spec[] = [];
  const labels = layerLabels(s.layers);
  s.layers.forEach((l, li) => {
    const n = l.units;
    const bins = Math.min(n, MAX_HEAT_CELLS);
    for (let b = 0; b < bins; b++) {
      const i0 = Math.floor((b * n) / bins);
      const i1 = Math.floor(((b + 1) * n) / bins);
      let v = l.scores[i0];
      for (let i = i0 + 1; i < i1; i++) if (Math.abs(l.scores[i]) > Math.abs(v)) v = l.scores[i];
      cells.push({
        layer: labels[li], name: l.name, op: l.op, x0: i0 / n, x1: i1 / n, score: v, rel: v / norm,
        units: i1 - i0 === 1 ? `${l.unit} ${i0}` : `${l.unit}s ${i0}–${i1 - 1} (largest)`,
      });
    }
  });
  const rows = s.layers.map((l, i) => ({ layer: labels[i], name: l.name, share: l.share, max: l.max, mean: l.mean, argmax: l.argmax }));
  const step = s.layers.length > 40 ? 12 : 18;
  const y = { field: 'layer', type: 'nominal', sort: labels, scale: { paddingInner: 0.14, paddingOuter: 0.07 }, axis: { title: null, labelLimit: 330, labelFontSize: 11, domain: false, ticks: false } };
  const color = negative
    ? { field: 'rel', type: 'quantitative', scale: { scheme: 'blueorange', domain: [-1, 1] }, legend: { title: 'score ÷ largest |score|', orient: 'bottom', gradientLength: 220, titleLimit: 320 } }
    : { field: 'rel', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1], type: 'sqrt' }, legend: { title: 'score ÷ largest score (square-root colour scale)', orient: 'bottom', gradientLength: 220, titleLimit: 320 } };
  return {
    config: chartConfig(),
    spacing: 12,
    resolve: { scale: { y: 'shared' } },
    hconcat: [
      {
        width: 420,
        height: { step },
        data: { values: cells },
        layer: [
          {
            name: 'cells',
            mark: { type: 'rect' },
            encoding: {
              y, x: { field: 'x0', type: 'quantitative', scale: { domain: [0, 1], nice: false, zero: true }, axis: { title: 'units in graph order (each layer spans the full width)', labels: false, ticks: false, grid: false, domain: false } },
              x2: { field: 'x1' }, color,
              tooltip: [{ field: 'name', type: 'nominal', title: 'layer' }, { field: 'op', type: 'nominal' }, { field: 'units', type: 'nominal', title: 'unit' }, { field: 'score', type: 'quantitative', format: '.4~g' }],
            },
          },
          {
            name: 'outline',
            transform: [{ aggregate: [{ op: 'min', field: 'x0', as: 'a' }, { op: 'max', field: 'x1', as: 'b' }], groupby: ['layer'] }],
            mark: { type: 'rect', fill: null, stroke: 'currentColor', strokeOpacity: 0.45, strokeWidth: 1 },
            encoding: { y, x: { field: 'a', type: 'quantitative' }, x2: { field: 'b' } },
          },
        ],
      },
      {
        name: 'shares',
        width: 170,
        height: { step },
        data: { values: rows },
        mark: { type: 'bar', color: PALETTE[0], height: { band: 0.72 } },
        encoding: {
          y: { ...y, axis: null },
          x: { field: 'share', type: 'quantitative', axis: { title: 'share of Σ|score|', format: '.0%', tickCount: 3 }, scale: { zero: true } },
          tooltip: [
            { field: 'name', type: 'nominal', title: 'layer' }, { field: 'share', type: 'quantitative', format: '.2%' },
            { field: 'max', type: 'quantitative', title: 'largest score', format: '.4~g' }, { field: 'argmax', type: 'quantitative', title: 'at unit' },
            { field: 'mean', type: 'quantitative', title: 'mean score', format: '.4~g' },
          ],
        },
      },
    ],
  };
}

/** All charts of a report, compiled. Throws if Vega-Lite reports a problem with a spec. */
export function buildCharts(data: ReportData): { charts: ChartDef[]; warnings: string[] } {
  const charts: ChartDef[] = [];
  const warnings: string[] = [];
  const add = (def: Omit<ChartDef, 'vega'>): void => {
    const c = compileChart(def.vegaLite);
    warnings.push(...c.warnings.map((w) => `${def.id}: ${w}`));
    charts.push({ ...def, vega: c.vega });
  };
  const n = data.campaigns.length;
  if (n > 0) {
    add({
      id: 'chart-drop', section: 'campaign', series: n, title: 'Accuracy drop vs bit error rate',
      caption: 'Mean top-1 accuracy drop (golden − faulty, percentage points) per BER; the shaded band is the 95 % Student-t confidence interval of the mean over trials.',
      vegaLite: dropChartSpec(data),
    });
    add({
      id: 'chart-sdc', section: 'campaign', series: n, title: 'Silent data corruption vs bit error rate',
      caption: 'Mean share of images whose top-1 class changes with finite outputs (SDC).',
      vegaLite: sdcChartSpec(data),
    });
    add({
      id: 'chart-due', section: 'campaign', series: n, title: 'Detected unrecoverable errors vs bit error rate',
      caption: 'Mean share of images whose outputs hold NaN or ±Inf (DUE).',
      vegaLite: dueChartSpec(data),
    });
  }
  if (data.harden.length > 0) {
    add({
      id: 'chart-overheads', section: 'overheads', series: data.harden.length, title: 'Overhead ratios by cost',
      caption: 'Hardened ÷ original for each cost; the dashed line at 1× is no overhead.',
      vegaLite: overheadChartSpec(data),
    });
  }
  if (data.pareto) {
    for (const cost of ['memory', 'time'] as const) {
      add({
        id: `chart-pareto-${cost}`, section: 'pareto', series: data.pareto.rows.length, title: `Accuracy drop vs ${cost} overhead (Pareto view)`,
        caption: `Mean accuracy drop at BER ${data.pareto.ber.toExponential(0)} with its 95 % interval (vertical rule) against the ${cost === 'memory' ? 'stored-bytes' : 'inference-time'} overhead; filled diamonds joined by the dashed line are the variants no other variant beats on both drop and ${cost}.`,
        vegaLite: paretoChartSpec(data, cost),
      });
    }
  }
  if (data.formats.length) {
    add({
      id: 'chart-formats', section: 'formats', series: data.formats.length, title: 'Accuracy drop vs bit error rate per number format',
      caption: 'Mean accuracy drop (percentage points) per BER for each stored format of the model; BER is per stored bit, so a format with fewer bits per parameter also receives fewer faults at the same BER. The shaded band is the 95 % interval of the mean.',
      vegaLite: formatsChartSpec(data),
    });
  }
  data.bitProfiles.forEach((p, i) => {
    add({
      id: `chart-bits-${i}`, section: 'bits', series: p.rows.length, title: 'Accuracy drop per bit position',
      caption: `${p.faults} flip${p.faults > 1 ? 's' : ''} per trial, all at one bit position of ${p.layer ? `layer ${p.layer}'s` : 'the conv/dense'} weights (${p.weights} weights), ${p.trials} trials per position; the rule is the 95 % interval of the mean.`,
      vegaLite: bitProfileSpec(p),
    });
  });
  data.scores.forEach((s, i) => {
    add({
      id: `chart-scores-${i}`, section: 'scores', series: s.layers.length, title: `Per-layer vulnerability (${s.method})`,
      caption: `Scores by ${s.method} from ${s.source}: each row is a layer in graph order, each cell a unit (higher = more vulnerable); the bars give each layer's share of the summed |score|.`,
      vegaLite: heatStripSpec(s),
    });
  });
  return { charts, warnings };
}
