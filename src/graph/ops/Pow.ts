/** Pow (decomposed LayerNorm's (x − μ)², …): dx = dy·b·x^(b−1), db = dy·ln(x)·x^b (x > 0), each summed over the axes its operand was broadcast along. */
import { NodeCtx, broadcastInputs } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/** Pow: broadcast of base and exponent, the base's type. */
function powShape(c: NodeCtx): void {
  c.set(0, broadcastInputs(c, [0, 1]), c.type(0));
}

export const powRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    return [
      ctx.needs[0] ? e.unbroadcast(e.mul(dy, e.mul(b, e.op('Pow', [a, e.sub(b, e.scalar(1))]))), ys, a, ctx.shape(a)) : undefined,
      ctx.needs[1] ? e.unbroadcast(e.mul(dy, e.mul(e.op('Log', [a]), node.outputs[0])), ys, b, ctx.shape(b)) : undefined,
    ];
  },
};

export const Pow: OpRecord = {
  opType: 'Pow',
  shape: powShape,
  vjp: powRule,
  transform: true,
};
