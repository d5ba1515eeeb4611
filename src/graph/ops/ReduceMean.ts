/** ReduceMean (AdaptiveAvgPool as exported by ShuffleNet, MNASNet): dx = dy / count spread over the reduced elements. LRP: the ε-rule, like GlobalAveragePool. */
import { reduceVjp } from './reduce-vjp.js';
import { reduceRule } from './shape-kit.js';
import { type OpRecord } from './types.js';

export const reduceMeanRule = reduceVjp('mean');

export const ReduceMean: OpRecord = {
  opType: 'ReduceMean',
  shape: reduceRule,
  vjp: reduceMeanRule,
  lrp: 'norm',
  keepsSign: true,
  channels: 'reduce',
  transform: true,
};
