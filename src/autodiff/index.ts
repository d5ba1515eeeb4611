/**
 * Reverse-mode differentiation of ONNX graphs into ONNX graphs (run by onnxruntime), one
 * vector-Jacobian rule per op, and per-sample gradient graphs built on it. Graph builders only: running
 * them (onnxruntime) is done by `runtime/` and `analysis/` (e.g. analysis/per-sample.ts).
 */
export { gradientGraph, prune, type GradientGraph, type GradientOptions } from './gradient.js';
export { registerRule, registeredOps, ruleFor, NON_DIFFERENTIABLE, type GradRule, type RuleContext } from './rule.js';
export { Emitter } from './emitter.js';
export { upgradeOpset, GRADIENT_OPSET } from './opset.js';
export { perSampleGradGraph, convCosts, type ConvMethod, type PerSampleGraph, type PerSampleOptions, type SeedMode } from './per_sample.js';
