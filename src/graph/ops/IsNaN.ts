/** IsNaN: see the record below. */
import { floatPredicateRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const IsNaN: OpRecord = {
  opType: 'IsNaN',
  shape: floatPredicateRule,
  transform: true,
};
