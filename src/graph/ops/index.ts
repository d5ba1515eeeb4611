/**
 * The op registry: one file per ONNX op (graph/ops/<Op>.ts), each exporting one OpRecord with
 * everything flipguard knows about the op — shape rule, MACs, vector-Jacobian rule, LRP role, channel
 * propagation, campaign cut-point role. Every per-op table elsewhere (supported ops, shape rules,
 * counting, autodiff, LRP, pruning, campaign cuts) is derived from this registry, so adding an op is
 * adding one file here (and its import below) plus its finite-difference and shape test rows.
 *
 * Where the VJP rules live, and why dependencies still point downward: DESIGN says graph/ depends
 * on nothing of ours, and autodiff/ on graph/. A VJP rule needs only to emit ONNX nodes, which it
 * does through the Emitter — a graph-building helper, so it lives in graph/ (graph/emitter.ts),
 * together with the rule types (ops/types.ts) and the conv/pool window geometry (ops/window.ts).
 * The records therefore import nothing outside graph/; autodiff/ keeps the reverse sweep
 * (gradient.ts) and reads each op's rule from here, as analysis/, prune/ and campaign/ read theirs.
 */
import type { OpRecord } from './types.js';
import { Abs } from './Abs.js';
import { Add } from './Add.js';
import { And } from './And.js';
import { AveragePool } from './AveragePool.js';
import { BatchNormalization } from './BatchNormalization.js';
import { Cast } from './Cast.js';
import { Ceil } from './Ceil.js';
import { Clip } from './Clip.js';
import { Concat } from './Concat.js';
import { Constant } from './Constant.js';
import { ConstantOfShape } from './ConstantOfShape.js';
import { Conv } from './Conv.js';
import { ConvInteger } from './ConvInteger.js';
import { ConvTranspose } from './ConvTranspose.js';
import { DequantizeLinear } from './DequantizeLinear.js';
import { Div } from './Div.js';
import { Dropout } from './Dropout.js';
import { Elu } from './Elu.js';
import { Equal } from './Equal.js';
import { Erf } from './Erf.js';
import { Exp } from './Exp.js';
import { Expand } from './Expand.js';
import { Flatten } from './Flatten.js';
import { Floor } from './Floor.js';
import { Gather } from './Gather.js';
import { GatherElements } from './GatherElements.js';
import { Gelu } from './Gelu.js';
import { Gemm } from './Gemm.js';
import { GlobalAveragePool } from './GlobalAveragePool.js';
import { Greater } from './Greater.js';
import { GreaterOrEqual } from './GreaterOrEqual.js';
import { HardSigmoid } from './HardSigmoid.js';
import { HardSwish } from './HardSwish.js';
import { Identity } from './Identity.js';
import { IsInf } from './IsInf.js';
import { IsNaN } from './IsNaN.js';
import { LayerNormalization } from './LayerNormalization.js';
import { LeakyRelu } from './LeakyRelu.js';
import { Less } from './Less.js';
import { LessOrEqual } from './LessOrEqual.js';
import { Log } from './Log.js';
import { LogSoftmax } from './LogSoftmax.js';
import { MatMul } from './MatMul.js';
import { MatMulInteger } from './MatMulInteger.js';
import { Max } from './Max.js';
import { MaxPool } from './MaxPool.js';
import { Min } from './Min.js';
import { Mod } from './Mod.js';
import { Mul } from './Mul.js';
import { Neg } from './Neg.js';
import { Not } from './Not.js';
import { Or } from './Or.js';
import { PRelu } from './PRelu.js';
import { Pad } from './Pad.js';
import { Pow } from './Pow.js';
import { QLinearConv } from './QLinearConv.js';
import { QLinearMatMul } from './QLinearMatMul.js';
import { QuantizeLinear } from './QuantizeLinear.js';
import { Range } from './Range.js';
import { Reciprocal } from './Reciprocal.js';
import { ReduceMax } from './ReduceMax.js';
import { ReduceMean } from './ReduceMean.js';
import { ReduceMin } from './ReduceMin.js';
import { ReduceSum } from './ReduceSum.js';
import { Relu } from './Relu.js';
import { Reshape } from './Reshape.js';
import { ScatterElements } from './ScatterElements.js';
import { ScatterND } from './ScatterND.js';
import { Shape } from './Shape.js';
import { Sigmoid } from './Sigmoid.js';
import { Sign } from './Sign.js';
import { Slice } from './Slice.js';
import { Softmax } from './Softmax.js';
import { SoftmaxCrossEntropyLoss } from './SoftmaxCrossEntropyLoss.js';
import { Softplus } from './Softplus.js';
import { Split } from './Split.js';
import { Sqrt } from './Sqrt.js';
import { Squeeze } from './Squeeze.js';
import { Sub } from './Sub.js';
import { Tanh } from './Tanh.js';
import { Tile } from './Tile.js';
import { TopK } from './TopK.js';
import { Transpose } from './Transpose.js';
import { Unsqueeze } from './Unsqueeze.js';
import { Where } from './Where.js';
import { Xor } from './Xor.js';

/** Every op record, keyed by op type (default ONNX domain). */
export const OP_REGISTRY: ReadonlyMap<string, OpRecord> = new Map(
  [
    Abs,
    Add,
    And,
    AveragePool,
    BatchNormalization,
    Cast,
    Ceil,
    Clip,
    Concat,
    Constant,
    ConstantOfShape,
    Conv,
    ConvInteger,
    ConvTranspose,
    DequantizeLinear,
    Div,
    Dropout,
    Elu,
    Equal,
    Erf,
    Exp,
    Expand,
    Flatten,
    Floor,
    Gather,
    GatherElements,
    Gelu,
    Gemm,
    GlobalAveragePool,
    Greater,
    GreaterOrEqual,
    HardSigmoid,
    HardSwish,
    Identity,
    IsInf,
    IsNaN,
    LayerNormalization,
    LeakyRelu,
    Less,
    LessOrEqual,
    Log,
    LogSoftmax,
    MatMul,
    MatMulInteger,
    Max,
    MaxPool,
    Min,
    Mod,
    Mul,
    Neg,
    Not,
    Or,
    PRelu,
    Pad,
    Pow,
    QLinearConv,
    QLinearMatMul,
    QuantizeLinear,
    Range,
    Reciprocal,
    ReduceMax,
    ReduceMean,
    ReduceMin,
    ReduceSum,
    Relu,
    Reshape,
    ScatterElements,
    ScatterND,
    Shape,
    Sigmoid,
    Sign,
    Slice,
    Softmax,
    SoftmaxCrossEntropyLoss,
    Softplus,
    Split,
    Sqrt,
    Squeeze,
    Sub,
    Tanh,
    Tile,
    TopK,
    Transpose,
    Unsqueeze,
    Where,
    Xor,
  ].map((r) => [r.opType, r]),
);

/** The record of a default-domain op type, or undefined. */
export function opRecord(opType: string): OpRecord | undefined {
  return OP_REGISTRY.get(opType);
}

/** Op types whose record satisfies `pred`, in registry (alphabetical) order. */
export function opsWhere(pred: (r: OpRecord) => boolean): string[] {
  return [...OP_REGISTRY.values()].filter(pred).map((r) => r.opType);
}

/** A set of the op types whose record satisfies `pred` (to derive a module's table from the registry). */
export function opSet(pred: (r: OpRecord) => boolean): ReadonlySet<string> {
  return new Set(opsWhere(pred));
}

export type { OpRecord, ShapeRule, GradRule, RuleContext, LrpRole, ChannelKind, CampaignRole } from './types.js';
export { NON_DIFFERENTIABLE } from './types.js';
