/** Constant: no inputs, nothing to differentiate. */
import { attrFloat } from '../builder.js';
import { DataType } from '../types.js';
import { NodeCtx, tensorValues } from './shape-kit.js';
import { NON_DIFFERENTIABLE, type OpRecord } from './types.js';

function constantShape(c: NodeCtx): void {
  const at = c.node.attributes;
  const t = at.value;
  if (t && t.type === 'tensor') {
    c.set(0, [...t.value.dims], t.value.dataType, tensorValues(t.value));
  } else if (at.value_float) {
    c.set(0, [], DataType.FLOAT, [Math.fround(attrFloat(c.node, 'value_float', 0))]);
  } else if (at.value_floats && at.value_floats.type === 'floats') {
    c.set(0, [at.value_floats.value.length], DataType.FLOAT, at.value_floats.value.map(Math.fround));
  } else if (at.value_int) {
    c.set(0, [], DataType.INT64, [c.int('value_int', 0)]);
  } else if (at.value_ints) {
    const v = c.ints('value_ints') ?? [];
    c.set(0, [v.length], DataType.INT64, v);
  } else if (at.value_string) {
    c.set(0, [], DataType.STRING);
  } else if (at.value_strings && at.value_strings.type === 'strings') {
    c.set(0, [at.value_strings.value.length], DataType.STRING);
  } else {
    throw c.fail('holds no value flipguard can read (sparse or missing)', 're-export the model with dense constants');
  }
}

export const Constant: OpRecord = {
  opType: 'Constant',
  shape: constantShape,
  vjp: NON_DIFFERENTIABLE,
};
