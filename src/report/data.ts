/**
 * Combining loaded inputs into the report's data (what report.json holds and the HTML shows).
 */
import { summarize, type BerSummary } from '../campaign/summary.js';
import type { GoldenResult, PartialInfo, TrialRecord } from '../campaign/records.js';
import { partialNote } from '../campaign/merge.js';
import { FlipguardError } from '../errors.js';
import { fmtBer } from './format.js';
import { loadInputs } from './load.js';
import { collectMachine, collectVersions, type MachineInfo } from './provenance.js';
import { paretoBer, paretoView, type ParetoView } from './pareto.js';
import { DEFAULT_PARETO_BER } from '../defaults.js';
import type {
  BerStats,
  CampaignRecordsFile, CampaignRow, CampaignSeries, CampaignSummaryFile, HardenSeries, LayerScoreSummary, LoadedInput,
  RankScoresFile, ReportData, ReportInput, ScoresSeries,
} from './types.js';

/** Options of buildReportData and writeReport. */
export interface ReportOptions {
  /** Files, folders (their *.json / *.jsonl files) or parsed documents; see ReportInput. */
  inputs: readonly ReportInput[];
  /** Report title (default "flipguard reliability report"). */
  title?: string;
  /**
   * What produced the inputs: the exact commands and seeds (the CLI passes its own command line).
   * `versions` and `machine` are measured on this machine; entries given here override them.
   */
  provenance?: { commands?: string[]; seeds?: unknown[]; versions?: Record<string, string>; machine?: Partial<MachineInfo> };
  /** Time stamp of the report (default now). */
  generatedAt?: Date | string;
  /** BER of the Pareto view (default DEFAULT_PARETO_BER when every variant has it, else the largest shared BER). */
  paretoBer?: number;
}

export const DEFAULT_TITLE = 'flipguard reliability report';

const finiteOrNull = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** One per-BER row of the report from a summary's statistics. */
function rowFromBer(b: BerStats | BerSummary): CampaignRow {
  return {
    ber: b.ber,
    trials: b.trials,
    meanDrop: b.meanDrop,
    stdDrop: b.stdDrop,
    ciLow: finiteOrNull(b.ci95[0]),
    ciHigh: finiteOrNull(b.ci95[1]),
    meanSdc: b.meanSdc,
    sdcLow: finiteOrNull(b.ci95Sdc?.[0]),
    sdcHigh: finiteOrNull(b.ci95Sdc?.[1]),
    meanDue: b.meanDue,
    meanAccuracy: finiteOrNull(b.meanAccuracy),
    trialsPerSecond: finiteOrNull(b.trialsPerSecond),
  };
}

/** Per-BER rows of a campaign summary file, BERs ascending. */
function rowsFromSummary(s: CampaignSummaryFile): CampaignRow[] {
  return [...s.bers].sort((a, b) => a.ber - b.ber).map(rowFromBer);
}

const HEADER_META = new Set(['kind', 'flipguard', 'format', 'version', 'variant', 'model', 'golden', 'run', 'margin', 'minTrials', 'config']);

/** The configuration a record file's header describes (nested `config`, or the flat header's fields). */
function headerConfig(f: CampaignRecordsFile): Record<string, unknown> {
  const h = f.header;
  if (h.config && typeof h.config === 'object') return h.config;
  return Object.fromEntries(Object.entries(h).filter(([k]) => !HEADER_META.has(k)));
}

/**
 * Summarises trial lines per BER with the campaign module's statistics (mean, sample standard
 * deviation, 95 % Student-t interval with n − 1 degrees of freedom), honouring the early-stop margin
 * recorded in the header so the result equals the runner's own summary.
 */
export function summarizeRecords(f: CampaignRecordsFile): { goldenAccuracy: number; rows: CampaignRow[] } {
  const h = f.header;
  const margin = h.run?.margin ?? h.margin ?? null;
  const minTrials = h.run?.minTrials ?? h.minTrials;
  const golden = h.golden ? ({ correct: NaN, count: NaN, due: NaN, ...h.golden } as GoldenResult) : undefined;
  const s = summarize(f.records as TrialRecord[], { golden, margin, minTrials });
  return {
    goldenAccuracy: s.golden.accuracy,
    rows: s.bers.map(rowFromBer),
  };
}

