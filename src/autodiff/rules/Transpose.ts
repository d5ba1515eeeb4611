/** Transpose (perm default: reversed axes): dx = transpose(dy, inverse perm). */
import { attrInts } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const transposeRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const rank = ctx.shape(node.inputs[0]).length;
    const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => { inv[p] = i; });
    return [e.transpose(ctx.gradOutputs[0]!, inv)];
  },
};

registerRule('Transpose', transposeRule);
