/**
 * The elementwise correction stages placed after a widened layer: the EDAC layer of paper A
 * (SPEC §4.1), the triplication voter (§4.2) and the neuron voter (§4.4), all built from standard
 * ONNX ops (IsNaN, Where, Equal, GreaterOrEqual, And, Or, Min, Max, Gather, Slice, Concat).
 *
 * Structure, for a layer with C output channels of which the k channels P (ascending) are
 * protected and whose widened output Y holds [C originals | copy 1 of P | copy 2 of P]:
 *
 *   a  = Gather(Y, P, axis 1)          (Slice when P is every channel)
 *   b  = Slice(Y, C, C+k)   [c = Slice(Y, C+k, C+2k)]
 *   m  = merge(a, b[, c])              elementwise on [N, k, H, W] only
 *   r  = rest(Gather(Y, not P))        elementwise on [N, C−k, H, W] (case E, NaN → 0)
 *   T  = Gather(Concat(r, m), perm)    restores channel order → [N, C, H, W], the layer's old output
 * (channels that pass through untouched, as in the neuron voter, are picked from Concat(Y, m)
 * instead when k ≤ C/4, which copies less).
 *
 * A stage always computes in float32. On a layer that computes in float16 (a native float16 model;
 * LayerSite.dtype) it reads Cast(Y → float32) and its result is cast back to float16 under the
 * layer's output name (`float32Stage`): exact both ways, since the stage only selects, compares
 * and clamps values (every float16 value is a float32 value). onnxruntime's CPU provider has few
 * float16 kernels and computes a float16 graph in float32 between them, rounding to float16 only
 * where a float16 kernel reads a value; it removes such a float32 → float16 → float32 round trip,
 * so the stage sees the very values the unhardened model goes on with (a stage built from
 * float16 Slice/Gather/Concat would round the layer's output where the original does not). It
 * removes a round trip only where one of its two Casts is its own, though: where two of the
 * model's Casts meet, skipHalfRoundTrips joins the float32 values.
 *
 * So the work per layer is a fixed number of vectorised ops, the merge logic runs on the k
 * protected channels only, and one Gather restores the order. With k = C (a fully duplicated
 * output layer) the stage is just the merge; with k = 0 (range restriction) just `rest`.
 */
import { A } from '../graph/builder.js';
import { HARDEN_TAG, type Emitter } from './graph-edit.js';
import { COPY_TAG } from './layers.js';
import { DataType, type Graph, type Node } from '../graph/types.js';

/** EDAC case C (a ≠ b, both inside): keep min(a, b) (paper default), their mean, or the original a. */
export type BothInside = 'min' | 'mean' | 'original';
/** EDAC case D (a ≠ b, both outside): 0 (default), a clamped to [L, U], or the original a. */
export type BothOutside = 'zero' | 'clip' | 'original';
/** EDAC case E (non-duplicated value outside [L, U]): 0 (paper default) or clamped to [L, U]. */
export type OutsideRule = 'zero' | 'clip';
/** Voter when all three copies differ: the minimum (paper A's triplication) or the median (paper C). */
export type AllDiffer = 'min' | 'median';

/** Where(IsNaN(x), 0, x). */
export function nanToZero(e: Emitter, x: string, zero: string): string {
  return e.where(e.op('IsNaN', [x]), zero, x);
}

/**
 * L ≤ y ≤ U (false for NaN), as And(GreaterOrEqual(y, L), GreaterOrEqual(U, y)): onnxruntime's
 * LessOrEqual is markedly slower than its GreaterOrEqual. Without L (every value ≥ L or NaN, e.g.
 * behind a ReLU with every lower bound ≤ 0) just U ≥ y: one compare, no And.
 */
export function inRange(e: Emitter, y: string, L: string | undefined, U: string): string {
  return L ? e.and(e.ge(y, L), e.ge(U, y)) : e.ge(U, y);
}

/**
 * Case E with NaN → 0: `Where(L ≤ y ≤ U, y, 0)` (a NaN fails both comparisons, so it becomes 0
 * too, as SPEC's "NaN → 0 first" requires), or with rule 'clip' `min(max(nan→0(y), L), U)`.
 */
export function rangeRestrict(e: Emitter, y: string, L: string | undefined, U: string, zero: string, rule: OutsideRule): string {
  if (rule === 'clip') { const v = nanToZero(e, y, zero); return e.min(L ? e.max(v, L) : v, U); }
  return e.where(inRange(e, y, L, U), y, zero);
}

