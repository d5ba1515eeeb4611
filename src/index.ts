/**
 * flipguard's public API: the workflow-level calls, one options object each, and their types.
 * The CLI is one client of these functions; each subcommand wraps one. Building blocks (graph IR
 * and editing, onnxruntime sessions, autodiff, fault plans, statistics, individual transforms and
 * scores, report pieces) are reachable through subpath exports: `flipguard/graph`,
 * `flipguard/runtime`, `flipguard/autodiff`, `flipguard/data`, `flipguard/models`,
 * `flipguard/train`, `flipguard/faults`, `flipguard/campaign`, `flipguard/analysis`,
 * `flipguard/harden`, `flipguard/formats`, `flipguard/prune`, `flipguard/report`, `flipguard/workflows`.
 *
 * Conventions used throughout: bit 0 is the least significant mantissa bit of an IEEE-754 float32,
 * bits 23–30 the exponent, bit 31 the sign; a bit error rate (BER) is the probability that any one
 * stored bit flips; an accuracy drop is in percentage points (golden − faulty) × 100.
 */
export { FlipguardError } from './errors.js';
// models: load, inspect, write
export { loadModel, readModel, writeModel, modelInfo, type Model, type ModelInfo } from './graph/index.js';
// data
export { loadDataset, type Dataset, type DatasetName, type LoadDatasetOptions } from './data/index.js';
// evaluation
export { evaluate, type EvaluateOptions, type EvaluationResult, type ImageSet } from './runtime/index.js';
// zoo and training
export { buildModel, ARCHS, type Arch, type ZooOptions } from './models/index.js';
export { train, type TrainOptions, type TrainResult, type TrainProgress } from './train/index.js';
// assess: fault plans and campaigns
export { planFaults, type FaultPlan } from './faults/index.js';
export {
  runCampaign, mergeRuns, summarize, evaluateFaultList, shardFromEnvironment, runWorker, queueStatus,
  type QueueRunOptions, type WorkerRunOptions, type CampaignStatus,
  type CampaignOptions, type CampaignResult, type CampaignSummary, type TrialRecord, type MergeOptions, type MergeResult, type ReplayResult,
} from './campaign/index.js';
// explain
export { rank, compareRankings, RANK_METHODS, type RankMethod, type RankOptions, type CompareRankingsOptions, type Comparison, type Scores } from './analysis/index.js';
// harden
export { harden, overheads, HARDEN_METHODS, type HardenMethod, type HardenOptions, type HardenResult, type HardenReport, type Overheads } from './harden/index.js';
// number formats
export { convertModel, quantizeModel, type ConvertResult, type FloatFormat, type QuantizeOptions, type QuantizeResult, type Calibration } from './formats/index.js';
// slim
export { prune, type PruneOptions, type PruneReport } from './prune/index.js';
// show
export { writeReport, type WriteReportOptions, type WriteReportResult } from './report/index.js';
// workflows that chain the above
export { runDemo, hardenSweep, type DemoOptions, type DemoResult, type SweepOptions, type SweepRow } from './workflows/index.js';
