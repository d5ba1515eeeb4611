/**
 * Erf (GELU as exported before opset 20: x·½·(1 + erf(x/√2))). dx = dy·(2/√π)·e^(−x²). In a
 * GELU the erf branch is the gate LRP holds constant (see Mul).
 */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const erfRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const bell = e.op('Exp', [e.neg(e.mul(x, x))]);
    return [e.mul(ctx.gradOutputs[0]!, e.scale(bell, 2 / Math.sqrt(Math.PI)))];
  },
};

export const Erf: OpRecord = {
  opType: 'Erf',
  shape: sameShape,
  vjp: erfRule,
  lrp: 'pass',
  channels: 'elementwise',
};
