/** Transpose (perm default: reversed axes): dx = transpose(dy, inverse perm). */
import { attrInts } from '../builder.js';
import { NodeCtx, fmt, forEachIndex, stridesOf } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function transposeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const perm = c.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== x.length || sorted.some((p, i) => p !== i)) throw c.fail(`has perm ${fmt(perm)}, which is not a permutation of the ${x.length} axes of ${fmt(x)}`);
  const out = perm.map((p) => x[p]);
  let value: number[] | undefined;
  const v = c.maybeValue(0);
  if (v) {
    const st = stridesOf(x);
    value = [];
    forEachIndex(out, (idx) => { let f = 0; for (let k = 0; k < idx.length; k++) f += idx[k] * st[perm[k]]; value!.push(v[f]); });
  }
  c.set(0, out, c.type(0), value);
}

export const transposeRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const rank = ctx.shape(node.inputs[0]).length;
    const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => { inv[p] = i; });
    return [e.transpose(ctx.gradOutputs[0]!, inv)];
  },
};

export const Transpose: OpRecord = {
  opType: 'Transpose',
  commutesWithQuantization: true,
  shape: transposeShape,
  vjp: transposeRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
  movesData: true,
};
