/**
 * The graph layer: the in-memory ONNX model (IR types), lossless ONNX read/write, the supported
 * op registry (graph/ops/: one record per op) and the supported op set, shape inference, parameter
 * and MAC counting, and helpers to build graphs.
 */
export * from './types.js';
export * from './dtype.js';
export * from './protobuf.js';
export * from './onnx.js';
export * from './builder.js';
export * from './ops.js';
export * from './shapes.js';
export * from './count.js';
export * from './info.js';
export * from './load.js';
export { upgradeOpset, upgradeNotice, GRADIENT_OPSET } from './upgrade.js';
export { OP_REGISTRY, opRecord, opsWhere, opSet, NON_DIFFERENTIABLE, type OpRecord, type ShapeRule, type GradRule, type RuleContext, type LrpRole, type ChannelKind, type CampaignRole } from './ops/index.js';
export { Emitter } from './emitter.js';
