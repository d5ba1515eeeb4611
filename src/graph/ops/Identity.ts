/** Identity: dx = dy. */
import { NodeCtx } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function identityShape(c: NodeCtx): void {
  c.set(0, [...c.shape(0)], c.type(0), c.maybeValue(0));
}

export const identityRule: GradRule = {
  backward: (ctx) => [ctx.gradOutputs[0]],
};

export const Identity: OpRecord = {
  opType: 'Identity',
  commutesWithQuantization: true,
  shape: identityShape,
  vjp: identityRule,
  lrp: 'pass',
  keepsSign: true,
  channels: 'elementwise',
  movesData: true,
  keepsLayerOutput: true,
};
