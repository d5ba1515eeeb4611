/** Split: dx = the outputs' gradients concatenated along the axis (zeros for outputs without one). */
import { A, attrInt } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const splitRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const rank = ctx.shape(x).length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const parts = node.outputs.map((o, i) => ctx.gradOutputs[i] ?? e.zerosLike(o));
    const dx = parts.length === 1 ? parts[0] : e.op('Concat', parts, { axis: A.i(axis) });
    return [dx, ...node.inputs.slice(1).map(() => undefined)];
  },
};

registerRule('Split', splitRule);
