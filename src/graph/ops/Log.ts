/** Log: dx = dy / x. */
import { unaryMathRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const logRule: GradRule = {
  backward(ctx) {
    return [ctx.e.div(ctx.gradOutputs[0]!, ctx.node.inputs[0])];
  },
};

export const Log: OpRecord = {
  opType: 'Log',
  shape: unaryMathRule,
  vjp: logRule,
  transform: true,
};
