/** Unsqueeze: dx = dy reshaped to x's run-time shape (the axes input gets no gradient). */
import { NodeCtx, fmt } from './shape-kit.js';
import { type OpRecord } from './types.js';
import { reshapeLikeInputRule } from './Flatten.js';

/** Unsqueeze: axes from the attribute (opset < 13) or input; negative axes count in the output rank. */
function unsqueezeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const axesRaw = c.opset >= 13 ? c.value(1, 'axes') : c.ints('axes');
  if (!axesRaw) throw c.fail('has no axes', 'fix the model');
  const r = x.length + axesRaw.length;
  const axes = axesRaw.map((a) => c.axis(a, r));
  if (new Set(axes).size !== axes.length) throw c.fail(`has repeated axes ${fmt(axesRaw)}`, 'fix the model');
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(axes.includes(i) ? 1 : x[j++]);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

export const Unsqueeze: OpRecord = {
  opType: 'Unsqueeze',
  commutesWithQuantization: true,
  shape: unsqueezeShape,
  vjp: reshapeLikeInputRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
  campaign: { safeProducer: true },
  movesData: true,
  keepsLayerOutput: true,
};
