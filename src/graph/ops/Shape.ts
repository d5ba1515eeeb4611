/** Shape: its output (sizes) does not depend differentiably on the input. */
import { DataType } from '../types.js';
import { NodeCtx } from './shape-kit.js';
import { NON_DIFFERENTIABLE, type OpRecord } from './types.js';

/** Shape, with the start/end window of opset 15 (negative counts from the end, clamped). */
function shapeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const r = x.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = c.opset >= 15 ? clamp(c.int('start', 0)) : 0;
  const end = c.opset >= 15 ? clamp(c.int('end', r)) : r;
  const v = x.slice(start, Math.max(start, end));
  c.set(0, [v.length], DataType.INT64, v);
}

export const Shape: OpRecord = {
  opType: 'Shape',
  shape: shapeShape,
  vjp: NON_DIFFERENTIABLE,
  channels: 'special',
};
