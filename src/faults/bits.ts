/**
 * IEEE-754 binary32 bit operations on stored words.
 *
 * Bit numbering (flipguard's convention, SPEC §1): bit 0 is the least significant mantissa bit,
 * bits 0–22 are the mantissa, 23–30 the exponent and 31 the sign. A flip is `u32 ^= 1 << b` on the
 * word seen through a `Uint32Array` view of the `Float32Array`, so every bit pattern (NaN payloads,
 * signed zeros, subnormals) is preserved exactly.
 */
import { FlipguardError } from '../errors.js';

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
