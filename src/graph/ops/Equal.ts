/** Equal: see the record below. */
import { booleanBinaryRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Equal: OpRecord = {
  opType: 'Equal',
  shape: booleanBinaryRule,
  transform: true,
};
