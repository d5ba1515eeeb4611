/**
 * Bit operations on stored parameter words.
 *
 * Bit numbering (flipguard's convention, SPEC §1): bit 0 is the least significant bit of the stored
 * word. Per format (graph/dtype.ts `WordFormat`):
 * - float32: 0–22 mantissa, 23–30 exponent, 31 sign;
 * - float16: 0–9 mantissa, 10–14 exponent, 15 sign;
 * - bfloat16: 0–6 mantissa, 7–14 exponent, 15 sign;
 * - int8: two's complement, 0–6 value bits, 7 sign; uint8: 0–7; int32 (quantized biases): 0–30, 31 sign.
 * A flip is `word ^= 1 << b` on the word seen through an unsigned view of the same bytes, so every
 * bit pattern (NaN payloads, signed zeros, subnormals) is preserved exactly.
 */
import { FlipguardError } from '../errors.js';
import { WORD_BITS, wordView, type WordFormat } from '../graph/dtype.js';
import type { TensorData } from '../graph/types.js';

/** Number of bits in a binary32 word. */
export const FLOAT32_BITS = 32;

/** The 32-bit word of `arr[index]`. */
export function wordOf(arr: Float32Array, index: number): number {
  return new Uint32Array(arr.buffer, arr.byteOffset, arr.length)[index];
}

/** The value of `arr[index]`'s bit `bit` (0 or 1). */
export function getBit(arr: Float32Array, index: number, bit: number): number {
  return (wordOf(arr, index) >>> bit) & 1;
}

/** Flips bit `bit` of `arr[index]` in place (`u32 ^= 1 << bit`). */
export function flipBit(arr: Float32Array, index: number, bit: number): void {
  const u = new Uint32Array(arr.buffer, arr.byteOffset, arr.length);
  u[index] = (u[index] ^ (1 << bit)) >>> 0;
}

/** Sets bit `bit` of `arr[index]` to `value` (0 or 1) in place. */
export function setBit(arr: Float32Array, index: number, bit: number, value: 0 | 1): void {
  const u = new Uint32Array(arr.buffer, arr.byteOffset, arr.length);
  u[index] = value ? (u[index] | (1 << bit)) >>> 0 : (u[index] & ~(1 << bit)) >>> 0;
}

/** `x` (rounded to float32) with bit `bit` flipped. */
export function flipFloat32(x: number, bit: number): number {
  const f = new Float32Array([x]);
  flipBit(f, 0, bit);
  return f[0];
}

/** The float32 whose word is `u32`. */
export function float32FromBits(u32: number): number {
  return new Float32Array(new Uint32Array([u32 >>> 0]).buffer)[0];
}

/** The word of `x` rounded to float32. */
export function bitsOfFloat32(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/**
 * A set of bit positions to target: `[lo, hi]` inclusive, or an explicit list. Bits follow the
 * numbering above (0 = mantissa LSB, 31 = sign).
 */
export type BitRange = readonly [number, number] | { readonly list: readonly number[] };

/** Named ranges usable in place of numbers. */
export const NAMED_BIT_RANGES: Record<string, readonly [number, number]> = {
  all: [0, 31], mantissa: [0, 22], exponent: [23, 30], sign: [31, 31],
};

/** Named ranges per stored format (a format lacking a field, such as int8's exponent, selects none of its bits). */
export const FORMAT_BIT_RANGES: Readonly<Record<WordFormat, Record<string, readonly [number, number] | undefined>>> = {
  float32: NAMED_BIT_RANGES,
  float16: { all: [0, 15], mantissa: [0, 9], exponent: [10, 14], sign: [15, 15] },
  bfloat16: { all: [0, 15], mantissa: [0, 6], exponent: [7, 14], sign: [15, 15] },
  int8: { all: [0, 7], sign: [7, 7] },
  uint8: { all: [0, 7] },
  int32: { all: [0, 31], sign: [31, 31] },
};

/**
 * The bits a selection picks in words of `format`: a name (all, mantissa, exponent, sign) means
 * that field of the format; numbers are stored-bit positions, of which those inside the word are
 * kept (so "0-31" is every bit of every format). May be empty (e.g. "exponent" of an int8 word).
 */
export function resolveBitsFor(range: BitRange | string | undefined, format: WordFormat): number[] {
  const width = WORD_BITS[format];
  if (typeof range === 'string') {
    const key = range.trim().toLowerCase();
    if (key in NAMED_BIT_RANGES) {
      const r = FORMAT_BIT_RANGES[format][key];
      return r ? Array.from({ length: r[1] - r[0] + 1 }, (_, i) => r[0] + i) : [];
    }
  }
  return resolveBits(range).filter((b) => b < width);
}

/** Applies one fault to element `index` of `data` in place: flip XORs, stuck0/stuck1 force the bit. */
export function applyBit(data: TensorData, index: number, bit: number, kind: 'flip' | 'stuck0' | 'stuck1'): void {
  const u = wordView(data);
  const mask = (1 << bit) >>> 0;
  if (kind === 'flip') u[index] = (u[index] ^ mask) >>> 0;
  else if (kind === 'stuck1') u[index] = (u[index] | mask) >>> 0;
  else u[index] = (u[index] & ~mask) >>> 0;
}

function checkBit(b: number, what: string): void {
  if (!Number.isInteger(b) || b < 0 || b > 31) {
    throw new FlipguardError(`${what} ${b} is outside 0–31; bits are numbered 0 (mantissa LSB) to 31 (sign).`);
  }
}

/**
 * Resolves a bit range to the sorted list of distinct bits it selects. Accepts `[lo, hi]`,
 * `{list}`, a name (all, mantissa, exponent, sign) or a string "lo-hi" / "a,b,c". Throws a
 * FlipguardError for bits outside 0–31 or an empty selection.
 */
export function resolveBits(range: BitRange | string | undefined): number[] {
  if (range === undefined) return Array.from({ length: 32 }, (_, i) => i);
  if (typeof range === 'string') {
    const named = NAMED_BIT_RANGES[range.trim().toLowerCase()];
    if (named) return resolveBits(named);
    const m = /^\s*(\d+)\s*[-–]\s*(\d+)\s*$/.exec(range);
    if (m) return resolveBits([Number(m[1]), Number(m[2])]);
    if (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(range)) return resolveBits({ list: range.split(',').map((s) => Number(s)) });
    throw new FlipguardError(`Bit range "${range}" is not understood; write "lo-hi" (e.g. 23-30), a list "0,5,31" or one of ${Object.keys(NAMED_BIT_RANGES).join(', ')}.`);
  }
  if ('list' in range) {
    for (const b of range.list) checkBit(b, 'Bit');
    const out = [...new Set(range.list)].sort((a, b) => a - b);
    if (out.length === 0) throw new FlipguardError('The bit list is empty; give at least one bit between 0 and 31.');
    return out;
  }
  const [lo, hi] = range;
  checkBit(lo, 'Bit range start');
  checkBit(hi, 'Bit range end');
  if (lo > hi) throw new FlipguardError(`Bit range ${lo}-${hi} is empty; give the low bit first (e.g. ${hi}-${lo}).`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
