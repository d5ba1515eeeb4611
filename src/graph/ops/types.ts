/**
 * The shape of one op record (graph/ops/<Op>.ts): everything flipguard knows about an ONNX op.
 * The vector-Jacobian rule types live here (not in autodiff/) because a VJP rule only emits ONNX
 * nodes through graph/'s Emitter; the reverse sweep that calls the rules is autodiff/'s.
 */
import type { FlipguardError } from '../../errors.js';
import type { Emitter } from '../emitter.js';
import type { DataTypeCode, Node } from '../types.js';
import type { NodeCtx } from './shape-kit.js';

/** Records the shapes (and small folded values) of a node's outputs; throws a FlipguardError naming the node on bad input. */
export type ShapeRule = (c: NodeCtx) => void;

/** What a VJP rule sees of the forward graph and where it writes. */
export interface RuleContext {
  /** Emits gradient nodes (name prefix, cached constants, shape-aware helpers). */
  readonly e: Emitter;
  /** The forward node (after the opset upgrade to ≥ 17). */
  readonly node: Node;
  /** Gradient name of each output of `node`, or undefined when that output gets no gradient. */
  readonly gradOutputs: readonly (string | undefined)[];
  /** Whether the gradient of each input is wanted (on a path from a `wrt` value). */
  readonly needs: readonly boolean[];
  /** Concrete shape of a value at the shape-inference batch size (throws if unknown). */
  shape(value: string): number[];
  /** Folded constant value of a (small) value, flattened row-major, or undefined when only known at run time. */
  value(value: string): number[] | undefined;
  /** ONNX element type of a value. */
  type(value: string): DataTypeCode;
  /** A FlipguardError "Cannot differentiate node "x" (Op): <problem>; <fix>." */
  fail(problem: string, fix?: string): FlipguardError;
}

export interface GradRule {
  /**
   * Input positions through which a gradient can flow (indices, shapes, axes… are not among them).
   * Default: every input. An empty list marks an op whose outputs do not depend differentiably on
   * its inputs (Shape, Constant, …); such a node is never differentiated.
   */
  differentiableInputs?(node: Node): number[];
  /**
   * Emits the vector-Jacobian product. Returns one entry per input of the node: the name of that
   * input's gradient, or undefined when it is not needed (see `ctx.needs`) or is zero.
   */
  backward(ctx: RuleContext): (string | undefined)[];
}

/** A rule for ops whose outputs carry no gradient to their inputs (Shape, Constant, …). */
export const NON_DIFFERENTIABLE: GradRule = {
  differentiableInputs: () => [],
  backward: (ctx) => ctx.node.inputs.map(() => undefined),
};

/**
 * How relevance (LRP: analysis/lrp-rules.ts, an override of autodiff's sweep) crosses the op:
 * - 'linear': a layer with stored weights (Conv, Gemm, MatMul); the composite's rule applies;
 * - 'pass': relevance passes unchanged (activations, identities);
 * - 'route': relevance is routed like the gradient (each output element to the input it came from);
 * - 'norm': the ε-rule of the op itself, R_k = x_k ⊙ VJP_k(R/(z + ε·sign z)) (proportional sharing;
 *   a constant operand absorbs its share);
 * - 'gate': as 'norm', but when both operands are computed the one computed from the other (the gate:
 *   sigmoid(x) in x·sigmoid(x), the squeeze-excitation scale, a normalising denominator) is held
 *   constant and all relevance flows through the other operand, as the LRP literature does for
 *   gated products.
 */
export type LrpRole = 'linear' | 'pass' | 'route' | 'norm' | 'gate';

/**
 * How output channels relate to input channels (structured pruning, channel duplication):
 * - 'elementwise': output channel c depends on input channel c only, same layout (activations);
 * - 'pool': per channel, spatial positions change (pooling);
 * - 'binary': broadcasting arithmetic of operands sharing the channel axis;
 * - 'reduce': a reduction whose axes decide whether channels survive (spatial axes only: per channel);
 * - 'special': the consumer analyses the op itself (Conv, Gemm, Concat, Reshape, …);
 * - absent: channels cannot be followed through the op.
 */
