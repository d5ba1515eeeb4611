/** Reshape: dx = dy reshaped to x's run-time shape (the target-shape input gets no gradient). */
import { numel } from '../dtype.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type OpRecord } from './types.js';
import { reshapeLikeInputRule } from './Flatten.js';

/** Reshape: 0 copies the input's size at that position (unless allowzero = 1), −1 takes what is left. */
function reshapeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const target = c.value(1, 'shape');
  const allowZero = c.opset >= 14 && c.int('allowzero', 0) !== 0;
  const total = numel(x);
  const out = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= x.length) throw c.fail(`copies dimension ${i} (a 0 in its target shape ${fmt(target)}) from an input of rank ${x.length}`);
      return x[i];
    }
    return d;
  });
  const free = out.filter((d) => d === -1).length;
  if (free > 1 || out.some((d) => d < -1)) throw c.fail(`has an invalid target shape ${fmt(target)}`);
  if (free === 1) {
    const known = numel(out.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) throw c.fail(`cannot reshape ${fmt(x)} (${total} elements) to ${fmt(target)}`);
    out[out.indexOf(-1)] = total / known;
  }
  if (numel(out) !== total) throw c.fail(`cannot reshape ${fmt(x)} (${total} elements) to ${fmt(target)} (${numel(out)} elements)`);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

export const Reshape: OpRecord = {
  opType: 'Reshape',
  commutesWithQuantization: true,
  shape: reshapeShape,
  vjp: reshapeLikeInputRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
  campaign: { safeProducer: true },
  movesData: true,
  keepsLayerOutput: true,
};
