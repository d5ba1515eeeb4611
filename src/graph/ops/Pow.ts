/** Pow: see the record below. */
import { NodeCtx, broadcastInputs } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** Pow: broadcast of base and exponent, the base's type. */
function powShape(c: NodeCtx): void {
  c.set(0, broadcastInputs(c, [0, 1]), c.type(0));
}

export const Pow: OpRecord = {
  opType: 'Pow',
  shape: powShape,
  transform: true,
};
