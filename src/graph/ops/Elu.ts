/** Elu (alpha default 1): y = x for x > 0, alpha·(eˣ − 1) otherwise. dx = dy for x > 0, dy·(y + alpha) otherwise. */
import { attrFloat } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const eluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const dy = ctx.gradOutputs[0]!;
    const alpha = attrFloat(node, 'alpha', 1);
    const neg = e.mul(dy, e.add(node.outputs[0], e.scalar(alpha)));
    return [e.op('Where', [e.op('Greater', [x, e.scalar(0)]), dy, neg])];
  },
};

export const Elu: OpRecord = {
  opType: 'Elu',
  shape: sameShape,
  vjp: eluRule,
  lrp: 'pass',
  channels: 'elementwise',
};
