/** Neg: dx = −dy. */
import { unaryMathRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const negRule: GradRule = {
  backward(ctx) {
    return [ctx.e.neg(ctx.gradOutputs[0]!)];
  },
};

export const Neg: OpRecord = {
  opType: 'Neg',
  shape: unaryMathRule,
  vjp: negRule,
  transform: true,
};
