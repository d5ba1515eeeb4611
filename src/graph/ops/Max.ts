/** Max: see the record below. */
import { minMaxRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Max: OpRecord = {
  opType: 'Max',
  shape: minMaxRule,
  transform: true,
};
