/** Expand: see the record below. */
import { NodeCtx, broadcastShapes, fmt, foldElementwise } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** Expand: the input broadcast with the target shape (which may keep input sizes by giving 1). */
function expandShape(c: NodeCtx): void {
  const x = c.shape(0);
  const target = c.value(1, 'shape');
  const out = broadcastShapes(x, target);
  if (!out) throw c.fail(`cannot expand ${fmt(x)} to ${fmt(target)}`);
  const dt = c.type(0);
  c.set(0, out, dt, foldElementwise(c, [0], out, dt, ([v]) => v));
}

export const Expand: OpRecord = {
  opType: 'Expand',
  shape: expandShape,
  transform: true,
};
