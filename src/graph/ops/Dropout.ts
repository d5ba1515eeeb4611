/**
 * Dropout. At inference (no training_mode input, or a constant false one) it is the identity:
 * dx = dy. In training mode y = x·mask/(1 − ratio), so dx = dy·mask/(1 − ratio), read from the
 * node's mask output (gradientGraph adds that output to training-mode Dropout nodes that lack it,
 * so the backward pass sees the very mask the forward pass drew). The ratio defaults to 0.5.
 */
import { DataType } from '../types.js';
import { NodeCtx } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function dropoutShape(c: NodeCtx): void {
  const x = c.shape(0);
  c.set(0, [...x], c.type(0), c.maybeValue(0));
  c.set(1, [...x], c.opset >= 10 ? DataType.BOOL : c.type(0));
}

export const dropoutRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const [, ratio, tm] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const none = node.inputs.slice(1).map(() => undefined);
    const tmValue = tm ? ctx.value(tm) : [0];
    if (tmValue && tmValue.every((v) => v === 0)) return [dy, ...none];
    const mask = node.outputs[1];
    if (!mask) throw ctx.fail('runs in training mode but exposes no mask output', 'add the mask output to the node');
    const ratioValue = ratio ? ctx.value(ratio) : [0.5];
    let scale = ratioValue ? e.scalar(1 / (1 - ratioValue[0])) : e.div(e.scalar(1), e.sub(e.scalar(1), ratio));
    if (!tmValue) scale = e.op('Where', [tm, scale, e.scalar(1)]);
    return [e.op('Where', [mask, e.mul(dy, scale), e.scalar(0)]), ...none];
  },
};

export const Dropout: OpRecord = {
  opType: 'Dropout',
  shape: dropoutShape,
  vjp: dropoutRule,
  lrp: 'pass',
  keepsSign: true,
  channels: 'elementwise',
  keepsLayerOutput: true,
};
