/**
 * HardSwish (MobileNetV3): y = x·max(0, min(1, x/6 + 1/2)). dx = dy·(x/3 + 1/2) for −3 < x < 3,
 * dy for x ≥ 3, 0 for x ≤ −3 (at the kinks the one-sided value PyTorch uses: 0 at −3, 1 at 3).
 */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const hardSwishRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const inner = e.add(e.scale(x, 1 / 3), e.scalar(0.5));
    const slope = e.op('Where', [e.op('Less', [x, e.scalar(3)]), inner, e.scalar(1)]);
    const d = e.op('Where', [e.op('Greater', [x, e.scalar(-3)]), slope, e.scalar(0)]);
    return [e.mul(ctx.gradOutputs[0]!, d)];
  },
};

export const HardSwish: OpRecord = {
  opType: 'HardSwish',
  shape: sameShape,
  vjp: hardSwishRule,
  lrp: 'pass',
  channels: 'elementwise',
};
