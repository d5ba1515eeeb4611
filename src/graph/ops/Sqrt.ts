/** Sqrt: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Sqrt: OpRecord = {
  opType: 'Sqrt',
  shape: unaryMathRule,
  transform: true,
};
