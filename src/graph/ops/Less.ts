/** Less: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Less: OpRecord = {
  opType: 'Less',
  shape: booleanBinaryRule,
  transform: true,
};
