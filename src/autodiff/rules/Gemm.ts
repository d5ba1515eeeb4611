/**
 * Gemm: y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A ([M, K]) and B' = transB ? Bᵀ : B
 * ([K, N]); C broadcasts to [M, N]. Each input gradient is one Gemm whose trans flags absorb the
 * transposes: dA' = alpha·dy·B'ᵀ, dB' = alpha·A'ᵀ·dy, dC = beta·(dy summed over C's broadcast axes).
 */
import { A, attrFloat, attrInt } from '../../graph/builder.js';
import { registerRule, type GradRule } from '../rule.js';

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

registerRule('Gemm', gemmRule);
