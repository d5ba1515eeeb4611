/** Squeeze: dx = dy reshaped to x's run-time shape (the axes input gets no gradient). */
import { NodeCtx, fmt } from './shape-kit.js';
import { type OpRecord } from './types.js';
import { reshapeLikeInputRule } from './Flatten.js';

/** Squeeze: the given axes (attribute before opset 13, optional input after) or every size-1 axis. */
function squeezeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const axesRaw = c.opset >= 13 ? c.optValue(1, 'axes') : c.ints('axes');
  let out: number[];
  if (axesRaw) {
    const axes = axesRaw.map((a) => c.axis(a, x.length));
    for (const a of axes) if (x[a] !== 1) throw c.fail(`squeezes axis ${a} of size ${x[a]} in ${fmt(x)}; only size-1 axes can be squeezed`);
    out = x.filter((_, i) => !axes.includes(i));
  } else out = x.filter((d) => d !== 1);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

export const Squeeze: OpRecord = {
  opType: 'Squeeze',
  commutesWithQuantization: true,
  shape: squeezeShape,
  vjp: reshapeLikeInputRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
  campaign: { safeProducer: true },
  movesData: true,
  keepsLayerOutput: true,
};
