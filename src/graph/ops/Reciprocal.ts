/** Reciprocal: dx = −dy·y², from the forward output y = 1/x. */
import { unaryMathRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const reciprocalRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    return [e.neg(e.mul(ctx.gradOutputs[0]!, e.mul(y, y)))];
  },
};

export const Reciprocal: OpRecord = {
  opType: 'Reciprocal',
  shape: unaryMathRule,
  vjp: reciprocalRule,
  transform: true,
};
