/** Greater: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Greater: OpRecord = {
  opType: 'Greater',
  shape: booleanBinaryRule,
  transform: true,
};
