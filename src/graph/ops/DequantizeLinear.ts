/**
 * DequantizeLinear: y = (x − zero_point) · scale, per tensor or per slice along `axis` (default 1).
 * x is int8/uint8/int32, y the scale's float type. Parameter tracing looks through it from every
 * input (`dequantizes`), so a stored int8 weight, its scale and zero point belong to the layer that
 * computes with the dequantized weight.
 */
import { type OpRecord } from './types.js';

export const DequantizeLinear: OpRecord = {
  opType: 'DequantizeLinear',
  shape: (c) => c.set(0, [...c.shape(0)], c.type(1, 'scale')),
  channels: 'elementwise',
  inputRoles: ['other', 'scale', 'zero_point'],
  quantized: true,
  campaign: { qdq: true },
  dequantizes: true,
};
