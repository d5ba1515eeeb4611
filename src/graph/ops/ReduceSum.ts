/** ReduceSum over spatial axes (or any): dx = dy spread over the reduced elements. LRP: the ε-rule (proportional sharing), like a pooling sum. */
import { reduceVjp } from './reduce-vjp.js';
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const reduceSumRule = reduceVjp('sum');

export const ReduceSum: OpRecord = {
  opType: 'ReduceSum',
  shape: reduceRule,
  vjp: reduceSumRule,
  lrp: 'norm',
  keepsSign: true,
  channels: 'reduce',
  transform: true,
};
