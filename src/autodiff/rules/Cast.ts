/**
 * Cast between floating-point types: dx = dy cast back to x's type. A cast to an integer or bool
 * type carries no gradient.
 */
import { A, attrInt } from '../../graph/builder.js';
import { isFloatType } from '../../graph/dtype.js';
import { registerRule, type GradRule } from '../rule.js';

export const castRule: GradRule = {
  differentiableInputs: (node) => (isFloatType(attrInt(node, 'to', 0)) ? [0] : []),
  backward(ctx) {
    const { e, node } = ctx;
    const from = ctx.type(node.inputs[0]);
    const dy = ctx.gradOutputs[0]!;
    return [from === attrInt(node, 'to', 0) ? dy : e.op('Cast', [dy], { to: A.i(from) })];
  },
};

registerRule('Cast', castRule);
