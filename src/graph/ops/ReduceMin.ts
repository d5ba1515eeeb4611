/** ReduceMin: dy goes to the elements equal to the minimum. LRP: routed like the gradient. */
import { reduceVjp } from './reduce-vjp.js';
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const reduceMinRule = reduceVjp('extreme');

export const ReduceMin: OpRecord = {
  opType: 'ReduceMin',
  shape: reduceRule,
  vjp: reduceMinRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'reduce',
  transform: true,
};
