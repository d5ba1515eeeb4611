/** TopK: see the record below. */
import { DataType } from '../types.js';
import { NodeCtx } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** TopK: k from the input (opset ≥ 10) or attribute; values (input type) and indices (int64) with size k along `axis`. */
function topKShape(c: NodeCtx): void {
  const x = c.shape(0);
  if (!x.length) throw c.fail('takes the top k of a scalar', 'fix the model');
  const axis = c.axis(c.int('axis', -1), x.length);
  let k: number;
  if (c.opset >= 10) {
    const kv = c.value(1, 'K');
    if (kv.length !== 1) throw c.fail(`has a K input with ${kv.length} values; it needs exactly one`, 'fix the model');
    k = kv[0];
  } else k = c.int('k', -1);
  if (!Number.isInteger(k) || k < 0 || k > x[axis]) throw c.fail(`takes the top ${k} of ${x[axis]} elements along axis ${axis}`, 'use a k between 0 and the axis size');
  const out = [...x];
  out[axis] = k;
  c.set(0, out, c.type(0));
  c.set(1, [...out], DataType.INT64);
}

export const TopK: OpRecord = {
  opType: 'TopK',
  shape: topKShape,
  transform: true,
};
