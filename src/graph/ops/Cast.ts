/**
 * Cast between floating-point types: dx = dy cast back to x's type. A cast to an integer or bool
 * type carries no gradient.
 */
import { A, attrInt } from '../builder.js';
import { isFloatType } from '../dtype.js';
import { NodeCtx, castAll } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function castShape(c: NodeCtx): void {
  const to = c.int('to', -1);
  if (to <= 0) throw c.fail('has no valid "to" type', 'fix the model');
  c.set(0, [...c.shape(0)], to, castAll(c.maybeValue(0), to));
}

export const castRule: GradRule = {
  differentiableInputs: (node) => (isFloatType(attrInt(node, 'to', 0)) ? [0] : []),
  backward(ctx) {
    const { e, node } = ctx;
    const from = ctx.type(node.inputs[0]);
    const dy = ctx.gradOutputs[0]!;
    return [from === attrInt(node, 'to', 0) ? dy : e.op('Cast', [dy], { to: A.i(from) })];
  },
};

export const Cast: OpRecord = {
  opType: 'Cast',
  shape: castShape,
  vjp: castRule,
  lrp: 'route',
  channels: 'elementwise',
  movesData: true,
};
