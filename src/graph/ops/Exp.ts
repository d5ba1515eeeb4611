/** Exp: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Exp: OpRecord = {
  opType: 'Exp',
  shape: unaryMathRule,
  transform: true,
};
