/** ReduceMin: see the record below. */
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const ReduceMin: OpRecord = {
  opType: 'ReduceMin',
  shape: reduceRule,
  transform: true,
};
