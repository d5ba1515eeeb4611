/** IsInf: see the record below. */
import { floatPredicateRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const IsInf: OpRecord = {
  opType: 'IsInf',
  shape: floatPredicateRule,
  transform: true,
};
