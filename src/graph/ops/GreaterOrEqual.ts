/** GreaterOrEqual: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const GreaterOrEqual: OpRecord = {
  opType: 'GreaterOrEqual',
  shape: booleanBinaryRule,
  transform: true,
};
