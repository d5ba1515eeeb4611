/** Where: see the record below. */
import { NodeCtx, broadcastInputs, foldElementwise } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** Where(condition, X, Y): broadcast of all three, X's type. */
function whereShape(c: NodeCtx): void {
  c.shape(0, 'condition');
  c.shape(1, 'X');
  c.shape(2, 'Y');
  const out = broadcastInputs(c, [0, 1, 2]);
  const dt = c.type(1, 'X');
  c.set(0, out, dt, foldElementwise(c, [0, 1, 2], out, dt, ([k, a, b]) => (k !== 0 ? a : b)));
}

export const Where: OpRecord = {
  opType: 'Where',
  shape: whereShape,
  transform: true,
};
