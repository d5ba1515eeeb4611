/** onnxruntime sessions, batched evaluation and parameter swapping (`flipguard/runtime`). */
export { ModelRunner, createSession, sessionOptions, paramsAsInputs, dataInput, toOrt, type RuntimeOptions, type ExecutionProvider } from './session.js';
export { evaluate, predict, argmaxRows, countCorrect, checkDataFitsModel, fixedBatch, type ImageSet, type Predictions, type EvaluationResult, type EvaluateOptions } from './evaluate.js';
export { PatchableModel, type BitFlip } from './patch.js';
