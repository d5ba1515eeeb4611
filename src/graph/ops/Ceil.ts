/** Ceil: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Ceil: OpRecord = {
  opType: 'Ceil',
  shape: unaryMathRule,
  transform: true,
};
