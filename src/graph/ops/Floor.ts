/** Floor: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Floor: OpRecord = {
  opType: 'Floor',
  shape: unaryMathRule,
  transform: true,
};
