/** GlobalAveragePool: dx = dy / (spatial size), broadcast over the spatial axes. */
import { registerRule, type GradRule } from '../rule.js';

export const globalAveragePoolRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const area = ctx.shape(x).slice(2).reduce((p, q) => p * q, 1);
    return [e.op('Expand', [e.scale(ctx.gradOutputs[0]!, 1 / area), e.shapeOf(x)])];
  },
};

registerRule('GlobalAveragePool', globalAveragePoolRule);
