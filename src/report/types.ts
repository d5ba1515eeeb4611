/**
 * The report's own types: how it sees its inputs (kinds, loaded inputs, the campaign record file
 * as read) and the combined report data (`report.json`). Every other input file's type lives with
 * its producer, beside the one validator that reads it: campaign/summary.ts (CampaignSummaryFile),
 * analysis/scores.ts (ScoresFile), analysis/groundtruth.ts (ComparisonFile), analysis/bit-profile.ts
 * (BitProfileFile), harden/overhead.ts (HardenReportFile), workflows/sweep.ts (HardenSweepFile),
 * prune/index.ts (PruneReportFile), report/provenance.ts (ProvenanceFile), harden/paper-claims.ts (PaperConventions),
 * workflows/formats.ts (FormatsFile). Units follow the rest of flipguard:
 * - BER: bit error rate, the probability that one stored bit is faulty;
 * - accuracy: top-1 accuracy as a fraction in [0, 1];
 * - drop: golden accuracy minus faulty accuracy, in percentage points (pp);
 * - SDC / DUE rate: share of images in [0, 1] (silent data corruption: a finite but different top-1;
 *   detected unrecoverable error: NaN or ±Inf logits);
 * - overhead ratio: hardened ÷ original (1 = no overhead).
 */
import type { ParetoView } from './pareto.js';
import type { HardenReportFile, Overhead, OverheadMetric } from '../harden/overhead.js';
import type { PruneOutcome, PrunePoint, PruneReportFile } from '../prune/index.js';
import type { HardenSweepFile } from '../workflows/sweep.js';
import type { FormatsFile } from '../workflows/formats.js';
import type { MachineInfo, ProvenanceFile } from './provenance.js';
import type { BitProfileFile } from '../analysis/bit-profile.js';
import type { PaperConventions } from '../harden/paper-claims.js';
import type { TrialRecord } from '../campaign/records.js';
import type { BerStats, CampaignSummaryFile } from '../campaign/summary.js';
import type { CompareRow, ComparisonFile as CompareFile } from '../analysis/groundtruth.js';
import type { ScoreUnit, ScoresFile as RankScoresFile } from '../analysis/scores.js';

export type { BerStats, CampaignSummaryFile, CompareRow, CompareFile, ScoreUnit, RankScoresFile };
// the other input types, re-exported (their homes are their producers) so `flipguard/report` names every input it reads
export type { HardenReportFile, Overhead, OverheadMetric, PruneReportFile, PrunePoint, PruneOutcome, HardenSweepFile, ProvenanceFile, MachineInfo, BitProfileFile, FormatsFile };

// ───────────────────────────── inputs ─────────────────────────────

/**
 * First line of a campaign JSON-lines record file. Two spellings are accepted:
 * the runner's `{"flipguard": "campaign", "format", "version", "config", "golden", "run"}` and the
 * flat `{"kind": "flipguard-campaign", ...config}`.
 */
export interface CampaignRecordsHeader {
  kind?: 'flipguard-campaign';
  flipguard?: 'campaign';
  format?: number;
  variant?: string;
  model?: string;
  config?: Record<string, unknown>;
  golden?: { accuracy: number; [k: string]: unknown };
  /** Runner options; `margin` (pp) and `minTrials` decide which trials count. */
  run?: { margin?: number | null; minTrials?: number; [k: string]: unknown };
  margin?: number | null;
  minTrials?: number;
  [k: string]: unknown;
}

/** One trial line of a campaign record file (the campaign runner's own record type). */
export type CampaignTrialLine = TrialRecord;

/** A campaign record file parsed: its header and trial lines. */
export interface CampaignRecordsFile {
  header: CampaignRecordsHeader;
  records: CampaignTrialLine[];
}

/** The kinds of input file the report understands. */
export type InputKind = 'campaign-summary' | 'campaign-records' | 'scores' | 'harden' | 'harden-sweep' | 'compare' | 'prune' | 'provenance' | 'bit-profile' | 'formats' | 'paper-conventions';

/** A loaded and validated input. `source` is the file path (or a name for in-memory inputs). */
export type LoadedInput =
  | { kind: 'campaign-summary'; source: string; name: string; data: CampaignSummaryFile }
  | { kind: 'campaign-records'; source: string; name: string; data: CampaignRecordsFile; warnings: string[] }
  | { kind: 'scores'; source: string; name: string; data: RankScoresFile }
  | { kind: 'harden'; source: string; name: string; data: HardenReportFile }
  | { kind: 'harden-sweep'; source: string; name: string; data: HardenSweepFile }
  | { kind: 'compare'; source: string; name: string; data: CompareFile }
  | { kind: 'prune'; source: string; name: string; data: PruneReportFile }
  | { kind: 'provenance'; source: string; name: string; data: ProvenanceFile }
  | { kind: 'bit-profile'; source: string; name: string; data: BitProfileFile }
  | { kind: 'formats'; source: string; name: string; data: FormatsFile }
  | { kind: 'paper-conventions'; source: string; name: string; data: PaperConventions };

