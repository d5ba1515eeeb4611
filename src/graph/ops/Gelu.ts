/**
 * Gelu (opset 20; approximate "none" or "tanh"). Exact: y = x·Φ(x), dx = dy·(Φ(x) + x·φ(x)) with
 * Φ(x) = ½(1 + erf(x/√2)) and φ(x) = e^(−x²/2)/√(2π). Tanh form: y = ½x(1 + t), t = tanh(u),
 * u = √(2/π)(x + 0.044715x³), dx = dy·(½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)).
 */
import { attrString } from '../builder.js';
import { sameShape } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

export const geluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const dy = ctx.gradOutputs[0]!;
    const x2 = e.mul(x, x);
    if (attrString(node, 'approximate', 'none') === 'tanh') {
      const t = e.op('Tanh', [e.scale(e.add(x, e.scale(e.mul(x2, x), C)), K)]);
      const dt = e.sub(e.scalar(1), e.mul(t, t));
      const du = e.scale(e.add(e.scalar(1), e.scale(x2, 3 * C)), K);
      const d = e.add(e.scale(e.add(e.scalar(1), t), 0.5), e.mul(e.scale(x, 0.5), e.mul(dt, du)));
      return [e.mul(dy, d)];
    }
    const cdf = e.scale(e.add(e.scalar(1), e.op('Erf', [e.scale(x, Math.SQRT1_2)])), 0.5);
    const pdf = e.scale(e.op('Exp', [e.scale(x2, -0.5)]), 1 / Math.sqrt(2 * Math.PI));
    return [e.mul(dy, e.add(cdf, e.mul(x, pdf)))];
  },
};

export const Gelu: OpRecord = {
  opType: 'Gelu',
  shape: sameShape,
  vjp: geluRule,
  lrp: 'pass',
  channels: 'elementwise',
};
