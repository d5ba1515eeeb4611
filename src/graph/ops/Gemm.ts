/**
 * Gemm: y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A ([M, K]) and B' = transB ? Bᵀ : B
 * ([K, N]); C broadcasts to [M, N]. Each input gradient is one Gemm whose trans flags absorb the
 * transposes: dA' = alpha·dy·B'ᵀ, dB' = alpha·A'ᵀ·dy, dC = beta·(dy summed over C's broadcast axes).
 */
import { A, attrFloat, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { NodeCtx, broadcastShapes, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function gemmShape(c: NodeCtx): void {
  const a = c.shape(0, 'A');
  const b = c.shape(1, 'B');
  if (a.length !== 2 || b.length !== 2) throw c.fail(`needs 2-d inputs but got ${fmt(a)} and ${fmt(b)}`, 'insert a Flatten before it');
  const [m, k] = c.int('transA', 0) ? [a[1], a[0]] : a;
  const [k2, n] = c.int('transB', 0) ? [b[1], b[0]] : b;
  if (k !== k2) throw c.fail(`multiplies ${fmt([m, k])} by ${fmt([k2, n])} (after transA/transB), whose inner sizes differ`);
  if (c.has(2)) {
    const cs = c.shape(2, 'C');
    const bc = broadcastShapes(cs, [m, n]);
    if (!bc || bc[0] !== m || bc[1] !== n) throw c.fail(`has a C input of shape ${fmt(cs)} that does not broadcast to ${fmt([m, n])}`);
  }
  c.set(0, [m, n], c.type(0));
}

export const gemmRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b, c] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const ta = attrInt(node, 'transA', 0) !== 0;
    const tb = attrInt(node, 'transB', 0) !== 0;
    const gemm = (p: string, q: string, transA: boolean, transB: boolean) =>
      e.op('Gemm', [p, q], { alpha: A.f(alpha), transA: A.i(transA ? 1 : 0), transB: A.i(transB ? 1 : 0) });
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (ctx.needs[0]) res[0] = ta ? gemm(b, dy, tb, true) : gemm(dy, b, false, !tb);
    if (ctx.needs[1]) res[1] = tb ? gemm(dy, a, true, ta) : gemm(a, dy, !ta, false);
    if (c && ctx.needs[2]) res[2] = e.scale(e.unbroadcast(dy, ctx.shape(node.outputs[0]), c, ctx.shape(c)), beta);
    return res;
  },
};

export const Gemm: OpRecord = {
  opType: 'Gemm',
  shape: gemmShape,
  macs: (n, shapes) => {
    // (M·N)·K, K read from A after transA
    const a = shapes.get(n.inputs[0]) ?? [];
    const o = shapes.get(n.outputs[0]) ?? [];
    const transA = n.attributes.transA;
    const k = transA && transA.type === 'int' && transA.value ? a[0] : a[1];
    return numel(o) * (k ?? 0);
  },
  vjp: gemmRule,
  lrp: 'linear',
  channels: 'special',
  campaign: { cut: true },
  inputRoles: ['weight', 'weight', 'bias'],
  ownsParameters: true,
};
