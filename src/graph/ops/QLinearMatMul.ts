/**
 * QLinearMatMul: y = quantize(dequant(a) · dequant(b)). Inputs: a, a_scale, a_zero_point, b,
 * b_scale, b_zero_point, y_scale, y_zero_point; numpy matmul shapes; output of y_zero_point's type.
 */
import { matMulMacsAt, matMulShapeAt } from './MatMul.js';
import { type OpRecord } from './types.js';

export const QLinearMatMul: OpRecord = {
  opType: 'QLinearMatMul',
  shape: (c) => matMulShapeAt(c, 0, 3, c.type(7, 'y zero point')),
  macs: matMulMacsAt(0),
  inputRoles: ['other', 'scale', 'zero_point', 'weight', 'scale', 'zero_point', 'scale', 'zero_point'],
  quantized: true,
  ownsParameters: true,
};
