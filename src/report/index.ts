/**
 * Reports: flipguard's output files (campaign summaries and records, rank scores, harden, compare
 * and prune reports, provenance) turned into one self-contained HTML page with SVG charts, a
 * combined report.json and CSV files. `writeReport` is the entry point the CLI calls.
 */
export { writeReport, reportHtml, vegaRuntimeSource, variantColors, DEFAULT_OUT_DIR, type WriteReportOptions, type WriteReportResult, type ReportJson } from './write.js';
export { buildReportData, combineInputs, summarizeRecords, summarizeScores, DEFAULT_TITLE, type ReportOptions } from './data.js';
export { loadInputs, loadInputFile, parseInputText, detectKind, nameFromPath, KIND_LABELS } from './load.js';
export { buildCharts, compileChart, chartConfig, layerLabels, dropChartSpec, sdcChartSpec, dueChartSpec, overheadChartSpec, heatStripSpec, PALETTE, LIGHT_BACKGROUND, DARK_BACKGROUND, MAX_HEAT_CELLS, type ChartDef } from './charts.js';
export { reportCsv, toCsv, csvField, CSV_FILES } from './csv.js';
export { renderHtml, toleratedBer, esc, GLANCE_THRESHOLD_PP } from './html.js';
export { collectVersions, collectMachine, flipguardVersion, packageVersion, readProvenanceFile } from './provenance.js';
export * from './types.js';
