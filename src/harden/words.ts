/**
 * Exact word arithmetic in the graph for the voting methods (tmr-weights, tmr-bits): the int64 word
 * of a float value of a given binary format and back, and the bitwise majority of three words.
 * ONNX has no float ⇄ int bit reinterpretation before opset 26 (BitCast), and Cast converts
 * values, so words are computed arithmetically, exactly (see wordOf).
 */
import { A } from '../graph/builder.js';
import { DataType } from '../graph/types.js';
import type { Emitter } from './graph-edit.js';


/** 2^k as a JS number (exact for the range used). */
const pow2 = (k: number): number => 2 ** k;

/** An IEEE-style binary float format: exponent bits E, mantissa bits M (bias 2^(E−1) − 1). */
export interface FloatSpec { E: number; M: number }
export const FLOAT32: FloatSpec = { E: 8, M: 23 };
/** The float formats stored words can have (graph/dtype.ts numbers their bits). */
export const FLOAT_SPECS: Readonly<Record<'float32' | 'float16' | 'bfloat16', FloatSpec>> = { float32: FLOAT32, float16: { E: 5, M: 10 }, bfloat16: { E: 8, M: 7 } };

/**
 * Sub-graph: int64 words [p] of the values x [p] (float32 values of format `f`, e.g. float16
 * values cast to float32 exactly; NaN → the format's canonical quiet NaN word). For float32
 * (f = FLOAT32, bias B = 127, M = 23):
 * Exponent field: e ≈ ⌊log2|x|⌋ + B from Log, then corrected by ±1 against exact power-of-two
 * tables (so rounding in Log cannot matter); mantissa field = |x|·2^(B+M−e) − 2^M in float64
 * (|x|·2^(B−1+M) for e = 0), exact because float64 holds every product of such a value and a power of two.
 */
export function wordOf(e: Emitter, x: string, f: FloatSpec = FLOAT32): string {
  const B = pow2(f.E - 1) - 1, top = pow2(f.E) - 1;
  const xd = e.op('Cast', [x], { to: A.i(DataType.DOUBLE) });
  const zeroD = e.doubles('zero_d', [], [0]);
  const isNan = e.op('IsNaN', [xd]);
  const neg = e.or(e.op('Less', [xd, zeroD]), e.op('Less', [e.op('Reciprocal', [xd]), zeroD]));
  const ax = e.where(isNan, zeroD, e.op('Abs', [xd]));
  const lg = e.op('Floor', [e.op('Mul', [e.op('Log', [ax]), e.doubles('inv_ln2', [], [1 / Math.LN2])])]);
  const est = e.min(e.max(e.op('Add', [lg, e.doubles('bias_d', [], [B])]), zeroD), e.doubles('d_top', [], [top]));
  const e0 = e.op('Cast', [est], { to: A.i(DataType.INT64) });
  // lo[e] = smallest |x| with exponent field e; hi[e] = lo[e + 1]
  const lo: number[] = [0], hi: number[] = [];
  for (let k = 1; k < top; k++) lo.push(pow2(k - B));
  lo.push(Infinity);
  for (let k = 0; k < top - 1; k++) hi.push(lo[k + 1]);
  hi.push(Infinity, NaN);
  const asInt = (b: string): string => e.op('Cast', [b], { to: A.i(DataType.INT64) });
  const e1 = e.op('Sub', [e0, asInt(e.op('Less', [ax, e.op('Gather', [e.doubles('exp_lo', [top + 1], lo), e0], { axis: A.i(0) })]))]);
  // ax ≥ hi[e1] as Greater ∨ Equal (false against the NaN at hi[top]): onnxruntime does not
  // constant-fold GreaterOrEqual / LessOrEqual on float64 below opset 16 (PyTorch exports use 14),
  // and one unfolded node leaves the whole vote running on every inference
  const hiE = e.op('Gather', [e.doubles('exp_hi', [top + 1], hi), e1], { axis: A.i(0) });
  const e2 = e.op('Add', [e1, asInt(e.or(e.op('Greater', [ax, hiE]), e.eq(ax, hiE)))]);
  const ex = e.where(isNan, e.int64s('e_top', [], [top]), e2);
  const scale: number[] = [pow2(B - 1 + f.M)], offset: number[] = [0];
  for (let k = 1; k < top; k++) { scale.push(pow2(B + f.M - k)); offset.push(pow2(f.M)); }
  scale.push(0); offset.push(0);
  // ax is never NaN here, so ax ≤ max is Not(ax > max) (see above for why not LessOrEqual)
  const max = (2 - pow2(-f.M)) * pow2(top - 1 - B);
  const axf = e.where(e.not(e.op('Greater', [ax, e.doubles('fmt_max', [], [max])])), ax, zeroD);
  const md = e.op('Sub', [
    e.op('Mul', [axf, e.op('Gather', [e.doubles('mant_scale', [top + 1], scale), ex], { axis: A.i(0) })]),
    e.op('Gather', [e.doubles('mant_offset', [top + 1], offset), ex], { axis: A.i(0) }),
  ]);
  const m = e.where(isNan, e.int64s('qnan_mant', [], [pow2(f.M - 1)]), e.op('Cast', [md], { to: A.i(DataType.INT64) }));
  const s = e.where(neg, e.int64s('sign_bit', [], [pow2(f.E + f.M)]), e.int64s('zero_i', [], [0]));
  return e.op('Add', [e.op('Add', [s, e.op('Mul', [ex, e.int64s('two_m', [], [pow2(f.M)])])]), m]);
}

