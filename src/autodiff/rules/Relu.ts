/** Relu: dx = dy where x > 0, else 0 (so 0 at x = 0, as PyTorch). */
import { registerRule, type GradRule } from '../rule.js';

export const reluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const pos = e.op('Greater', [x, e.scalar(0)]);
    return [e.op('Where', [pos, ctx.gradOutputs[0]!, e.scalar(0)])];
  },
};

registerRule('Relu', reluRule);
