/** Sub (broadcasting): da = dy, db = −dy, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const subRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    return [
      ctx.needs[0] ? e.unbroadcast(dy, ys, a, ctx.shape(a)) : undefined,
      ctx.needs[1] ? e.neg(e.unbroadcast(dy, ys, b, ctx.shape(b))) : undefined,
    ];
  },
};

export const Sub: OpRecord = {
  opType: 'Sub',
  shape: binaryRule,
  vjp: subRule,
  lrp: 'norm',
  channels: 'binary',
};
