/**
 * LogSoftmax over one axis (opset ≥ 13 semantics; older models are rewritten by the opset upgrade):
 * dx = dy − exp(y)·Σ_axis dy.
 */
import { softmaxAxis } from './Softmax.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const logSoftmaxRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    const dy = ctx.gradOutputs[0]!;
    const s = e.reduceSum(dy, [softmaxAxis(ctx)], true);
    return [e.sub(dy, e.mul(e.op('Exp', [y]), s))];
  },
};

export const LogSoftmax: OpRecord = {
  opType: 'LogSoftmax',
  shape: sameShape,
  vjp: logSoftmaxRule,
  keepsLayerOutput: true,
};
