/** ReduceMax: see the record below. */
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const ReduceMax: OpRecord = {
  opType: 'ReduceMax',
  shape: reduceRule,
  transform: true,
};
