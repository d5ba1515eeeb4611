/** Sub (broadcasting): da = dy, db = −dy, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import { broadcastVjp } from './broadcast-vjp.js';

export const subRule: GradRule = broadcastVjp([(_, dy) => dy, (_, dy) => dy], [false, true]);

export const Sub: OpRecord = {
  opType: 'Sub',
  shape: binaryRule,
  vjp: subRule,
  lrp: 'norm',
  channels: 'binary',
};
