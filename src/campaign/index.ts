/** Fault-injection campaigns: runner, records, resume, shards, statistics (SPEC §2). */
export { ALL_SHORTCUTS, NO_SHORTCUTS, resolveShortcuts, TrialEngine, type EngineOptions, type Shortcuts, type TrialOutcome } from './engine.js';
export { mergeRuns, partialNote, type MergeOptions, type MergeResult } from './merge.js';
export {
  CAMPAIGN_FORMAT, RECORD_KEYS, canonicalOrder, configDifferences, effectiveRun, readCampaignFile, recordLine, planProblem, recordProblem, recordRules, runnerRecordRules, validateRecord, verifyPlans,
  type CampaignConfig, type CampaignFile, type CampaignHeader, type GoldenResult, type PartialInfo, type RecordRules, type RunInfo, type TrialRecord,
} from './records.js';
export { campaignConfig, inShard, limitImages, runCampaign, type CampaignOptions, type CampaignProgress, type CampaignResult, type Shard } from './run.js';
export {
  confidenceInterval, halfWidth, mean, normalCdf, normalQuantile, sampleSize, std, studentTCdf, studentTQuantile, tCritical, trialsForMargin,
  type SampleSizeOptions,
} from './stats.js';
export { applyMargin, DEFAULT_MIN_TRIALS, stoppingPoint, summarize, summaryJson, type BerSummary, type CampaignSummary, type SummaryOptions } from './summary.js';
export { evaluateFaultList, type ReplayResult } from './replay.js';
export { shardFromEnvironment, type DetectedShard } from './shard-env.js';
export { runTrial, type TrialContext } from './trial.js';
export {
  campaignId, checkRedis, DEFAULT_QUEUE_NAME, queueStatus, redactUrl, redisOptions, runOnQueue, runWorker, collectOnQueue, campaignMeta, trialJobs, damagedJob, isCampaignId, checkGolden, noModelMessage,
  type JobKind, type ParsedJob, type WorkerEnvironment, type QueueJob, type QueueCampaign, type CampaignMeta, type CampaignStatus, type QueueAddress, type QueueRunOptions, type TrialJob, type TrialJobResult, type WorkerRunOptions,
} from './queue.js';