/**
 * An input to the report: a file or folder path (a folder contributes its *.json and *.jsonl files),
 * a parsed document of one of the kinds above, or a parsed document with a name
 * (`{name, data}`; the name plays the role of the file name, e.g. for the variant).
 */
export type ReportInput = string | { name: string; data: unknown } | object;

// ───────────────────────────── report data ─────────────────────────────

/** One BER of one variant, as plotted and written to campaign.csv. */
export interface CampaignRow {
  ber: number;
  trials: number;
  /** Percentage points. */
  meanDrop: number;
  stdDrop: number;
  /** 95 % CI of the mean drop, pp (null below 2 trials). */
  ciLow: number | null;
  ciHigh: number | null;
  /** Fractions in [0, 1]. */
  meanSdc: number;
  sdcLow: number | null;
  sdcHigh: number | null;
  meanDue: number;
  meanAccuracy: number | null;
  trialsPerSecond: number | null;
}

export interface CampaignSeries {
  variant: string;
  source: string;
  /** 'summary' when read from a summary JSON, 'records' when summarised here from trial lines. */
  from: 'summary' | 'records';
  model: string | null;
  /** Fault-free accuracy, in [0, 1]. */
  goldenAccuracy: number;
  /** Campaign seed when the file records it. */
  seed: number | null;
  config: Record<string, unknown> | null;
  rows: CampaignRow[];
  /** What a partial merge lacks (one line starting "PARTIAL:"), null for a complete campaign. */
  partial: string | null;
}

/** One campaign of the per-format comparison: a number format (and hardening variant) of one model. */
export interface FormatSeries {
  format: string;
  /** Hardening method, or "none" for the unprotected version. */
  variant: string;
  /** Stored parameter bits the BER applies to. */
  bits: number;
  source: string;
  model: string | null;
  /** Fault-free accuracy, in [0, 1]. */
  goldenAccuracy: number;
  rows: CampaignRow[];
}

export interface LayerScoreSummary {
  name: string;
  op: string;
  unit: ScoreUnit;
  /** Number of units (scores). */
  units: number;
  min: number;
  max: number;
  mean: number;
  /** Σ|score| of the layer ÷ Σ|score| of the file, in [0, 1]. */
  share: number;
  /** Index of the highest-scoring unit. */
  argmax: number;
  scores: number[];
}

export interface ScoresSeries {
  source: string;
  method: string;
  variant: string | null;
  layers: LayerScoreSummary[];
}

export interface HardenSeries {
  variant: string;
  source: string;
  method: string;
  /** Share of units hardened, in [0, 1]. */
  ratio: number;
  model: string | null;
  overheads: Partial<Record<OverheadMetric, Overhead>>;
}

export interface CompareTable extends CompareFile {
  source: string;
}

export interface PruneTable extends PruneReportFile {
  source: string;
}

export interface ReportProvenance {
  /** Exact commands, in order: those found in provenance inputs, then those given to writeReport. */
  commands: string[];
  /** Seeds (given, found in provenance inputs, and the campaigns' own seeds). */
  seeds: unknown[];
  /** Versions on the machine that generated the report. */
  versions: Record<string, string>;
  machine: MachineInfo;
  /** Provenance files given as inputs, verbatim (their versions/machine are the run's). */
  recorded: (ProvenanceFile & { source: string })[];
}

/** Everything the report shows: written as report.json. */
export interface ReportData {
  format: 'flipguard-report';
  formatVersion: 1;
  title: string;
  /** ISO 8601 time the report was generated. */
  generatedAt: string;
  inputs: { source: string; kind: InputKind; name: string }[];
  campaigns: CampaignSeries[];
  scores: ScoresSeries[];
  harden: HardenSeries[];
  compare: CompareTable[];
  prune: PruneTable[];
  /** The per-format comparison: one campaign per number format (and hardening variant) of one model. */
  formats: FormatSeries[];
  /** Bit-position profiles (accuracy drop per float32 bit position). */
  bitProfiles: (BitProfileFile & { source: string })[];
  /** The papers at their own conventions (bench paper-conventions, workflows/paper-conventions.ts). */
  papers: (PaperConventions & { source: string })[];
  /**
   * The Pareto view of the variants at one BER (report/pareto.ts): every campaign variant with a
   * harden report (memory = stored bytes, time = inference time, hardened ÷ original − 1), and the
   * campaign variants without one as unprotected (no overhead). Null with fewer than two points.
   */
  pareto: ParetoView | null;
  provenance: ReportProvenance;
  /** Things the reader should know (e.g. a torn last line ignored). */
  warnings: string[];
}
