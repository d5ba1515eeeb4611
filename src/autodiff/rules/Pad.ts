/**
 * Pad, constant mode (pads may be negative, cropping): dx = dy padded by the negated pads (crops
 * what was added, zero-fills what was cropped). The constant_value input receives Σdy − Σdx, the
 * gradient mass that landed on padding. Reflect and edge modes are refused.
 */
import { attrString } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const padRule: GradRule = {
  differentiableInputs: () => [0, 2],
  backward(ctx) {
    const { e, node } = ctx;
    const [x, padsV, , axesV] = node.inputs;
    const mode = attrString(node, 'mode', 'constant');
    if (mode !== 'constant') throw ctx.fail(`pads in ${mode} mode, which has no gradient rule`, 'use constant padding');
    const xs = ctx.shape(x);
    const rank = xs.length;
    const pads = ctx.value(padsV);
    if (!pads) throw ctx.fail('has pads computed at run time', 're-export the model with constant pads');
    let axes = xs.map((_, i) => i);
    if (axesV) {
      const a = ctx.value(axesV);
      if (!a) throw ctx.fail('has axes computed at run time', 're-export the model with constant axes');
      axes = a.map((v) => (v < 0 ? v + rank : v));
    }
    const full = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => { full[a] = -pads[i]; full[a + rank] = -pads[i + axes.length]; });
    const dy = ctx.gradOutputs[0]!;
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    const dx = e.pad(dy, full);
    if (ctx.needs[0]) res[0] = dx;
    if (ctx.needs[2]) {
      const all = xs.map((_, i) => i);
      res[2] = e.reshapeLike(e.sub(e.reduceSum(dy, all, false), e.reduceSum(dx, all, false)), node.inputs[2]);
    }
    return res;
  },
};

registerRule('Pad', padRule);
