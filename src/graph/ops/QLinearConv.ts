/**
 * QLinearConv: a convolution of quantized tensors, y = quantize(conv(dequant(x), dequant(w)) + B).
 * Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32,
 * scale x_scale·w_scale); attributes as Conv. The output has y_zero_point's type.
 */
import { convMacsAt, convShapeAt } from './Conv.js';
import { type OpRecord } from './types.js';

export const QLinearConv: OpRecord = {
  opType: 'QLinearConv',
  shape: (c) => convShapeAt(c, { x: 0, w: 3, b: 8 }, c.type(7, 'y zero point')),
  macs: convMacsAt(3),
  inputRoles: ['other', 'scale', 'zero_point', 'weight', 'scale', 'zero_point', 'scale', 'zero_point', 'bias'],
  quantized: true,
  ownsParameters: true,
};