/** Per-layer statistics of a scores file; shares are of Σ|score| over the whole file. */
export function summarizeScores(s: RankScoresFile): LayerScoreSummary[] {
  const abs = s.layers.map((l) => l.scores.reduce((a, x) => a + Math.abs(x), 0));
  const total = abs.reduce((a, b) => a + b, 0);
  return s.layers.map((l, i) => {
    let min = Infinity, max = -Infinity, sum = 0, argmax = 0;
    l.scores.forEach((x, j) => {
      if (x < min) min = x;
      if (x > max) { max = x; argmax = j; }
      sum += x;
    });
    return { name: l.name, op: l.op, unit: l.unit, units: l.scores.length, min, max, mean: sum / l.scores.length, share: total > 0 ? abs[i] / total : 0, argmax, scores: l.scores };
  });
}

function num(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

function checkUnique(what: string, items: { name: string; source: string }[]): void {
  const seen = new Map<string, string>();
  for (const it of items) {
    const prev = seen.get(it.name);
    if (prev !== undefined) {
      const hint = what === 'campaign' ? ' (join shards of one campaign with flipguard merge first)' : '';
      throw new FlipguardError(`Two ${what} inputs are both named "${it.name}" ("${prev}" and "${it.source}"); give them distinct "variant" fields or file names${hint}.`);
    }
    seen.set(it.name, it.source);
  }
}

/** Combines already loaded inputs into report data. */
export function combineInputs(loaded: readonly LoadedInput[], opts: Omit<ReportOptions, 'inputs'> = {}): ReportData {
  const campaigns: CampaignSeries[] = [];
  const scores: ScoresSeries[] = [];
  const harden: HardenSeries[] = [];
  const data: ReportData = {
    format: 'flipguard-report',
    formatVersion: 1,
    title: opts.title?.trim() || DEFAULT_TITLE,
    generatedAt: opts.generatedAt === undefined ? new Date().toISOString() : new Date(opts.generatedAt).toISOString(),
    inputs: loaded.map((l) => ({ source: l.source, kind: l.kind, name: l.name })),
    campaigns,
    scores,
    harden,
    compare: [],
    prune: [],
    formats: [],
    bitProfiles: [],
    papers: [],
    pareto: null,
    provenance: {
      commands: [],
      seeds: [],
      versions: { ...collectVersions(), ...opts.provenance?.versions },
      machine: { ...collectMachine(), ...opts.provenance?.machine },
      recorded: [],
    },
    warnings: [],
  };
  for (const l of loaded) {
    switch (l.kind) {
      case 'campaign-summary': {
        const d = l.data;
        campaigns.push({
          variant: d.variant ?? l.name, source: l.source, from: 'summary', model: d.model ?? null, goldenAccuracy: d.golden.accuracy,
          seed: num(d.config?.seed), config: d.config ?? null, rows: rowsFromSummary(d),
          partial: d.partial ? partialNote(d.missing ?? { missingShards: [], missingTrials: [] }) : null,
        });
        break;
      }
      case 'harden-sweep':
        for (const v of l.data.variants) {
          const c = v.campaign;
          if (c) {
            campaigns.push({
              variant: v.variant, source: l.source, from: 'summary', model: c.model ?? l.data.model ?? null, goldenAccuracy: c.golden.accuracy,
              seed: num(c.config?.seed), config: c.config ?? null, rows: rowsFromSummary(c),
              partial: c.partial ? partialNote(c.missing ?? { missingShards: [], missingTrials: [] }) : null,
            });
          }
          if (v.overheads) harden.push({ variant: v.variant, source: l.source, method: v.method, ratio: v.ratio, model: l.data.model ?? null, overheads: v.overheads });
        }
        break;
      case 'campaign-records': {
        const d = l.data;
        const s = summarizeRecords(d);
        const config = headerConfig(d);
        const variant = typeof d.header.variant === 'string' ? d.header.variant : l.name;
        campaigns.push({
          variant, source: l.source, from: 'records', model: typeof d.header.model === 'string' ? d.header.model : null,
          goldenAccuracy: s.goldenAccuracy, seed: num(config.seed), config, rows: s.rows,
          partial: d.header.run?.partial ? partialNote(d.header.run.partial as PartialInfo) : null,
        });
        data.warnings.push(...l.warnings);
        break;
      }
      case 'scores':
        scores.push({ source: l.source, method: l.data.method, variant: l.data.variant ?? null, layers: summarizeScores(l.data) });
        break;
      case 'harden':
        harden.push({
          variant: l.data.variant ?? l.name, source: l.source, method: l.data.method, ratio: l.data.ratio,
          model: l.data.model ?? null, overheads: l.data.overheads,
        });
        break;
      case 'compare':
        data.compare.push({ source: l.source, ...l.data });
        break;
      case 'prune':
        data.prune.push({ source: l.source, ...l.data });
        break;
      case 'bit-profile':
        data.bitProfiles.push({ source: l.source, ...l.data });
        break;
      case 'formats':
        for (const f of l.data.formats) {
          data.formats.push({
            format: f.format, variant: f.variant ?? 'none', bits: f.bits, source: l.source, model: f.summary.model ?? l.data.model ?? null,
            goldenAccuracy: f.summary.golden.accuracy, rows: rowsFromSummary(f.summary),
          });
        }
        break;
      case 'paper-conventions':
        data.papers.push({ source: l.source, ...l.data });
        break;
      case 'provenance':
        data.provenance.recorded.push({ source: l.source, ...l.data });
        data.provenance.commands.push(...l.data.commands);
        data.provenance.seeds.push(...(l.data.seeds ?? []));
        break;
    }
  }
  data.pareto = reportPareto(campaigns, harden, opts.paretoBer);
  // commands that made the inputs first, then the ones given (typically the report command itself)
  data.provenance.commands.push(...(opts.provenance?.commands ?? []));
  data.provenance.seeds.push(...(opts.provenance?.seeds ?? []));
  checkUnique('campaign', campaigns.map((c) => ({ name: c.variant, source: c.source })));
  checkUnique('harden', harden.map((h) => ({ name: h.variant, source: h.source })));
  for (const c of campaigns) {
    const single = c.rows.filter((r) => r.trials < 2).map((r) => fmtBer(r.ber));
    if (c.rows.some((r) => r.ber <= 0)) data.warnings.push(`Variant "${c.variant}" has rows at BER 0: they are in the tables but not on the log-scale charts.`);
    if (single.length) data.warnings.push(`Variant "${c.variant}" has fewer than 2 trials at BER ${single.join(', ')}: no confidence interval there.`);
  }
  return data;
}

/** The Pareto view of the campaign variants (see ReportData.pareto), or null. */
function reportPareto(campaigns: readonly CampaignSeries[], harden: readonly HardenSeries[], wanted?: number): ParetoView | null {
  const withCost = campaigns.map((c) => ({ c, h: harden.find((h) => h.variant === c.variant) }));
  const usable = withCost.filter(({ h }) => !h || (h.overheads.storedBytes && h.overheads.time));
  if (usable.length < 2 || !usable.some(({ h }) => h)) return null;
  const ber = paretoBer(usable.map(({ c }) => c.rows.map((r) => r.ber)), wanted ?? DEFAULT_PARETO_BER);
  if (ber === undefined) return null;
  return paretoView(usable.map(({ c, h }) => {
    const r = c.rows.find((x) => x.ber === ber)!;
    return {
      variant: c.variant, drop: r.meanDrop, ciLow: r.ciLow, ciHigh: r.ciHigh,
      memory: h ? h.overheads.storedBytes!.ratio - 1 : 0, time: h ? h.overheads.time!.ratio - 1 : 0,
    };
  }), ber);
}

/**
 * Loads and combines the inputs into the report's data: campaign variants (summaries as given,
 * record files summarised here), per-layer score statistics, overheads, comparison and prune
 * tables, and provenance (commands, seeds, versions and machine of this run).
 * Throws a FlipguardError naming the input for an unknown, damaged or incomplete file.
 */
export function buildReportData(opts: ReportOptions): ReportData {
  return combineInputs(loadInputs(opts.inputs), opts);
}
