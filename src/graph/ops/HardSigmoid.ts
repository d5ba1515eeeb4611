/**
 * HardSigmoid (alpha default 0.2, beta 0.5; PyTorch exports alpha = 1/6): y = max(0, min(1, alpha·x
 * + beta)). dx = alpha·dy where 0 < alpha·x + beta < 1, else 0. In squeeze-excitation blocks it is
 * the gate LRP holds constant (see Mul).
 */
import { attrFloat } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const hardSigmoidRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const alpha = attrFloat(node, 'alpha', 0.2);
    const beta = attrFloat(node, 'beta', 0.5);
    const z = e.add(e.scale(x, alpha), e.scalar(beta));
    const inside = e.op('And', [e.op('Greater', [z, e.scalar(0)]), e.op('Less', [z, e.scalar(1)])]);
    return [e.op('Where', [inside, e.scale(ctx.gradOutputs[0]!, alpha), e.scalar(0)])];
  },
};

export const HardSigmoid: OpRecord = {
  opType: 'HardSigmoid',
  shape: sameShape,
  vjp: hardSigmoidRule,
  lrp: 'pass',
  channels: 'elementwise',
};
