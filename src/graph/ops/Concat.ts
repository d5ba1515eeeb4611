/** Concat: dy is split back along the axis into the inputs' (static) sizes. */
import { A, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { FOLD_LIMIT, NodeCtx, fmt, forEachIndex, stridesOf } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function concatShape(c: NodeCtx): void {
  const present = c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
  if (!present.length) throw c.fail('has no inputs', 'fix the model');
  const shapes = present.map((i) => c.shape(i));
  const rank = shapes[0].length;
  const attr = c.node.attributes.axis;
  if (!attr) throw c.fail('has no axis attribute', 'fix the model');
  const axis = c.axis(c.int('axis', 0), rank);
  const out = [...shapes[0]];
  out[axis] = 0;
  for (const s of shapes) {
    if (s.length !== rank || s.some((d, i) => i !== axis && d !== shapes[0][i])) {
      throw c.fail(`concatenates inputs of shapes ${shapes.map(fmt).join(', ')}, which differ outside axis ${axis}`);
    }
    out[axis] += s[axis];
  }
  // fold values
  const vals = present.map((i) => c.maybeValue(i));
  let value: number[] | undefined;
  if (vals.every((v) => v !== undefined) && numel(out) <= FOLD_LIMIT) {
    value = new Array<number>(numel(out));
    const ost = stridesOf(out);
    let offset = 0;
    shapes.forEach((s, k) => {
      const v = vals[k]!;
      let j = 0;
      forEachIndex(s, (idx) => {
        let f = 0;
        for (let a = 0; a < idx.length; a++) f += (a === axis ? idx[a] + offset : idx[a]) * ost[a];
        value![f] = v[j++];
      });
      offset += s[axis];
    });
  }
  c.set(0, out, c.type(present[0]), value);
}

export const concatRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const dy = ctx.gradOutputs[0]!;
    const rank = ctx.shape(node.outputs[0]).length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const present = node.inputs.map((v, i) => ({ v, i })).filter(({ v }) => v && ctx.shape(v)[axis] > 0);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (present.length === 1) { res[present[0].i] = dy; return res; }
    const sizes = present.map(({ v }) => ctx.shape(v)[axis]);
    const parts = e.ops('Split', [dy, e.ints(sizes)], { axis: A.i(axis) }, sizes.length);
    present.forEach(({ i }, k) => { if (ctx.needs[i]) res[i] = parts[k]; });
    return res;
  },
};

export const Concat: OpRecord = {
  opType: 'Concat',
  shape: concatShape,
  vjp: concatRule,
  lrp: 'route',
  channels: 'special',
  campaign: { safeProducer: true, skip: true },
};
