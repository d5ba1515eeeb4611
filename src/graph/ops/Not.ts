/** Not: see the record below. */
import { DataType } from '../types.js';
import { NodeCtx, bool, foldElementwise } from './shape-kit.js';
import { type OpRecord } from './types.js';

function notShape(c: NodeCtx): void {
  const x = c.shape(0);
  c.set(0, [...x], DataType.BOOL, foldElementwise(c, [0], x, DataType.BOOL, ([v]) => bool(v === 0)));
}

export const Not: OpRecord = {
  opType: 'Not',
  shape: notShape,
  transform: true,
};
