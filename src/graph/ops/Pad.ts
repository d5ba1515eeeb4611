/**
 * Pad, constant mode (pads may be negative, cropping): dx = dy padded by the negated pads (crops
 * what was added, zero-fills what was cropped). The constant_value input receives Σdy − Σdx, the
 * gradient mass that landed on padding. Reflect and edge modes are refused.
 */
import { attrString } from '../builder.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/** Pad: pads (all begins, then all ends) from the attribute (opset < 11) or input, over `axes` (opset ≥ 18). */
function padShape(c: NodeCtx): void {
  const x = c.shape(0);
  const pads = c.opset >= 11 ? c.value(1, 'pads') : c.ints('pads') ?? c.ints('paddings');
  if (!pads) throw c.fail('has no pads', 'fix the model');
  const axesIn = c.opset >= 18 ? c.optValue(3, 'axes') : undefined;
  const axes = axesIn ? axesIn.map((a) => c.axis(a, x.length)) : x.map((_, i) => i);
  if (pads.length !== 2 * axes.length) throw c.fail(`has ${pads.length} pads for ${axes.length} axes; it needs ${2 * axes.length}`, 'fix the model');
  const out = [...x];
  axes.forEach((a, i) => { out[a] = x[a] + pads[i] + pads[i + axes.length]; });
  if (out.some((d) => d < 0)) throw c.fail(`pads ${fmt(x)} with ${fmt(pads)} to a negative size`);
  c.set(0, out, c.type(0));
}

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

export const Pad: OpRecord = {
  opType: 'Pad',
  shape: padShape,
  vjp: padRule,
  lrp: 'route',
  channels: 'special',
};