/** The value kept when a ≠ b and no interval decides (case C, and edac-nointervals). */
function resolveBoth(e: Emitter, a: string, b: string, rule: BothInside): string {
  if (rule === 'min') return e.min(a, b);
  if (rule === 'mean') return e.op('Mul', [e.op('Add', [a, b]), e.scalar(0.5, 'half')]);
  return a;
}

/**
 * EDAC merge of a duplicated channel (a original, b copy, both already NaN → 0), SPEC §4.1:
 * A a = b → a; B exactly one inside [L, U] → that one; C both inside → `bothInside`;
 * D both outside → `bothOutside`. Written as
 *   Where(ia, Where(ib, C(a,b), a), Where(ib, b, Where(a = b, a, D(a))))
 * (when a = b and both are inside, C(a, a) = a for every rule, so case A needs no extra test there).
 * Without bounds (edac-nointervals): Where(a = b, a, C(a, b)).
 */
export function mergeDuplicate(e: Emitter, a: string, b: string, zero: string, opts: { bounds?: { L?: string; U: string }; bothInside: BothInside; bothOutside: BothOutside }): string {
  const eq = e.eq(a, b);
  if (!opts.bounds) return e.where(eq, a, resolveBoth(e, a, b, opts.bothInside));
  const { L, U } = opts.bounds;
  const ia = inRange(e, a, L, U);
  const ib = inRange(e, b, L, U);
  const inside = resolveBoth(e, a, b, opts.bothInside);
  const outside = opts.bothOutside === 'zero' ? zero : opts.bothOutside === 'clip' ? e.min(L ? e.max(a, L) : a, U) : a;
  return e.where(ia, e.where(ib, inside, a), e.where(ib, b, e.where(eq, a, outside)));
}

/**
 * Majority voter over three copies (already NaN → 0): the value at least two share, else the
 * minimum ('min') or the median ('median' = max(min(a,b), min(max(a,b), c))).
 */
export function vote3(e: Emitter, a: string, b: string, c: string, allDiffer: AllDiffer): string {
  const fallback = allDiffer === 'min' ? e.min(a, b, c) : e.max(e.min(a, b), e.min(e.max(a, b), c));
  return e.where(e.or(e.eq(a, b), e.eq(a, c)), a, e.where(e.eq(b, c), b, fallback));
}

export interface ChannelStage {
  /** Widened layer output [N, C + copies·k, …]. */
  wide: string;
  /** Name the stage's result must have (the layer's original output name). */
  out: string;
  /** Original channel count. */
  C: number;
  /** Protected channels, ascending. */
  prot: readonly number[];
  /** Number of extra copies appended per protected channel (1 or 2). */
  copies: number;
  /**
   * Merges the original and its copies of the protected channels ([N, k, …] each). `index` is the
   * stored int64 index of P (undefined when P is every channel), for gathering per-channel constants.
   */
  merge: (e: Emitter, orig: string, copies: string[], index: string | undefined) => string;
  /** Treatment of the unprotected channels ([N, C−k, …] → same; `index` as for merge); undefined = pass through. */
  rest?: (e: Emitter, x: string, index: string | undefined) => string;
  /** Label for node names. */
  label: string;
  /** Element type of `wide` and `out` (LayerSite.dtype; default float32): float16 runs the stage through float32Stage. */
  dtype?: number;
}

/**
 * Emits a float32 stage (`body` reads `input` and must name its result `out`) on a value of element
 * type `dataType`: as it is for float32, between Cast(input → float32) and a Cast back to float16
 * named `out` for float16 (see the module comment).
 */
export function float32Stage(e: Emitter, dataType: number, input: string, out: string, body: (input: string, out: string) => void): void {
  if (dataType !== DataType.FLOAT16) { body(input, out); return; }
  const inner = e.editor.fresh(`${out}.float32`);
  body(e.op('Cast', [input], { to: A.i(DataType.FLOAT) }), inner);
  e.op('Cast', [inner], { to: A.i(DataType.FLOAT16) }, { out });
}

/**
 * `g` with every Cast to float32 that reads one of flipguard's own Casts to float16 (a stage's
 * result, float32Stage; the assembled copies of a grouped or 1×1-output layer, layers.ts) reading
 * that Cast's float32 input instead (a Cast left unread stays: the recorded stage input it makes is
 * what the counting view of overhead.ts reads).
 * onnxruntime removes a float32 → float16 → float32 round trip only where one of the two Casts is
 * its own (inserted around a kernel without float16 support): two Casts of the model's, as a
 * stage's input reading assembled copies or a keep_io_types output Cast reading the last stage,
 * round to float16 where the unhardened model goes on with its float32 values. Exact: the value
 * skipped to is what onnxruntime passes on in the unhardened model.
 */
