/**
 * Gather on float data: dx = zeros with dy added at the gathered positions (ScatterElements with
 * reduction "add", so repeated indices accumulate). Integer data (shape arithmetic) never gets here.
 */
import { A, attrInt } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const gatherRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const [x, idx] = node.inputs;
    const xs = ctx.shape(x);
    const is = ctx.shape(idx);
    const rank = xs.length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const count = is.reduce((p, q) => p * q, 1);
    const flatShape = [...new Array<number>(axis).fill(0), count, ...xs.slice(axis + 1)];
    const dy = e.reshape(ctx.gradOutputs[0]!, flatShape);
    const idxShape = xs.map((_, i) => (i === axis ? count : 1));
    const ind = e.op('Expand', [e.reshape(idx, idxShape), e.shapeOf(dy)]);
    const dx = e.op('ScatterElements', [e.zerosLike(x), ind, dy], { axis: A.i(axis), reduction: A.s('add') });
    return [dx, undefined];
  },
};

registerRule('Gather', gatherRule);
