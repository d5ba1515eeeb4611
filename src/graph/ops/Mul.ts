/** Mul (broadcasting): da = dy·b, db = dy·a, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const mulRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    return [
      ctx.needs[0] ? e.unbroadcast(e.mul(dy, b), ys, a, ctx.shape(a)) : undefined,
      ctx.needs[1] ? e.unbroadcast(e.mul(dy, a), ys, b, ctx.shape(b)) : undefined,
    ];
  },
};

export const Mul: OpRecord = {
  opType: 'Mul',
  shape: binaryRule,
  vjp: mulRule,
  lrp: 'gate',
  channels: 'binary',
};
