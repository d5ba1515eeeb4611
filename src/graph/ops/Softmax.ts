/**
 * Softmax over one axis (opset ≥ 13 semantics; older models are rewritten by the opset upgrade):
 * dx = y·(dy − Σ_axis dy·y).
 */
import { attrInt } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord, type RuleContext } from './types.js';

/** The normalised axis (default −1, made non-negative) of a Softmax or LogSoftmax node, for its VJP. */
export function softmaxAxis(ctx: RuleContext): number {
  const axis = attrInt(ctx.node, 'axis', -1);
  return axis < 0 ? axis + ctx.shape(ctx.node.outputs[0]).length : axis;
}

export const softmaxRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const y = node.outputs[0];
    const dy = ctx.gradOutputs[0]!;
    const s = e.reduceSum(e.mul(dy, y), [softmaxAxis(ctx)], true);
    return [e.mul(y, e.sub(dy, s))];
  },
};

export const Softmax: OpRecord = {
  opType: 'Softmax',
  shape: sameShape,
  vjp: softmaxRule,
  keepsLayerOutput: true,
};