/** Sub-graph: float32 [p] of int64 words [p] of format `f` (exact; a NaN word gives a NaN). */
export function floatOf(e: Emitter, w: string, f: FloatSpec = FLOAT32): string {
  const B = pow2(f.E - 1) - 1, top = pow2(f.E) - 1;
  const sign = e.op('Div', [w, e.int64s('two_sign', [], [pow2(f.E + f.M)])]);
  const ex = e.op('Mod', [e.op('Div', [w, e.int64s('two_m', [], [pow2(f.M)])]), e.int64s('e_count', [], [top + 1])]);
  const m = e.op('Mod', [w, e.int64s('two_m', [], [pow2(f.M)])]);
  const scale: number[] = [pow2(1 - B - f.M)], offset: number[] = [0];
  for (let k = 1; k < top; k++) { scale.push(pow2(k - B - f.M)); offset.push(pow2(f.M)); }
  scale.push(0); offset.push(0);
  const md = e.op('Cast', [m], { to: A.i(DataType.DOUBLE) });
  const val = e.op('Mul', [
    e.op('Add', [md, e.op('Gather', [e.doubles('frac_offset', [top + 1], offset), ex], { axis: A.i(0) })]),
    e.op('Gather', [e.doubles('frac_scale', [top + 1], scale), ex], { axis: A.i(0) }),
  ]);
  const special = e.where(e.eq(m, e.int64s('zero_i', [], [0])), e.doubles('inf_d', [], [Infinity]), e.doubles('nan_d', [], [NaN]));
  const v2 = e.where(e.eq(ex, e.int64s('e_top', [], [top])), special, val);
  // sign by multiplication: onnxruntime's Neg computes 0 − x (losing −0) and its Where turns a
  // selected −0 into +0, while IEEE multiplication by −1 is exact for every value
  const factor = e.where(e.eq(sign, e.int64s('one_i', [], [1])), e.doubles('minus_one', [], [-1]), e.doubles('plus_one', [], [1]));
  return e.op('Cast', [e.op('Mul', [v2, factor])], { to: A.i(DataType.FLOAT) });
}

/** maj(a, b, c) of three 4-bit values, indexed a·256 + b·16 + c. */
const NIBBLE_MAJORITY: number[] = (() => {
  const t: number[] = [];
  for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) for (let c = 0; c < 16; c++) t.push((a & b) | (a & c) | (b & c));
  return t;
})();

/** Sub-graph: bitwise majority of three int64 word vectors [p] of `bits` bits (a multiple of 4, default 32), 4 bits at a time by table lookup. */
export function majorityWord(e: Emitter, wa: string, wb: string, wc: string, bits = 32): string {
  const K = e.int64s('nibble_values', [bits / 4], Array.from({ length: bits / 4 }, (_, i) => pow2(4 * i)));
  const shape = e.int64s('shape_col', [2], [-1, 1]);
  const n16 = e.int64s('i16', [], [16]);
  const nib = (w: string): string => e.op('Mod', [e.op('Div', [e.op('Reshape', [w, shape]), K]), n16]);
  const idx = e.op('Add', [e.op('Add', [e.op('Mul', [nib(wa), e.int64s('i256', [], [256])]), e.op('Mul', [nib(wb), n16])]), nib(wc)]);
  const maj = e.op('Gather', [e.int64s('nibble_majority', [4096], NIBBLE_MAJORITY), idx], { axis: A.i(0) });
  return e.op('ReduceSum', [e.op('Mul', [maj, K]), e.int64s('axis1', [1], [1])], { keepdims: A.i(0) });
}

