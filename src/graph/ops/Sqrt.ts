/** Sqrt: dx = dy / (2·y), from the forward output y. */
import { unaryMathRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const sqrtRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    return [e.div(ctx.gradOutputs[0]!, e.scale(node.outputs[0], 2))];
  },
};

export const Sqrt: OpRecord = {
  opType: 'Sqrt',
  shape: unaryMathRule,
  vjp: sqrtRule,
  transform: true,
};
