/** Div (broadcasting, y = a / b): da = dy / b, db = −dy·y / b, each summed over its broadcast axes. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import { broadcastVjp } from './broadcast-vjp.js';

export const divRule: GradRule = broadcastVjp([
  ({ e, node }, dy) => e.div(dy, node.inputs[1]),
  ({ e, node }, dy) => e.div(e.mul(dy, node.outputs[0]), node.inputs[1]),
], [false, true]);

export const Div: OpRecord = {
  opType: 'Div',
  shape: binaryRule,
  vjp: divRule,
  lrp: 'gate',
  channels: 'binary',
};
