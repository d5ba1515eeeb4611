/**
 * flipguard's library API. The CLI is one client of these functions; each subcommand wraps one.
 *
 * Conventions used throughout: bit 0 is the least significant mantissa bit of an IEEE-754 float32,
 * bits 23–30 the exponent, bit 31 the sign; a bit error rate (BER) is the probability that any one
 * stored bit flips; an accuracy drop is in percentage points (golden − faulty) × 100.
 */
export { FlipguardError } from './errors.js';
export * from './graph/index.js';
export { ModelRunner, createSession, paramsAsInputs, dataInput, type RuntimeOptions, type ExecutionProvider } from './runtime/session.js';
export { evaluate, predict, argmaxRows, countCorrect, checkDataFitsModel, type ImageSet, type Predictions, type EvaluationResult, type EvaluateOptions } from './runtime/evaluate.js';
export { PatchableModel, type BitFlip } from './runtime/patch.js';
export * from './data/index.js';
export { augmentBatch, type AugmentOptions } from './data/augment.js';
export { Rng } from './util/rng.js';
export * from './models/index.js';
export { gradientGraph, registerRule, registeredOps, ruleFor, NON_DIFFERENTIABLE, Emitter, upgradeOpset, GRADIENT_OPSET, perSampleGradGraph, type GradientGraph, type GradientOptions, type GradRule, type RuleContext, type PerSampleGraph, type PerSampleOptions } from './autodiff/index.js';
export { train, trainingGraph, trainableParameters, withParameters, type TrainOptions, type TrainResult, type TrainProgress, type EpochRecord } from './train/train.js';
export { createOptimizer, scheduledLr, type Optimizer, type OptimizerOptions, type ScheduleOptions } from './train/optim.js';
export * from './faults/index.js';
export * from './campaign/index.js';
export * from './analysis/index.js';
export * from './harden/index.js';
export * from './prune/index.js';
export { writeReport, buildReportData, loadInputs, type WriteReportOptions, type WriteReportResult, type ReportOptions } from './report/index.js';
export { runDemo, demoSettings, DEFAULT_MODEL, type DemoOptions, type DemoResult } from './report/demo.js';
