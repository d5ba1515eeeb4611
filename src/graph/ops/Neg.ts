/** Neg: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Neg: OpRecord = {
  opType: 'Neg',
  shape: unaryMathRule,
  transform: true,
};