export function skipHalfRoundTrips(g: Graph): Graph {
  const made = new Map(g.nodes.map((n) => [n.outputs[0], n] as const));
  const ours = (n: Node): boolean => n.docString === HARDEN_TAG || n.docString === COPY_TAG;
  const castTo = (n: Node | undefined, to: number): n is Node => !!n && n.opType === 'Cast' && n.attributes.to?.type === 'int' && n.attributes.to.value === to;
  let changed = false;
  const nodes = g.nodes.map((n) => {
    const src = made.get(n.inputs[0]);
    if (!castTo(n, DataType.FLOAT) || !castTo(src, DataType.FLOAT16) || !ours(src)) return n;
    changed = true;
    return { ...n, inputs: [src.inputs[0]] };
  });
  return changed ? { ...g, nodes } : g;
}

/** Emits a channel stage (see the module comment); the result is named `spec.out`. */
export function channelStage(e: Emitter, s: ChannelStage): void {
  float32Stage(e, s.dtype ?? DataType.FLOAT, s.wide, s.out, (wide, out) => floatChannelStage(e, { ...s, wide, out }));
}

function floatChannelStage(e: Emitter, s: ChannelStage): void {
  const { C, prot, copies } = s;
  const k = prot.length;
  const isProt = new Uint8Array(C);
  for (const p of prot) isProt[p] = 1;
  const restIdx: number[] = [];
  for (let c = 0; c < C; c++) if (!isProt[c]) restIdx.push(c);
  const rename = (v: string): void => { e.renameOutput(v, s.out); };

  if (k === 0) {
    if (!s.rest) throw new Error('empty hardening stage');
    rename(s.rest(e, s.wide, undefined));
    return;
  }
  const protIndex = k === C ? undefined : e.indexInit(`${s.label}.protected_index`, prot);
  if (protIndex && prot.every((p, j) => p === C - k + j)) {
    // side by side (side-by-side.ts): [others | protected | copies…] — two Slices and a Concat, no
    // Gather; the index initializers only pick per-channel constants (folded by onnxruntime)
    const merged = s.merge(e, e.sliceChannels(s.wide, C - k, C), copySlices(e, s), protIndex);
    const others = e.sliceChannels(s.wide, 0, C - k);
    const rest = s.rest ? s.rest(e, others, e.indexInit(`${s.label}.other_index`, restIdx)) : others;
    e.op('Concat', [rest, merged], { axis: A.i(1) }, { out: s.out });
    return;
  }
  const orig = protIndex ? e.op('Gather', [s.wide, protIndex], { axis: A.i(1) }) : e.sliceChannels(s.wide, 0, C);
  const merged = s.merge(e, orig, copySlices(e, s), protIndex);
  if (k === C) { rename(merged); return; }
  const perm = new Array<number>(C);
  // pass-through channels: picking them from Concat(Y, m) copies C + 3k channels once, gathering
  // them first copies 3C − k; take the cheaper
  const restFn = s.rest ?? (4 * k > C ? (_e: Emitter, x: string) => x : undefined);
  if (restFn) {
    const restIndex = e.indexInit(`${s.label}.other_index`, restIdx);
    const rest = restFn(e, e.op('Gather', [s.wide, restIndex], { axis: A.i(1) }), restIndex);
    restIdx.forEach((c, j) => { perm[c] = j; });
    prot.forEach((c, j) => { perm[c] = C - k + j; });
    const cat = e.op('Concat', [rest, merged], { axis: A.i(1) });
    e.op('Gather', [cat, e.indexInit(`${s.label}.order`, perm)], { axis: A.i(1) }, { out: s.out });
  } else {
    // unprotected channels pass through: pick them straight from the widened output
    const total = C + copies * k;
    restIdx.forEach((c) => { perm[c] = c; });
    prot.forEach((c, j) => { perm[c] = total + j; });
    const cat = e.op('Concat', [s.wide, merged], { axis: A.i(1) });
    e.op('Gather', [cat, e.indexInit(`${s.label}.order`, perm)], { axis: A.i(1) }, { out: s.out });
  }
}

/** The copies of the protected channels in the widened output: Y[:, C + i·k : C + (i+1)·k] for each copy i. */
function copySlices(e: Emitter, s: ChannelStage): string[] {
  const k = s.prot.length;
  return Array.from({ length: s.copies }, (_, i) => e.sliceChannels(s.wide, s.C + i * k, s.C + (i + 1) * k));
}
