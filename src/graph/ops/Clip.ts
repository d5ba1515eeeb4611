/**
 * Clip (opset ≥ 11: min and max are optional inputs; older attribute forms are rewritten to inputs
 * by the opset upgrade): dx = dy where min ≤ x ≤ max (as torch.clamp), else 0. A min (max) given as
 * an input receives the sum of dy over the elements clipped to it (x < min, resp. x > max).
 * Assumes min ≤ max.
 */
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const clipRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [x, lo, hi] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    const all = ys.map((_, i) => i);
    const below = lo ? e.op('Less', [x, lo]) : undefined;
    const above = hi ? e.op('Greater', [x, hi]) : undefined;
    const zero = e.scalar(0);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (ctx.needs[0]) {
      let g = dy;
      if (below) g = e.op('Where', [below, zero, g]);
      if (above) g = e.op('Where', [above, zero, g]);
      res[0] = g;
    }
    if (lo && below && ctx.needs[1]) res[1] = e.reduceSum(e.op('Where', [below, dy, zero]), all, false);
    if (hi && above && ctx.needs[2]) res[2] = e.reduceSum(e.op('Where', [above, dy, zero]), all, false);
    return res;
  },
};

export const Clip: OpRecord = {
  opType: 'Clip',
  shape: sameShape,
  vjp: clipRule,
  lrp: 'pass',
  channels: 'elementwise',
};
