/** Mul (broadcasting): da = dy·b, db = dy·a, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import { broadcastVjp } from './broadcast-vjp.js';

export const mulRule: GradRule = broadcastVjp([({ e, node }, dy) => e.mul(dy, node.inputs[1]), ({ e, node }, dy) => e.mul(dy, node.inputs[0])]);

export const Mul: OpRecord = {
  opType: 'Mul',
  shape: binaryRule,
  vjp: mulRule,
  lrp: 'gate',
  channels: 'binary',
};
