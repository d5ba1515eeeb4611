/**
 * LayerNormalization (opset 17; ConvNeXt): over the axes from `axis` (default −1) to the last,
 * x̂ = (x − μ)·r with r = 1/√(σ² + epsilon), y = x̂·Scale + B. Outputs Mean and InvStdDev (optional)
 * keep the leading axes and have size 1 on the normalised ones.
 *
 * VJP: g = dy·Scale; dx = r·(g − mean(g) − x̂·mean(g·x̂)) (means over the normalised axes);
 * dScale = Σ dy·x̂ and dB = Σ dy over the leading axes. x̂ and r are recomputed from x in the
 * gradient graph (the optional outputs need not exist).
 *
 * LRP: 'pass' — the normalisation statistics are held constant, so the op is an affine map per
 * position, and relevance is passed through unchanged as for the other per-position maps.
 */
import { attrFloat, attrInt } from '../builder.js';
import { DataType } from '../types.js';
import { fmt, type NodeCtx } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function layerNormShape(c: NodeCtx): void {
  const x = c.shape(0);
  const axis = c.axis(c.int('axis', -1), x.length);
  const norm = x.slice(axis);
  for (const [i, role] of [[1, 'Scale'], [2, 'B']] as const) {
    if (!c.has(i)) continue;
    const s = c.shape(i, role);
    if (s.length > norm.length || s.some((d, k) => d !== 1 && d !== norm[norm.length - s.length + k])) {
      throw c.fail(`has a ${role} of shape ${fmt(s)} that does not broadcast to the normalised axes ${fmt(norm)}`);
    }
  }
  c.set(0, [...x], c.type(0));
  const stat = x.map((d, i) => (i < axis ? d : 1));
  const stype = c.int('stash_type', 1) === 1 ? DataType.FLOAT : c.type(0);
  c.set(1, stat, stype);
  c.set(2, [...stat], stype);
}

export const layerNormRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [x, scale, bias] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const xs = ctx.shape(x);
    let axis = attrInt(node, 'axis', -1);
    if (axis < 0) axis += xs.length;
    const axes = xs.map((_, i) => i).filter((i) => i >= axis);
    const lead = xs.map((_, i) => i).filter((i) => i < axis);
    const eps = attrFloat(node, 'epsilon', 1e-5);
    const mean = (v: string) => e.reduce('ReduceMean', v, axes, true);
    const centred = e.sub(x, mean(x));
    const r = e.op('Reciprocal', [e.op('Sqrt', [e.add(mean(e.mul(centred, centred)), e.scalar(eps))])]);
    const xhat = e.mul(centred, r);
    const ys = ctx.shape(node.outputs[0]);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (ctx.needs[0]) {
      const g = e.mul(dy, scale);
      res[0] = e.mul(r, e.sub(e.sub(g, mean(g)), e.mul(xhat, mean(e.mul(g, xhat)))));
    }
    if (ctx.needs[1]) res[1] = e.unbroadcast(e.reduceSum(e.mul(dy, xhat), lead, true), ys.map((d, i) => (i < axis ? 1 : d)), scale, ctx.shape(scale));
    if (bias && ctx.needs[2]) res[2] = e.unbroadcast(e.reduceSum(dy, lead, true), ys.map((d, i) => (i < axis ? 1 : d)), bias, ctx.shape(bias));
    return res;
  },
};

export const LayerNormalization: OpRecord = {
  opType: 'LayerNormalization',
  shape: layerNormShape,
  vjp: layerNormRule,
  lrp: 'pass',
  ownsParameters: true,
};
