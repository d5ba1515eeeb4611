/** Split: dx = the outputs' gradients concatenated along the axis (zeros for outputs without one). */
import { A, attrInt } from '../builder.js';
import { NodeCtx, fmt, sliceValues } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/**
 * Split: sizes from the `split` attribute (opset < 13) or input (≥ 13); otherwise equal parts,
 * where from opset 18 `num_outputs` parts of ceil(size / n) with a smaller last part.
 */
function splitShape(c: NodeCtx): void {
  const x = c.shape(0);
  const axis = c.axis(c.int('axis', 0), x.length);
  const n = c.node.outputs.length;
  let sizes = c.opset >= 13 ? c.optValue(1, 'split') : c.ints('split');
  if (!sizes) {
    const d = x[axis];
    const numOutputs = c.opset >= 18 ? c.int('num_outputs', n) : n;
    if (numOutputs !== n) throw c.fail(`has num_outputs ${numOutputs} but ${n} outputs`, 'fix the model');
    if (c.opset >= 18 && c.node.attributes.num_outputs) {
      const part = Math.ceil(d / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, d - part * i)));
    } else {
      if (d % n !== 0) throw c.fail(`cannot split size ${d} of axis ${axis} into ${n} equal parts`, 'give explicit split sizes');
      sizes = new Array<number>(n).fill(d / n);
    }
  }
  if (sizes.length !== n || sizes.reduce((p, q) => p + q, 0) !== x[axis] || sizes.some((s) => s < 0)) {
    throw c.fail(`splits size ${x[axis]} of axis ${axis} into parts ${fmt(sizes)} for ${n} outputs`);
  }
  const v = c.maybeValue(0);
  let start = 0;
  sizes.forEach((s, i) => {
    const out = [...x];
    out[axis] = s;
    let value: number[] | undefined;
    if (v) {
      const starts = x.map((_, a) => (a === axis ? start : 0));
      value = sliceValues(v, x, out, starts, x.map(() => 1));
    }
    c.set(i, out, c.type(0), value);
    start += s;
  });
}

export const splitRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const rank = ctx.shape(x).length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const parts = node.outputs.map((o, i) => ctx.gradOutputs[i] ?? e.zerosLike(o));
    const dx = parts.length === 1 ? parts[0] : e.op('Concat', parts, { axis: A.i(axis) });
    return [dx, ...node.inputs.slice(1).map(() => undefined)];
  },
};

export const Split: OpRecord = {
  opType: 'Split',
  shape: splitShape,
  vjp: splitRule,
  lrp: 'route',
  channels: 'special',
};
