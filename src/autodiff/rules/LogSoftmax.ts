/**
 * LogSoftmax over one axis (opset ≥ 13 semantics; older models are rewritten by the opset upgrade):
 * dx = dy − exp(y)·Σ_axis dy.
 */
import { attrInt } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const logSoftmaxRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    const dy = ctx.gradOutputs[0]!;
    const rank = ctx.shape(y).length;
    let axis = attrInt(node, 'axis', -1);
    if (axis < 0) axis += rank;
    const s = e.reduceSum(dy, [axis], true);
    return [e.sub(dy, e.mul(e.op('Exp', [y]), s))];
  },
};

registerRule('LogSoftmax', logSoftmaxRule);
