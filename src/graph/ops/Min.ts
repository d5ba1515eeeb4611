/** Min: see the record below. */
import { minMaxRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const Min: OpRecord = {
  opType: 'Min',
  shape: minMaxRule,
  transform: true,
};
