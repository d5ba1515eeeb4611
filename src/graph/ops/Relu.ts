/** Relu: dx = dy where x > 0, else 0 (so 0 at x = 0, as PyTorch). */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const reluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const pos = e.op('Greater', [x, e.scalar(0)]);
    return [e.op('Where', [pos, ctx.gradOutputs[0]!, e.scalar(0)])];
  },
};

export const Relu: OpRecord = {
  opType: 'Relu',
  shape: sameShape,
  vjp: reluRule,
  lrp: 'pass',
  channels: 'elementwise',
  campaign: { safeProducer: true },
};
