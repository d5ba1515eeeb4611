/** ReduceMax: dy goes to the elements equal to the maximum. LRP: routed like the gradient (as MaxPool). */
import { reduceVjp } from './reduce-vjp.js';
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const reduceMaxRule = reduceVjp('extreme');

export const ReduceMax: OpRecord = {
  opType: 'ReduceMax',
  shape: reduceRule,
  vjp: reduceMaxRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'reduce',
  transform: true,
};
