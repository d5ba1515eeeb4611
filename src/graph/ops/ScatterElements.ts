/** ScatterElements: see the record below. */
import { NodeCtx, fmt } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** ScatterElements: the data's shape; indices and updates share one shape of the data's rank. */
function scatterElementsShape(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  const upd = c.shape(2, 'updates');
  if (ind.length !== x.length || upd.length !== ind.length || ind.some((d, i) => d !== upd[i])) {
    throw c.fail(`has data ${fmt(x)}, indices ${fmt(ind)} and updates ${fmt(upd)}; indices and updates need one shape of the data's rank`);
  }
  const axis = c.axis(c.int('axis', 0), x.length);
  const iv = c.maybeValue(1);
  if (iv) for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`scatters to index ${i} of axis ${axis} of size ${x[axis]}`);
  c.set(0, [...x], c.type(0));
}

export const ScatterElements: OpRecord = {
  opType: 'ScatterElements',
  shape: scatterElementsShape,
  transform: true,
};
