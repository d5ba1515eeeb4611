/**
 * MatMul (numpy semantics: batched, broadcast, 1-D operands promoted to a row/column and the added
 * axis removed): dA = dy·Bᵀ and dB = Aᵀ·dy on the promoted operands, summed over the batch axes
 * each operand was broadcast along, then reshaped to the operand's shape.
 */
import { A } from '../builder.js';
import { numel } from '../dtype.js';
import { NodeCtx, broadcastShapes, fmt } from './shape-kit.js';
import type { Node } from '../types.js';
import { type GradRule, type OpRecord } from './types.js';

/** MatMul's shape rule with the operands at inputs `ia`, `ib` and an output of type `type` (default A's). */
export function matMulShapeAt(c: NodeCtx, ia: number, ib: number, type?: number): void {
  const a = c.shape(ia, 'A');
  const b = c.shape(ib, 'B');
  if (a.length === 0 || b.length === 0) throw c.fail(`cannot multiply scalars (shapes ${fmt(a)} and ${fmt(b)})`);
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  if (a2[a2.length - 1] !== b2[b2.length - 2]) throw c.fail(`multiplies ${fmt(a)} by ${fmt(b)}, whose inner sizes differ`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  if (!batch) throw c.fail(`cannot broadcast the batch dimensions of ${fmt(a)} and ${fmt(b)}`);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  c.set(0, out, type ?? c.type(ia));
}

function matMulShape(c: NodeCtx): void {
  matMulShapeAt(c, 0, 1);
}

/** MACs of a matrix product whose first operand is input `ia`: every output element is a K-long dot product. */
export function matMulMacsAt(ia: number): (n: Node, shapes: Map<string, number[]>) => number {
  return (n, shapes) => {
    const a = shapes.get(n.inputs[ia]) ?? [];
    return numel(shapes.get(n.outputs[0]) ?? []) * (a[a.length - 1] ?? 0);
  };
}

export const matMulRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [a, b] = node.inputs;
    let dy = ctx.gradOutputs[0]!;
    const as = ctx.shape(a);
    const bs = ctx.shape(b);
    let a2 = a;
    let b2 = b;
    let as2 = as;
    let bs2 = bs;
    if (as.length === 1) { a2 = e.unsqueeze(a, [0]); as2 = [1, as[0]]; }
    if (bs.length === 1) { b2 = e.unsqueeze(b, [1]); bs2 = [bs[0], 1]; }
    if (as.length === 1) dy = e.unsqueeze(dy, [bs.length === 1 ? 0 : -2]);
    if (bs.length === 1) dy = e.unsqueeze(dy, [-1]);
    const batch = broadcast(as2.slice(0, -2), bs2.slice(0, -2));
    const m = as2[as2.length - 2];
    const n = bs2[bs2.length - 1];
    const k = as2[as2.length - 1];
    const swapLast = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
    const res: (string | undefined)[] = [undefined, undefined];
    if (ctx.needs[0]) {
      let g = e.op('MatMul', [dy, e.transpose(b2, swapLast(bs2.length))]);
      g = e.unbroadcast(g, [...batch, m, k], a2, as2);
      res[0] = as.length === 1 ? e.reshapeLike(g, a) : g;
    }
    if (ctx.needs[1]) {
      let g = e.op('MatMul', [e.transpose(a2, swapLast(as2.length)), dy]);
      g = e.unbroadcast(g, [...batch, k, n], b2, bs2);
      res[1] = bs.length === 1 ? e.reshapeLike(g, b) : g;
    }
    return res;
  },
};

function broadcast(p: number[], q: number[]): number[] {
  const r = Math.max(p.length, q.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = p[p.length - r + i] ?? 1;
    const y = q[q.length - r + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

export const MatMul: OpRecord = {
  opType: 'MatMul',
  shape: matMulShape,
  macs: matMulMacsAt(0),
  vjp: matMulRule,
  lrp: 'linear',
  channels: 'special',
  campaign: { cut: true },
  inputRoles: ['weight', 'weight'],
  ownsParameters: true,
};
