/** Mod: see the record below. */
import { NodeCtx, broadcastInputs, foldElementwise, isIntType } from './shape-kit.js';
import { type OpRecord } from './types.js';

/**
 * Mod: broadcast, the first input's type. fmod = 0 (integers only): the remainder takes the
 * divisor's sign; fmod = 1: the dividend's sign (C fmod). Folded on integers.
 */
function modShape(c: NodeCtx): void {
  const out = broadcastInputs(c, [0, 1]);
  const dt = c.type(0);
  const fmod = c.int('fmod', 0) !== 0;
  if (!fmod && !isIntType(dt)) throw c.fail('has fmod = 0 on floating-point inputs, which ONNX does not allow', 'set fmod = 1');
  c.set(0, out, dt, foldElementwise(c, [0, 1], out, dt, ([a, b]) => {
    if (b === 0) return undefined;
    const r = a % b;
    return !fmod && r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
  }));
}

export const Mod: OpRecord = {
  opType: 'Mod',
  shape: modShape,
  transform: true,
};
