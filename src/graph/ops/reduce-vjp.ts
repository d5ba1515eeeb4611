/**
 * The vector-Jacobian rules of ReduceSum, ReduceMean, ReduceMax and ReduceMin, shared by their
 * records. Axes come from the attribute (ReduceSum before opset 13, the others before 18) or from
 * the constant axes input; none (or an empty list) reduces every axis unless
 * noop_with_empty_axes = 1, which makes the op the identity.
 */
import { attrInt, attrInts } from '../builder.js';
import type { Node } from '../types.js';
import type { GradRule, RuleContext } from './types.js';

/** Reduced axes (non-negative, ascending), or 'noop' when the node passes its input through. */
function reducedAxes(ctx: RuleContext, node: Node): number[] | 'noop' {
  const rank = ctx.shape(node.inputs[0]).length;
  let axes = attrInts(node, 'axes');
  if (!axes && node.inputs[1]) {
    axes = ctx.value(node.inputs[1]);
    if (!axes) throw ctx.fail('reduces over axes computed at run time', 're-export the model with constant axes');
  }
  if (!axes || !axes.length) {
    if (attrInt(node, 'noop_with_empty_axes', 0) !== 0) return 'noop';
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/**
 * The rule for one reduction: Sum spreads dy over every reduced element, Mean divides it by their
 * count, Max/Min give it to the elements equal to the result (every one of them on ties).
 */
export function reduceVjp(kind: 'sum' | 'mean' | 'extreme'): GradRule {
  return {
    differentiableInputs: () => [0],
    backward(ctx) {
      const { e, node } = ctx;
      const x = node.inputs[0];
      const dy = ctx.gradOutputs[0]!;
      const rest = node.inputs.slice(1).map(() => undefined);
      const axes = reducedAxes(ctx, node);
      if (axes === 'noop') return [dy, ...rest];
      // back to the input's rank: a size-1 axis where each reduced axis was
      const keep = (v: string) => (attrInt(node, 'keepdims', 1) !== 0 ? v : e.unsqueeze(v, axes));
      const spread = e.op('Expand', [keep(dy), e.shapeOf(x)]);
      if (kind === 'sum') return [spread, ...rest];
      if (kind === 'mean') {
        const xs = ctx.shape(x);
        const count = axes.reduce((p, a) => p * xs[a], 1);
        return [e.scale(spread, 1 / count), ...rest];
      }
      const hit = e.op('Equal', [x, keep(node.outputs[0])]);
      return [e.op('Where', [hit, spread, e.scalar(0)]), ...rest];
    },
  };
}
