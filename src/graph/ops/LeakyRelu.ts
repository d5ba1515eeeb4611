/** LeakyRelu (alpha default 0.01): dx = dy where x > 0, else alpha·dy. */
import { attrFloat } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const leakyReluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const dy = ctx.gradOutputs[0]!;
    const alpha = attrFloat(node, 'alpha', 0.01);
    const pos = e.op('Greater', [x, e.scalar(0)]);
    return [e.op('Where', [pos, dy, e.scale(dy, alpha)])];
  },
};

export const LeakyRelu: OpRecord = {
  opType: 'LeakyRelu',
  shape: sameShape,
  vjp: leakyReluRule,
  lrp: 'pass',
  channels: 'elementwise',
};
