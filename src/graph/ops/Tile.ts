/** Tile: see the record below. */
import { numel } from '../dtype.js';
import { FOLD_LIMIT, NodeCtx, fmt, forEachIndex, isIntType, stridesOf } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** Tile: every axis repeated `repeats[i]` times. */
function tileShape(c: NodeCtx): void {
  const x = c.shape(0);
  const reps = c.value(1, 'repeats');
  if (reps.length !== x.length || reps.some((r) => !Number.isInteger(r) || r < 0)) throw c.fail(`has repeats ${fmt(reps)} for an input of shape ${fmt(x)}`, 'give one repeat count ≥ 0 per axis');
  const out = x.map((d, i) => d * reps[i]);
  const v = c.maybeValue(0);
  const dt = c.type(0);
  let value: number[] | undefined;
  if (v && isIntType(dt) && numel(out) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    value = [];
    forEachIndex(out, (ix) => { let f = 0; for (let a = 0; a < x.length; a++) f += (ix[a] % x[a]) * st[a]; value!.push(v[f]); });
  }
  c.set(0, out, dt, value);
}

export const Tile: OpRecord = {
  opType: 'Tile',
  shape: tileShape,
  transform: true,
};
