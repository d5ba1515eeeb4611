/**
 * QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point), per tensor or per slice
 * along `axis`. y has the zero point's type (uint8 when there is none).
 */
import { DataType } from '../types.js';
import { type OpRecord } from './types.js';

export const QuantizeLinear: OpRecord = {
  opType: 'QuantizeLinear',
  shape: (c) => c.set(0, [...c.shape(0)], c.has(2) ? c.type(2, 'zero point') : DataType.UINT8),
  channels: 'elementwise',
  inputRoles: ['other', 'scale', 'zero_point'],
  quantized: true,
  campaign: { qdq: true },
};
