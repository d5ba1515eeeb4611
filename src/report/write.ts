/**
 * Writing a report folder: report.html (self-contained), report.json (all data, plus the charts'
 * Vega-Lite specifications) and CSV files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FlipguardError } from '../errors.js';
import { checkOutputDir, outputDirOf, type OutputDir } from '../util/fs-safe.js';
import { buildCharts, PALETTE, variantOrder, type ChartDef } from './charts.js';
import { CSV_FILES, reportCsv } from './csv.js';
import { buildReportData, type ReportOptions } from './data.js';
import { renderHtml } from './html.js';
import type { ReportData } from './types.js';

const require = createRequire(import.meta.url);

export const DEFAULT_OUT_DIR = 'flipguard-report';

export interface WriteReportOptions extends ReportOptions {
  /**
   * Output folder (created if needed; default "flipguard-report"), or one already prepared by the
   * caller (the demo). An existing non-empty folder is refused unless `force`; then only the files an
   * earlier flipguard run listed in its manifest are replaced, never the user's other files or an input.
   */
  outDir?: string | OutputDir;
  /** Replace the files an earlier flipguard run wrote in `outDir`. */
  force?: boolean;
}

export interface WriteReportResult {
  /** Path of report.html. */
  html: string;
  /** Path of report.json. */
  json: string;
  /** Paths of the CSV files written. */
  csv: string[];
  /** The data the report shows. */
  data: ReportData;
  /** Problems Vega-Lite reported while compiling the charts (empty when all is well). */
  chartWarnings: string[];
}

/** What report.json holds: the report data and each chart's Vega-Lite specification. */
export type ReportJson = ReportData & { charts: { id: string; title: string; vegaLite: Record<string, unknown> }[] };

let vegaCache: string | undefined;

/** The minified Vega runtime inlined into the page (from the installed `vega` package). */
export function vegaRuntimeSource(): string {
  if (vegaCache !== undefined) return vegaCache;
  let file: string;
  try {
    file = join(dirname(require.resolve('vega')), 'vega.min.js');
  } catch {
    throw new FlipguardError('The "vega" package is missing, so the report cannot draw charts; run npm install in the flipguard folder.');
  }
  if (!existsSync(file)) throw new FlipguardError(`The Vega runtime ${file} is missing; reinstall the "vega" package with npm install.`);
  vegaCache = readFileSync(file, 'utf8');
  return vegaCache;
}

/** Colour of each variant in the charts. */
export function variantColors(data: ReportData): Map<string, string> {
  return new Map(variantOrder(data).map((v, i) => [v, PALETTE[i % PALETTE.length]]));
}

/** The report page for `data` as one HTML string (charts compiled, Vega inlined). */
export function reportHtml(data: ReportData): { html: string; charts: ChartDef[]; warnings: string[] } {
  const { charts, warnings } = buildCharts(data);
  return { html: renderHtml(data, charts, vegaRuntimeSource(), variantColors(data)), charts, warnings };
}

/**
 * Builds the report from flipguard's output files (or parsed documents) and writes
 * `report.html`, `report.json` and the CSV files (campaign.csv, overheads.csv, scores.csv,
 * layers.csv, compare.csv, prune.csv — each only when there is such data) into `outDir`.
 * Throws a FlipguardError naming the input for an unknown or damaged file.
 */
export function writeReport(opts: WriteReportOptions): WriteReportResult {
  // refuse a bad folder before reading the inputs; files are only removed once the report is built
  if (typeof opts.outDir !== 'object') checkOutputDir(opts.outDir ?? DEFAULT_OUT_DIR, { force: opts.force, label: 'report folder' });
  const data = buildReportData(opts);
  const { html, charts, warnings } = reportHtml(data);
  // inputs given as paths may lie in the folder (a demo's inputs/): they are never removed
  const inputPaths = opts.inputs.filter((i): i is string => typeof i === 'string');
  const out = outputDirOf(opts.outDir ?? DEFAULT_OUT_DIR, { force: opts.force, protect: inputPaths, label: 'report folder' });
  const json: ReportJson = { ...data, charts: charts.map((c) => ({ id: c.id, title: c.title, vegaLite: c.vegaLite })) };
  const htmlPath = out.write('report.html', html);
  const jsonPath = out.write('report.json', `${JSON.stringify(json, null, 1)}\n`);
  const csv = reportCsv(data);
  const csvPaths: string[] = [];
  for (const name of CSV_FILES) {
    const content = csv.get(name);
    if (content !== undefined) csvPaths.push(out.write(name, content));
  }
  return { html: htmlPath, json: jsonPath, csv: csvPaths, data, chartWarnings: warnings };
}
