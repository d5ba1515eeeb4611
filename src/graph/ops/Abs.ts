/** Abs: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Abs: OpRecord = {
  opType: 'Abs',
  shape: unaryMathRule,
  transform: true,
};
