/** Identity: dx = dy. */
import { registerRule, type GradRule } from '../rule.js';

export const identityRule: GradRule = {
  backward: (ctx) => [ctx.gradOutputs[0]],
};

registerRule('Identity', identityRule);
