/**
 * The range check built from ops onnxruntime keeps in its blocked NCHWc layout (issue 14): the
 * 'fused' construction of range restriction's zeroing mode, `Where(L ≤ y ≤ U, y, fill)` for every
 * finite y, without the compare / Where passes and the NCHWc → NCHW → NCHWc reorders around them.
 *
 * On a conv layer's 4-D output y (per output channel c: bounds L_c ≤ U_c, fill F_c):
 *
 *   y'   = Clip(y, −FLT_MAX, FLT_MAX)            fused into the conv; behind a ReLU the ReLU itself
 *                                                becomes Clip(y, 0, FLT_MAX) (±Inf → ±FLT_MAX)
 *   kU   = HardSigmoid(DWConv(y'; −a_c, a_c·U_c), α, 1) = 1 if y' ≤ U_c else 0
 *   kL   = HardSigmoid(DWConv(y';  b_c, −b_c·L_c), α, 1) = 1 if y' ≥ L_c else 0
 *   out  = y'·kU·kL                    (fill 0; one Mul when there is no lower bound)
 * (DWConv: a depthwise 1×1 conv, the HardSigmoid fused into it),
 * and with a fill F ≠ 0 (behind a batch norm, "→ 0" is "→ t"): the "crossed" masks jU, jL (β = 0:
 * 1 if y' > U_c, resp. y' < L_c), j = jU + jL, keep = DWConv(j; −1, 1) and
 *   out  = y'·keep + DWConv(j; F_c, 0)                 (the Add fused into that conv as its Sum input)
 * When a ReLU follows the check (behind the ReLU, y' ≥ 0; or in front of a ReLU that alone reads
 * the check, which is then absorbed), without a Mul:
 *   out  = ReLU(y' + DWConv(j; −FLT_MAX, 0)) [+ DWConv(j; max(0, F_c), 0)]   (each Add and the ReLU fused)
 * — ReLU(y') where j = 0; y' − FLT_MAX ≤ 0, so 0, where j = 1.
 *
 * Exactness. a_c = 2^−e with e the exponent of |U_c| (−126 for a zero or subnormal bound): a_c·U_c
 * and a_c·y' are exact (a power-of-two scale, in range or overflowing to ±Inf with the right sign),
 * so v = a_c·U_c − a_c·y' has the sign of U_c − y' and is 0 only when they are equal. When y' > U_c
 * they differ by at least 2^(e−24) (half the ulp of U_c's binade: y' may sit one binade lower when
 * U_c < 0), so v ≤ −2^−24, and HardSigmoid(α·v + 1) with α = 2^25 is max(0, min(1, ≤ −1)) = 0; when
 * y' ≤ U_c, v ≥ 0 and it is 1 (α·v may overflow to +Inf: min(1, Inf) = 1). The same for L_c. A 0/1
 * mask times a finite y' is y' or ±0, F·0 = 0 and F·1 = F exactly: every finite value
 * leaves the check exactly as from the Where construction (up to the sign of a zero), and ±Inf as
 * ±FLT_MAX does. Fault-free outputs are bit-identical (test/harden-fused-check.test.ts).
 *
 * The difference: NaN. Every op onnxruntime runs in NCHWc propagates NaN (Relu, Clip, HardSigmoid,
 * MaxPool, Conv, Mul — measured), so a NaN in a conv output would pass the fused check where the
 * exact check replaces it by the fill. NaN there comes from stored parameters: one flip of bit 30
 * makes any float32 in [1, 2) ±Inf or NaN (about half the batch-norm scales of vgg11-mnist), a sign
 * flip of a variance makes its square root NaN, and two flipped weights near 2^127 in one filter
 * give +Inf − Inf. So a layer with the fused check reads its conv weight, bias and batch-norm
 * parameters through `guardParam` (|p| ≥ 2^64, NaN or a negative variance → 0; onnxruntime folds
 * it into the initializers at session creation: no time per inference): with one fault no NaN can
 * arise. A NaN in the input data, or from several faults in one filter, still passes (tested).
 * Protection of both checks, vgg11-mnist, paper A's BERs: equal within the trials (bench/RESULTS.md).
 *
 * The mask weights and biases (a_c, a_c·U_c, b_c, b_c·L_c, the fill F_c) are the stored bounds:
 * float32 initializers like the exact check's `.range.lower` / `.range.upper`, which faults reach.
 */
import { A } from '../graph/builder.js';
import { DataType, type Node } from '../graph/types.js';
import { GUARD_TAG } from '../graph/stored.js';
import type { Emitter, GraphEditor } from './graph-edit.js';

/** The largest finite float32. */
export const FLT_MAX = 3.4028234663852886e38;
/** HardSigmoid's α: with the per-channel power-of-two scale, any strict crossing of a bound gives α·v ≤ −2. */
const ALPHA = 2 ** 25;

