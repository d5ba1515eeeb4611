/** LessOrEqual: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const LessOrEqual: OpRecord = {
  opType: 'LessOrEqual',
  shape: booleanBinaryRule,
  transform: true,
};
