/** GatherElements: see the record below. */
import { numel } from '../dtype.js';
import { FOLD_LIMIT, NodeCtx, fmt, forEachIndex, stridesOf } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** GatherElements: output of the indices' shape (same rank as data, no larger outside `axis`). */
function gatherElementsShape(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  if (ind.length !== x.length || !x.length) throw c.fail(`has indices of shape ${fmt(ind)} for data of shape ${fmt(x)}; both need the same rank ≥ 1`);
  const axis = c.axis(c.int('axis', 0), x.length);
  if (ind.some((d, i) => i !== axis && d > x[i])) throw c.fail(`has indices of shape ${fmt(ind)}, larger than the data ${fmt(x)} outside axis ${axis}`);
  const iv = c.maybeValue(1);
  if (iv) for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`gathers index ${i} from axis ${axis} of size ${x[axis]}`);
  const v = c.maybeValue(0);
  let value: number[] | undefined;
  if (v && iv && numel(ind) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    let j = 0;
    value = [];
    forEachIndex(ind, (ix) => {
      let t = iv[j++];
      if (t < 0) t += x[axis];
      let f = 0;
      for (let a = 0; a < x.length; a++) f += (a === axis ? t : ix[a]) * st[a];
      value!.push(v[f]);
    });
  }
  c.set(0, [...ind], c.type(0), value);
}

export const GatherElements: OpRecord = {
  opType: 'GatherElements',
  shape: gatherElementsShape,
  transform: true,
};
