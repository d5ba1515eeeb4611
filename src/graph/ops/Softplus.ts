/** Softplus: y = ln(1 + eˣ). dx = dy·sigmoid(x). */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const softplusRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    return [e.mul(ctx.gradOutputs[0]!, e.op('Sigmoid', [node.inputs[0]]))];
  },
};

export const Softplus: OpRecord = {
  opType: 'Softplus',
  shape: sameShape,
  vjp: softplusRule,
  lrp: 'pass',
  channels: 'elementwise',
};
