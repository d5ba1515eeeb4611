/** Expand: dx = dy summed over the axes the input was broadcast along (the shape input gets no gradient). LRP: routed like the gradient. */
import { NodeCtx, broadcastShapes, fmt, foldElementwise } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/** Expand: the input broadcast with the target shape (which may keep input sizes by giving 1). */
function expandShape(c: NodeCtx): void {
  const x = c.shape(0);
  const target = c.value(1, 'shape');
  const out = broadcastShapes(x, target);
  if (!out) throw c.fail(`cannot expand ${fmt(x)} to ${fmt(target)}`);
  const dt = c.type(0);
  c.set(0, out, dt, foldElementwise(c, [0], out, dt, ([v]) => v));
}

export const expandRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    return [e.unbroadcast(ctx.gradOutputs[0]!, ctx.shape(node.outputs[0]), x, ctx.shape(x)), undefined];
  },
};

export const Expand: OpRecord = {
  opType: 'Expand',
  shape: expandShape,
  vjp: expandRule,
  lrp: 'route',
  keepsSign: true,
  transform: true,
};
