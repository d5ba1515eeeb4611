/** ConstantOfShape: the output's values do not depend on the (integer) shape input. */
import { isFloatType, numel } from '../dtype.js';
import { DataType, type DataTypeCode } from '../types.js';
import { NodeCtx, fmt, foldable, isIntType, tensorValues } from './shape-kit.js';
import { NON_DIFFERENTIABLE, type OpRecord } from './types.js';

function constantOfShapeShape(c: NodeCtx): void {
  const dims = c.value(0, 'shape');
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw c.fail(`has a target shape ${fmt(dims)} with negative sizes`);
  const attr = c.node.attributes.value;
  let dt: DataTypeCode = DataType.FLOAT;
  let fill = 0;
  if (attr && attr.type === 'tensor') {
    dt = attr.value.dataType;
    const v = tensorValues(attr.value);
    fill = v && v.length ? v[0] : 0;
    if (!isIntType(dt) && !isFloatType(dt)) throw c.fail('has a fill value of a non-numeric type', 'fix the model');
  }
  const n = numel(dims);
  const value = foldable(dt, n) && dt !== DataType.FLOAT16 && dt !== DataType.BFLOAT16 ? new Array<number>(n).fill(fill) : undefined;
  c.set(0, dims, dt, value);
}

export const ConstantOfShape: OpRecord = {
  opType: 'ConstantOfShape',
  shape: constantOfShapeShape,
  vjp: NON_DIFFERENTIABLE,
};
