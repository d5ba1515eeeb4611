/** Sign: see the record below. */
import { unaryMathRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Sign: OpRecord = {
  opType: 'Sign',
  shape: unaryMathRule,
  transform: true,
};
