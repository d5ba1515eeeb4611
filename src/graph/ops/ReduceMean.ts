/** ReduceMean: see the record below. */
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const ReduceMean: OpRecord = {
  opType: 'ReduceMean',
  shape: reduceRule,
  transform: true,
};
