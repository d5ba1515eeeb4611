/** Reciprocal: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Reciprocal: OpRecord = {
  opType: 'Reciprocal',
  shape: unaryMathRule,
  transform: true,
};
