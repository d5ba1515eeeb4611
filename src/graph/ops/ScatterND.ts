/** ScatterND: see the record below. */
import { NodeCtx, fmt } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** ScatterND: the data's shape; updates = indices.shape[:-1] + data.shape[indices.shape[-1]:]. */
function scatterNDShape(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  const upd = c.shape(2, 'updates');
  const q = ind[ind.length - 1];
  const want = q === undefined ? undefined : [...ind.slice(0, -1), ...x.slice(q)];
  if (!want || q > x.length || want.length !== upd.length || want.some((d, i) => d !== upd[i])) {
    throw c.fail(`has data ${fmt(x)}, indices ${fmt(ind)} and updates ${fmt(upd)}, which do not fit together`);
  }
  c.set(0, [...x], c.type(0));
}

export const ScatterND: OpRecord = {
  opType: 'ScatterND',
  shape: scatterNDShape,
  transform: true,
};