export type ChannelKind = 'elementwise' | 'pool' | 'binary' | 'reduce' | 'special';

/** Where the campaign's prefix shortcut (campaign/engine.ts) may cut a graph. */
export interface CampaignRole {
  /** The op's data input is a cut point (a layer with stored weights). */
  cut?: boolean;
  /** After this producer a cut may also feed skip connections (onnxruntime fuses nothing across it). */
  safeProducer?: boolean;
  /** A skip-connection consumer (a cut value may also feed it). */
  skip?: boolean;
  /**
   * An activation quantization step (QuantizeLinear, DequantizeLinear): a cut may sit before a
   * chain of them that ends at layer inputs, so the suffix holds the whole QDQ pattern that
   * onnxruntime fuses into its integer kernel, exactly as the full model does.
   */
  qdq?: boolean;
}

/** What a stored tensor is to the op that computes with it (graph/count.ts ParameterTensor.role). */
export type ParameterRole = 'weight' | 'bias' | 'bn_scale' | 'bn_bias' | 'bn_mean' | 'bn_var' | 'scale' | 'zero_point' | 'other';

/** Everything flipguard knows about one default-domain ONNX op. */
export interface OpRecord {
  readonly opType: string;
  /** Shape inference (graph/shapes.ts). Absent: the op may appear only in graphs flipguard builds (training loss). */
  readonly shape?: ShapeRule;
  /** Multiply-accumulates of one node for the whole batch the shapes hold; absent: 0 (not a layer). */
  readonly macs?: (node: Node, shapes: Map<string, number[]>) => number;
  /** Vector-Jacobian rule (autodiff/); absent: the op cannot be differentiated through. */
  readonly vjp?: GradRule;
  /** LRP role; absent: relevance cannot cross the op. */
  readonly lrp?: LrpRole;
  /** The first output is ≥ 0 wherever the first input is (lets LRP drop z⁻ terms after it). */
  readonly keepsSign?: boolean;
  /** Channel propagation (prune/, harden/). */
  readonly channels?: ChannelKind;
  /** Campaign cut-point role. */
  readonly campaign?: CampaignRole;
  /** Only moves or re-types data: parameter tracing (graph/count.ts) looks through it to the layer that uses a tensor. */
  readonly movesData?: boolean;
  /** Role of the tensor at each input position (graph/count.ts); positions beyond the list are 'other'. */
  readonly inputRoles?: readonly ParameterRole[];
  /** Owns parameters (a layer): tracing a constant subgraph stops at it (graph/count.ts). */
  readonly ownsParameters?: boolean;
  /** A layer whose output passes through it still produces the model's output (analysis/scores.ts). */
  readonly keepsLayerOutput?: boolean;
  /**
   * A quantization op (QuantizeLinear, DequantizeLinear, QLinearConv, ConvInteger, …): the integer
   * initializers it reads (int8/uint8 weights and zero points, int32 biases) are stored parameters
   * and fault targets (graph/count.ts).
   */
  readonly quantized?: boolean;
  /**
   * Dequantizes its input 0 (DequantizeLinear): parameter tracing looks through it from every input,
   * so a stored int8 weight, its scale and zero point all belong to the layer that computes with the
   * dequantized weight; the scale and zero point keep the role of their position here (`inputRoles`).
   */
  readonly dequantizes?: boolean;
  /**
   * Computes on quantized words exactly what it computes on the values they stand for (it only
   * moves or selects elements: MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity),
   * so a QuantizeLinear before it and a DequantizeLinear after it can both be dropped for scores
   * (formats/dequantize.ts).
   */
  readonly commutesWithQuantization?: boolean;
  /** Emitted by flipguard's own transforms (comparisons, selection, math): not a layer, no parameters. */
  readonly transform?: boolean;
}
