/** And: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const And: OpRecord = {
  opType: 'And',
  shape: booleanBinaryRule,
  transform: true,
};
