/**
 * Vector-Jacobian rules: one per ONNX op type, registered by op type. A rule receives the forward
 * node, the names of the gradients of its outputs and the static shapes, and emits ONNX nodes (via
 * an `Emitter`) that compute the gradients of the inputs it is asked for. It never computes tensor
 * values itself: everything it returns is the name of a value onnxruntime will compute.
 *
 * Conventions: a gradient has the shape of the value it belongs to; "no gradient" is `undefined`
 * (the caller treats it as zero and adds nothing).
 */
import { FlipguardError } from '../errors.js';
import type { DataTypeCode, Node } from '../graph/types.js';
import type { Emitter } from './emitter.js';

/** What a rule sees of the forward graph and where it writes. */
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

const REGISTRY = new Map<string, GradRule>();

/** Registers the rule for a default-domain op type (a later registration replaces an earlier one). */
export function registerRule(opType: string, rule: GradRule): void {
  REGISTRY.set(opType, rule);
}

/** The rule for a node, or undefined (only default-domain ops have rules). */
export function ruleFor(node: Pick<Node, 'opType' | 'domain'>): GradRule | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  return REGISTRY.get(node.opType);
}

/** Op types with a registered rule, sorted. */
export function registeredOps(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** Input positions a rule differentiates for `node`. */
export function differentiableSlots(rule: GradRule, node: Node): number[] {
  return rule.differentiableInputs ? rule.differentiableInputs(node) : node.inputs.map((_, i) => i);
}

/** A rule for ops whose outputs carry no gradient to their inputs (Shape, Constant, …). */
export const NON_DIFFERENTIABLE: GradRule = {
  differentiableInputs: () => [],
  backward: (ctx) => ctx.node.inputs.map(() => undefined),
};

/** Whether a rule marks its op as never differentiable. */
export function isNonDifferentiable(rule: GradRule, node: Node): boolean {
  return differentiableSlots(rule, node).length === 0;
}
