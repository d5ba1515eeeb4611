/** Tanh: dx = dy·(1 − y²), from the forward output y. */
import { registerRule, type GradRule } from '../rule.js';

export const tanhRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    return [e.mul(ctx.gradOutputs[0]!, e.sub(e.scalar(1), e.mul(y, y)))];
  },
};

registerRule('Tanh', tanhRule);