/** 2^−e for the exponent e of |x| (−126 for 0 and subnormals): x·scale has magnitude in [1, 2) (or below 1 for subnormals). */
export function boundScale(x: number): number {
  const m = Math.abs(x);
  if (m < 2 ** -126) return 2 ** 126;
  let e = Math.floor(Math.log2(m));
  while (2 ** e > m) e--;
  while (2 ** (e + 1) <= m) e++;
  return 2 ** -e;
}

export interface FusedZeroSpec {
  /** Name prefix of the stored initializers (`<name>.range.upper`, …). */
  name: string;
  channels: number;
  /** Per-channel lower bounds, or undefined when no value can be below them (behind a ReLU with every bound ≤ 0). */
  lower?: ArrayLike<number>;
  upper: ArrayLike<number>;
  /** Per-channel fill; all zero → no fill term. */
  fill: ArrayLike<number>;
  /**
   * The check's result goes through a ReLU: either every checked value is ≥ 0 already (behind the
   * ReLU turned Clip(·, 0, FLT_MAX)) or the ReLU that alone reads the check is absorbed into it
   * (its fill then is max(0, F)). Zeroing is then ReLU(y − FLT_MAX·j), without a Mul.
   */
  relu?: boolean;
}

/**
 * Makes `anchor`'s output `input` finite in place: a Relu becomes Clip(·, 0, FLT_MAX); anything
 * else gets a Clip(·, −FLT_MAX, FLT_MAX) behind it (onnxruntime fuses either into the conv).
 * Returns the clipped value's name.
 */
export function finiteClip(e: Emitter, anchor: Node, input: string): string {
  if (anchor.opType === 'Relu' && anchor.outputs[0] === input) {
    anchor.opType = 'Clip';
    // the model's own node: its bounds are kept by counting tools too
    anchor.inputs = [anchor.inputs[0], e.scalar(0, 'harden.zero', GUARD_TAG), e.scalar(FLT_MAX, 'harden.flt_max', GUARD_TAG)];
    anchor.attributes = {};
    return input;
  }
  return e.op('Clip', [input, e.scalar(-FLT_MAX, 'harden.flt_min'), e.scalar(FLT_MAX, 'harden.flt_max')]);
}

/**
 * Parameters a guarded layer reads are bounded by this: a stored value of larger magnitude (or NaN,
 * or a negative batch-norm variance) reads as 0. No trained parameter comes near 2^64 ≈ 1.8e19; a
 * flip of a float32's top exponent bit makes every value from 2^-63 up that large or non-finite.
 * With every parameter of a layer within it and its inputs within the previous layer's check, a conv
 * sum with one faulty parameter stays finite (2^64 · 2^40 · a fan-in below 2^20 < FLT_MAX), so no
 * NaN can arise from one fault.
 */
export const PARAM_BOUND = 2 ** 64;

/**
 * `Where(|p| < bound, p, 0)` on the stored parameter `p` (a batch-norm variance: `Where(−0 ≤ p <
 * bound, p, 0)`), emitted at the start of the graph and tagged GUARD_TAG: onnxruntime folds it into
 * the initializer when it creates the session, so it costs no time per inference, and a parameter
 * within the bound passes unchanged. Without it, a non-finite or huge stored parameter (one flip of
 * bit 30 turns every float32 in [1, 2) into ±Inf or NaN: half of vgg11-mnist's batch-norm scales)
 * or a negative variance puts NaN into the layer's output, which the fused check cannot remove.
 * The check's own words use bound +Inf, i.e. finite (their scale may exceed 2^64 for tiny bounds,
 * and the zeroing weight is −FLT_MAX itself).
 */
export function guardParam(ed: GraphEditor, p: string, kind: 'value' | 'variance' = 'value', of: 'layer' | 'stage' = 'layer', bound = PARAM_BOUND): string {
  const e = ed.atStart();
  // a layer's parameter: tagged GUARD_TAG — counting tools keep the nodes (the layer reads them) and
  // storedParam looks through the guard to the stored tensor; the check's own: part of the stage
  const tag = of === 'layer' ? { docString: GUARD_TAG } : {};
  // Less/Greater, not LessOrEqual/GreaterOrEqual: onnxruntime 1.30 does not constant-fold the
  // latter on opset-14 models (PyTorch exports), which left the guards running per inference and
  // the convs without constant weights (googlenet 10×). |p| < bound; a variance > −2^−149 (≥ −0)
  const max = e.scalar(bound, 'harden.guard.bound', tag.docString);
  const zero = e.scalar(0, 'harden.zero', tag.docString);
  const below = (a: string, b: string): string => e.op('Less', [a, b], {}, tag);
  const ok = kind === 'variance'
    ? e.op('And', [below(e.scalar(-(2 ** -149), 'harden.guard.min', tag.docString), p), below(p, max)], {}, tag)
    : below(e.op('Abs', [p], {}, tag), max);
  return e.op('Where', [ok, p, zero], {}, tag);
}

