/** Flatten: dx = dy reshaped to x's run-time shape. */
import { registerRule, type GradRule } from '../rule.js';

/** The gradient rule of every op that only changes the shape: dx = reshape(dy, shape(x)). */
export const reshapeLikeInputRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const x = ctx.node.inputs[0];
    return [ctx.e.reshapeLike(ctx.gradOutputs[0]!, x), ...ctx.node.inputs.slice(1).map(() => undefined)];
  },
};

registerRule('Flatten', reshapeLikeInputRule);
