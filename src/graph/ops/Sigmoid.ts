/** Sigmoid: dx = dy·y·(1 − y), from the forward output y. */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const sigmoidRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    return [e.mul(ctx.gradOutputs[0]!, e.mul(y, e.sub(e.scalar(1), y)))];
  },
};

export const Sigmoid: OpRecord = {
  opType: 'Sigmoid',
  shape: sameShape,
  vjp: sigmoidRule,
  lrp: 'pass',
  channels: 'elementwise',
};
