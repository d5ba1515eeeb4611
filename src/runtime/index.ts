/** onnxruntime sessions, batched evaluation, parameter swapping and timing (`flipguard/runtime`). */
export { ModelRunner, createSession, sessionOptions, paramsAsInputs, dataInput, toOrt, type RuntimeOptions, type ExecutionProvider } from './session.js';
export { evaluate, predict, argmaxRows, countCorrect, checkDataFitsModel, fixedBatch, DEFAULT_BATCH, type ImageSet, type Predictions, type EvaluationResult, type EvaluateOptions } from './evaluate.js';
export { PatchableModel, type BitFlip } from './patch.js';
export { timeInference, timeInferenceMany, median, type TimingOptions } from './timing.js';
export { runBatched, imageBatches, floatTensor, int64Tensor, type BatchedRunOptions, type ImageBatch, type RunOutputs, type RunTensor, type Session } from './batched.js';
