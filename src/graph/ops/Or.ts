/** Or: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Or: OpRecord = {
  opType: 'Or',
  shape: booleanBinaryRule,
  transform: true,
};
