/**
 * Orchestration that chains the building blocks: the demo (assess → explain → harden → compare →
 * report), the hardening sweep (rank → harden → campaign per variant) and the benchmarks' drivers.
 * Nothing below this folder imports it.
 */
export { runDemo, demoSettings, DEFAULT_MODEL, type DemoOptions, type DemoResult } from './demo.js';
export { budgetHarden, parseBudget, defaultBudgetCandidates, DEFAULT_BUDGET_CANDIDATES, type Budget, type BudgetOptions, type BudgetResult, type CandidateEvidence } from './budget.js';
export { sweepPareto, sweepJson, readHardenSweepFile, type HardenSweepFile, type HardenSweepVariant } from './sweep.js';
export { hardenSweep, parseVariants, rankingProvider, unitOf, DEFAULT_RANKING, DEFAULT_VARIANTS, type Unit, type Variant, type SweepOptions, type SweepRow } from './sweep.js';
export { benchCampaign, BENCH_SETTINGS, type BenchCampaignOptions, type BenchCampaignResult, type BenchCampaignRow } from './bench-campaign.js';
export { benchAnalysis } from './bench-analysis.js';
export { benchPrune, type BenchPruneOptions, type BenchPruneResult, type BenchPruneSide } from './bench-prune.js';
export { compareFormats, modelVersion, MODEL_FORMATS, type CompareFormatsOptions, type FormatRow, type ModelFormat } from './formats.js';
export { paperConventions, paperClaims, readPaperConventions, formatPaperConventions, type PaperSetting, type PaperConventionOptions, type PaperConventions, type PaperConventionRow, type PaperClaim } from './paper-conventions.js';
