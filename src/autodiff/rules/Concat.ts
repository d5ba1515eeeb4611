/** Concat: dy is split back along the axis into the inputs' (static) sizes. */
import { A, attrInt } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

export const concatRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const dy = ctx.gradOutputs[0]!;
    const rank = ctx.shape(node.outputs[0]).length;
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += rank;
    const present = node.inputs.map((v, i) => ({ v, i })).filter(({ v }) => v && ctx.shape(v)[axis] > 0);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (present.length === 1) { res[present[0].i] = dy; return res; }
    const sizes = present.map(({ v }) => ctx.shape(v)[axis]);
    const parts = e.ops('Split', [dy, e.ints(sizes)], { axis: A.i(axis) }, sizes.length);
    present.forEach(({ i }, k) => { if (ctx.needs[i]) res[i] = parts[k]; });
    return res;
  },
};

registerRule('Concat', concatRule);
