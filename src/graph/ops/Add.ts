/** Add (broadcasting): da = dy and db = dy, each summed over the axes its operand was broadcast along. */
import { binaryRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import { broadcastVjp } from './broadcast-vjp.js';

export const addRule: GradRule = broadcastVjp([(_, dy) => dy, (_, dy) => dy]);

export const Add: OpRecord = {
  opType: 'Add',
  shape: binaryRule,
  vjp: addRule,
  lrp: 'norm',
  channels: 'binary',
  campaign: { skip: true },
};