/**
 * The 0/1 mask of one bound from one depthwise 1×1 conv with HardSigmoid fused into it:
 * `keep` → 1 where y is on the allowed side (y ≤ B for 'upper', y ≥ B for 'lower'), `out` → 1 where
 * it crossed the bound (strictly).
 */
function boundMask(ed: GraphEditor, e: Emitter, y: string, spec: FusedZeroSpec, side: 'lower' | 'upper', kind: 'keep' | 'out'): string {
  const B = side === 'upper' ? spec.upper : spec.lower!;
  const C = spec.channels;
  const w = new Float32Array(C), b = new Float32Array(C);
  // v = sign·a·(B − y): ≥ 0 on the allowed side, ≤ −2^−24 across the bound (module comment)
  const sign = (side === 'upper') === (kind === 'keep') ? 1 : -1;
  for (let c = 0; c < C; c++) {
    const a = boundScale(B[c]);
    w[c] = -sign * a;
    b[c] = sign * a * B[c];
  }
  const v = depthwise(ed, e, y, `${spec.name}.range.${side}`, w, b);
  // keep: max(0, min(1, α·v + 1)) — 1 for v ≥ 0, 0 for v ≤ −2^−24; out: max(0, min(1, α·v)) with v = a·(y − B) —
  // 0 for y ≤ B, 1 for y > B
  return e.op('HardSigmoid', [v], { alpha: A.f(ALPHA), beta: A.f(kind === 'keep' ? 1 : 0) });
}

/** A depthwise 1×1 conv of the [N, C, …] value x: w_c·x (+ b_c) per channel; no bias stored when `b` is absent. */
function depthwise(ed: GraphEditor, e: Emitter, x: string, name: string, w: Float32Array, b?: Float32Array): string {
  const C = w.length;
  // the check's own stored words are guarded too (a bound scaled into [1, 2) is one flip from ±Inf)
  const W = guardParam(ed, ed.init(`${name}.scale`, DataType.FLOAT, [C, 1, 1, 1], w), 'value', 'stage', Infinity);
  const Bt = b ? [guardParam(ed, ed.init(`${name}`, DataType.FLOAT, [C], b), 'value', 'stage', Infinity)] : [];
  return e.op('Conv', [x, W, ...Bt], { group: A.i(C), kernel_shape: A.is([1, 1]) });
}

/**
 * Emits the fused zeroing check on the finite 4-D value `y` (finiteClip) and names its result
 * `out`; see the module comment.
 *
 * onnxruntime fuses an Add behind a conv into it as a "Sum" input, and its NCHWc kernel then adds
 * that input before the bias: so no conv whose output is added may rely on w·x + b cancelling
 * (−F·1 + F). The fill is therefore F·j with j the 0/1 "crossed a bound" mask and no bias, and the
 * keep mask 1 − j comes from a conv whose output is only multiplied.
 */
export function fusedZero(ed: GraphEditor, e: Emitter, y: string, out: string, spec: FusedZeroSpec): void {
  const C = spec.channels;
  // behind a ReLU the fill is max(0, F) (the absorbed ReLU's value of it)
  const F = Float32Array.from(spec.fill, (f) => (spec.relu ? Math.max(0, Math.fround(f)) : Math.fround(f)));
  const noFill = F.every((f) => f === 0);
  if (!spec.relu && noFill) {
    const kU = boundMask(ed, e, y, spec, 'upper', 'keep');
    e.op('Mul', spec.lower ? [e.op('Mul', [y, kU]), boundMask(ed, e, y, spec, 'lower', 'keep')] : [y, kU], {}, { out });
    return;
  }
  // at most one bound is crossed (L ≤ U): j = jU + jL ∈ {0, 1}
  const jU = boundMask(ed, e, y, spec, 'upper', 'out');
  const j = spec.lower ? e.op('Add', [jU, boundMask(ed, e, y, spec, 'lower', 'out')]) : jU;
  let kept: string;
  if (spec.relu) {
    // ReLU(y + (−FLT_MAX)·j) is ReLU(y) where j = 0 and 0 where j = 1 (y ≤ FLT_MAX), exactly, in any
    // order of the additions — one conv with the Add (Sum) and the ReLU fused into it, no Mul
    kept = e.op('Relu', [e.op('Add', [depthwise(ed, e, j, `${spec.name}.range.zero`, new Float32Array(C).fill(-FLT_MAX)), y])], {}, noFill ? { out } : {});
  } else {
    kept = e.op('Mul', [y, depthwise(ed, e, j, `${spec.name}.range.keep`, new Float32Array(C).fill(-1), new Float32Array(C).fill(1))]);
  }
  // kept + F·j: exact in any order of the additions
  if (!noFill) e.op('Add', [depthwise(ed, e, j, `${spec.name}.range.fill`, F), kept], {}, { out });
}
