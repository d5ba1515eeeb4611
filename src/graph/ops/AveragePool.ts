/**
 * AveragePool: each output spreads dy/count evenly over its window. count is the window size
 * clipped to the padded input [−pad_begin, in + pad_end) when count_include_pad = 1, and to the
 * input itself [0, in) otherwise, as onnxruntime divides (this also covers ceil_mode windows that
 * run past the padding). Since the window is a box, count is a product of per-axis counts, so dy is
 * scaled by per-axis constants; a ConvTranspose with a ones kernel (group = channels) then spreads
 * it over the windows, and the padding is cut off. Dilated average pooling is refused.
 */
import { A, attrInt, attrInts } from '../builder.js';
import { windowOf } from './window.js';
import { poolRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const averagePoolRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const xs = ctx.shape(x);
    const ys = ctx.shape(node.outputs[0]);
    const kernel = attrInts(node, 'kernel_shape')!;
    if ((attrInts(node, 'dilations') ?? []).some((d) => d !== 1)) throw ctx.fail('uses dilations, which the gradient rule does not support', 're-export the model without dilated average pooling');
    const w = windowOf(node, xs, ys, kernel, true);
    const includePad = attrInt(node, 'count_include_pad', 0) !== 0;
    const ns = w.ns;
    let g = ctx.gradOutputs[0]!;
    for (let i = 0; i < ns; i++) {
      const lo = includePad ? -w.padsBegin[i] : 0;
      const hi = includePad ? w.inSpatial[i] + w.padsEnd[i] : w.inSpatial[i];
      const inv: number[] = [];
      for (let o = 0; o < w.outSpatial[i]; o++) {
        const start = o * w.strides[i] - w.padsBegin[i];
        const count = Math.min(start + w.kernel[i], hi) - Math.max(start, lo);
        inv.push(count > 0 ? 1 / count : 0);
      }
      if (inv.every((v) => v === inv[0])) g = e.scale(g, inv[0]);
      else g = e.mul(g, e.floats(inv, [w.outSpatial[i], ...new Array<number>(ns - 1 - i).fill(1)]));
    }
    const channels = xs[1];
    const ones = e.floats(new Array<number>(channels * kernel.reduce((p, q) => p * q, 1)).fill(1), [channels, 1, ...kernel]);
    let dx = e.op('ConvTranspose', [g, ones], { strides: A.is(w.strides), group: A.i(channels), kernel_shape: A.is(kernel) });
    // dx covers padded positions [−pad_begin, −pad_begin + (out − 1)·stride + kernel); keep [0, in)
    const pads = new Array<number>(2 * (ns + 2)).fill(0);
    for (let i = 0; i < ns; i++) {
      const full = (w.outSpatial[i] - 1) * w.strides[i] + w.kernel[i];
      pads[i + 2] = -w.padsBegin[i];
      pads[i + 2 + ns + 2] = w.inSpatial[i] - (full - w.padsBegin[i]);
    }
    dx = e.pad(dx, pads);
    return [dx];
  },
};

export const AveragePool: OpRecord = {
  opType: 'AveragePool',
  shape: poolRule,
  vjp: averagePoolRule,
  lrp: 'norm',
  keepsSign: true,
  channels: 'pool',
  campaign: { safeProducer: true },
};
