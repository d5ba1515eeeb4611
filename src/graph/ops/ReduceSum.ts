/** ReduceSum: see the record below. */
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const ReduceSum: OpRecord = {
  opType: 'ReduceSum',
  shape: reduceRule,
  transform: true,
};
