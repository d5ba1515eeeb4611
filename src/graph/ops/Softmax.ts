/**
 * Softmax over one axis (opset ≥ 13 semantics; older models are rewritten by the opset upgrade):
 * dx = y·(dy − Σ_axis dy·y).
 */
import { attrInt } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const softmaxRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    const dy = ctx.gradOutputs[0]!;
    const rank = ctx.shape(y).length;
    let axis = attrInt(node, 'axis', -1);
    if (axis < 0) axis += rank;
    const s = e.reduceSum(e.mul(dy, y), [axis], true);
    return [e.mul(y, e.sub(dy, s))];
  },
};

export const Softmax: OpRecord = {
  opType: 'Softmax',
  shape: sameShape,
  vjp: softmaxRule,
  keepsLayerOutput: true,
};
