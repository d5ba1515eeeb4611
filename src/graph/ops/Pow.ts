/** Pow (decomposed LayerNorm's (x − μ)², …): dx = dy·b·x^(b−1), db = dy·ln(x)·x^b (x > 0), each summed over the axes its operand was broadcast along. */
import { NodeCtx, broadcastInputs } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import { broadcastVjp } from './broadcast-vjp.js';

/** Pow: broadcast of base and exponent, the base's type. */
function powShape(c: NodeCtx): void {
  c.set(0, broadcastInputs(c, [0, 1]), c.type(0));
}

export const powRule: GradRule = broadcastVjp([
  ({ e, node: { inputs: [a, b] } }, dy) => e.mul(dy, e.mul(b, e.op('Pow', [a, e.sub(b, e.scalar(1))]))),
  ({ e, node }, dy) => e.mul(dy, e.mul(e.op('Log', [node.inputs[0]]), node.outputs[0])),
]);

export const Pow: OpRecord = {
  opType: 'Pow',
  shape: powShape,
  vjp: powRule,
  transform: true,
};
