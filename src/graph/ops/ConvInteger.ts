/**
 * ConvInteger: an int32 convolution of (x − x_zero_point) with (w − w_zero_point). Inputs: x, w,
 * x_zero_point, w_zero_point; attributes as Conv (no bias).
 */
import { DataType } from '../types.js';
import { convMacsAt, convShapeAt } from './Conv.js';
import { type OpRecord } from './types.js';

export const ConvInteger: OpRecord = {
  opType: 'ConvInteger',
  shape: (c) => convShapeAt(c, { x: 0, w: 1 }, DataType.INT32),
  macs: convMacsAt(1),
  inputRoles: ['other', 'weight', 'zero_point', 'zero_point'],
  quantized: true,
  ownsParameters: true,
};
