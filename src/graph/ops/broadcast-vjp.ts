/**
 * The vector-Jacobian rule every broadcasting binary op shares (Add, Sub, Mul, Div, Pow): each
 * operand's local gradient, summed over the axes that operand was broadcast along, and negated
 * after that sum where the op says so (Sub's and Div's second operand).
 */
import type { GradRule, RuleContext } from './types.js';

/** An operand's gradient before the broadcast sum, from `dy` (the output's gradient) and the node. */
export type OperandGrad = (ctx: RuleContext, dy: string) => string;

/** The rule of a binary op whose operands' gradients are `grads` (`negated[i]`: negate operand i's after its sum). */
export function broadcastVjp(grads: readonly [OperandGrad, OperandGrad], negated: readonly [boolean, boolean] = [false, false]): GradRule {
  return {
    backward(ctx) {
      const { e, node } = ctx;
      const dy = ctx.gradOutputs[0]!;
      const ys = ctx.shape(node.outputs[0]);
      return [0, 1].map((i) => {
        if (!ctx.needs[i]) return undefined;
        const v = node.inputs[i];
        const g = e.unbroadcast(grads[i](ctx, dy), ys, v, ctx.shape(v));
        return negated[i] ? e.neg(g) : g;
      });
    },
  };
}
