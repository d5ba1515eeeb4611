/**
 * MatMulInteger: the int32 product (A − a_zero_point) · (B − b_zero_point), numpy matmul shapes.
 * Inputs: A, B, a_zero_point, b_zero_point.
 */
import { DataType } from '../types.js';
import { matMulMacsAt, matMulShapeAt } from './MatMul.js';
import { type OpRecord } from './types.js';

export const MatMulInteger: OpRecord = {
  opType: 'MatMulInteger',
  shape: (c) => matMulShapeAt(c, 0, 1, DataType.INT32),
  macs: matMulMacsAt(0),
  inputRoles: ['other', 'weight', 'zero_point', 'zero_point'],
  quantized: true,
  ownsParameters: true,
};
