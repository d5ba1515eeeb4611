/** Tanh: dx = dy·(1 − y²), from the forward output y. */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const tanhRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    return [e.mul(ctx.gradOutputs[0]!, e.sub(e.scalar(1), e.mul(y, y)))];
  },
};

export const Tanh: OpRecord = {
  opType: 'Tanh',
  shape: sameShape,
  vjp: tanhRule,
  lrp: 'pass',
  channels: 'elementwise',
};
