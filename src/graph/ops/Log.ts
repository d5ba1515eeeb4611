/** Log: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Log: OpRecord = {
  opType: 'Log',
  shape: unaryMathRule,
  transform: true,
};
