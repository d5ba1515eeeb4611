/** Range: see the record below. */
import { FOLD_LIMIT, NodeCtx, isIntType } from './shape-kit.js';
import { type OpRecord } from './types.js';

/** Range: max(⌈(limit − start) / delta⌉, 0) elements of the inputs' type; needs constant scalars. */
function rangeShape(c: NodeCtx): void {
  const [start, limit, delta] = [c.value(0, 'start'), c.value(1, 'limit'), c.value(2, 'delta')].map((v, i) => {
    if (v.length !== 1) throw c.fail(`has a ${['start', 'limit', 'delta'][i]} input with ${v.length} values; it needs a scalar`, 'fix the model');
    return v[0];
  });
  if (delta === 0) throw c.fail('has delta 0', 'fix the model');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const dt = c.type(0, 'start');
  const value = isIntType(dt) && n <= FOLD_LIMIT ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
  c.set(0, [n], dt, value);
}

export const Range: OpRecord = {
  opType: 'Range',
  shape: rangeShape,
  transform: true,
};
