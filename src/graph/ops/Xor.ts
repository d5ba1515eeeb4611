/** Xor: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Xor: OpRecord = {
  opType: 'Xor',
  shape: booleanBinaryRule,
  transform: true,
};
