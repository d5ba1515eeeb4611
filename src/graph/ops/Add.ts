/** Add (broadcasting): da = dy and db = dy, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const addRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    return node.inputs.map((v, i) => (ctx.needs[i] ? e.unbroadcast(dy, ys, v, ctx.shape(v)) : undefined));
  },
};

export const Add: OpRecord = {
  opType: 'Add',
  shape: binaryRule,
  vjp: addRule,
  lrp: 'norm',
  channels: 'binary',
  campaign: { skip: true },
};
