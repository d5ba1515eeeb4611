/** LeakyRelu (alpha default 0.01): dx = dy where x > 0, else alpha·dy. */
import { attrFloat } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const leakyReluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const dy = ctx.gradOutputs[0]!;
    const alpha = attrFloat(node, 'alpha', 0.01);
    const pos = e.op('Greater', [x, e.scalar(0)]);
    return [e.op('Where', [pos, dy, e.scale(dy, alpha)])];
  },
};

registerRule('LeakyRelu', leakyReluRule);
