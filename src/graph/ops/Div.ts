/** Div (broadcasting, y = a / b): da = dy / b, db = −dy·y / b, each summed over its broadcast axes. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const divRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b] = node.inputs;
    const y = node.outputs[0];
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(y);
    return [
      ctx.needs[0] ? e.unbroadcast(e.div(dy, b), ys, a, ctx.shape(a)) : undefined,
      ctx.needs[1] ? e.neg(e.unbroadcast(e.div(e.mul(dy, y), b), ys, b, ctx.shape(b))) : undefined,
    ];
  },
};

export const Div: OpRecord = {
  opType: 'Div',
  shape: binaryRule,
  vjp: divRule,
  lrp: 'gate',
  channels: 'binary',
};
