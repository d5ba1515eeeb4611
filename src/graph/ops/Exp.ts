/** Exp: dx = dy·y, from the forward output y. */
import { unaryMathRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const expRule: GradRule = {
  backward(ctx) {
    return [ctx.e.mul(ctx.gradOutputs[0]!, ctx.node.outputs[0])];
  },
};

export const Exp: OpRecord = {
  opType: 'Exp',
  shape: unaryMathRule,
  vjp: expRule,
  transform: true,
};
