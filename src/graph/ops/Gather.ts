/**
 * Gather on float data: dx = zeros with dy added at the gathered positions (ScatterElements with
 * reduction "add", so repeated indices accumulate). Integer data (shape arithmetic) never gets here.
 */
import { A, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { FOLD_LIMIT, NodeCtx, forEachIndex, stridesOf } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function gatherShape(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  if (x.length === 0) throw c.fail('gathers from a scalar', 'fix the model');
  const axis = c.axis(c.int('axis', 0), x.length);
  const out = [...x.slice(0, axis), ...ind, ...x.slice(axis + 1)];
  const v = c.maybeValue(0);
  const iv = c.maybeValue(1);
  let value: number[] | undefined;
  if (iv) {
    for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`gathers index ${i} from axis ${axis} of size ${x[axis]}`);
  }
  if (v && iv && numel(out) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    const ist = stridesOf(ind);
    value = [];
    forEachIndex(out, (idx) => {
      let fi = 0;
      for (let k = 0; k < ind.length; k++) fi += idx[axis + k] * ist[k];
      let j = iv[fi];
      if (j < 0) j += x[axis];
      let f = 0;
      for (let a = 0; a < axis; a++) f += idx[a] * st[a];
      f += j * st[axis];
      for (let a = axis + 1; a < x.length; a++) f += idx[a + ind.length - 1] * st[a];
      value!.push(v[f]);
    });
  }
  c.set(0, out, c.type(0), value);
}

export const gatherRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const [x, idx] = node.inputs;
    const xs = ctx.shape(x);
    const is = ctx.shape(idx);
    const rank = xs.length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const count = is.reduce((p, q) => p * q, 1);
    const flatShape = [...new Array<number>(axis).fill(0), count, ...xs.slice(axis + 1)];
    const dy = e.reshape(ctx.gradOutputs[0]!, flatShape);
    const idxShape = xs.map((_, i) => (i === axis ? count : 1));
    const ind = e.op('Expand', [e.reshape(idx, idxShape), e.shapeOf(dy)]);
    const dx = e.op('ScatterElements', [e.zerosLike(x), ind, dy], { axis: A.i(axis), reduction: A.s('add') });
    return [dx, undefined];
  },
};

export const Gather: OpRecord = {
  opType: 'Gather',
  shape: gatherShape,
  vjp: gatherRule,
  lrp: 'route',
  keepsSign: true,
};
