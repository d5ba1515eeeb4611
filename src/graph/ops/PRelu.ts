/**
 * PRelu: y = x for x > 0, slope·x otherwise (slope broadcast to x, e.g. one per channel [C, 1, 1]).
 * dx = dy where x > 0, slope·dy otherwise; dslope = dy·x where x ≤ 0, summed over the axes the
 * slope was broadcast along.
 */
import { broadcastShapes, fmt, type NodeCtx } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/** The input's shape; the slope must broadcast to it (unidirectionally). */
function preluShape(c: NodeCtx): void {
  const x = c.shape(0);
  const s = c.shape(1, 'slope');
  const out = broadcastShapes(x, s);
  if (!out || out.length !== x.length || out.some((d, i) => d !== x[i])) throw c.fail(`has a slope of shape ${fmt(s)} that does not broadcast to its input ${fmt(x)}`);
  c.set(0, [...x], c.type(0));
}

export const preluRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [x, slope] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const ys = ctx.shape(node.outputs[0]);
    const pos = e.op('Greater', [x, e.scalar(0)]);
    return [
      ctx.needs[0] ? e.unbroadcast(e.op('Where', [pos, dy, e.mul(dy, slope)]), ys, x, ctx.shape(x)) : undefined,
      ctx.needs[1] ? e.unbroadcast(e.op('Where', [pos, e.scalar(0), e.mul(dy, x)]), ys, slope, ctx.shape(slope)) : undefined,
    ];
  },
};

export const PRelu: OpRecord = {
  opType: 'PRelu',
  shape: preluShape,
  vjp: preluRule,
  lrp: 'pass',
  channels: 'binary',
};
