import { DataType, type DataTypeCode, type TensorData } from './types.js';

/** Bytes per element of an ONNX data type, or 0 when not fixed-size. */
export function elementSize(dt: DataTypeCode): number {
  switch (dt) {
    case DataType.FLOAT: case DataType.INT32: case DataType.UINT32: return 4;
    case DataType.DOUBLE: case DataType.INT64: case DataType.UINT64: return 8;
    case DataType.INT16: case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return 2;
    case DataType.INT8: case DataType.UINT8: case DataType.BOOL: return 1;
    default: return 0;
  }
}

/** An empty typed array of the right kind for `dt` with `n` elements. */
export function allocate(dt: DataTypeCode, n: number): TensorData {
  switch (dt) {
    case DataType.FLOAT: return new Float32Array(n);
    case DataType.DOUBLE: return new Float64Array(n);
    case DataType.INT64: return new BigInt64Array(n);
    case DataType.UINT64: return new BigUint64Array(n);
    case DataType.INT32: return new Int32Array(n);
    case DataType.UINT32: return new Uint32Array(n);
    case DataType.INT16: return new Int16Array(n);
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return new Uint16Array(n);
    case DataType.INT8: return new Int8Array(n);
    case DataType.UINT8: case DataType.BOOL: return new Uint8Array(n);
    default: throw new RangeError(`unsupported tensor data type ${dt}`);
  }
}

/** Copies little-endian bytes into a fresh, aligned typed array of type `dt`. */
export function fromBytes(dt: DataTypeCode, bytes: Uint8Array): TensorData {
  const size = elementSize(dt);
  if (size === 0) throw new RangeError(`unsupported tensor data type ${dt}`);
  if (bytes.length % size !== 0) throw new RangeError(`raw data of ${bytes.length} bytes is not a whole number of ${size}-byte elements`);
  const out = allocate(dt, bytes.length / size);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

/** The little-endian bytes of a typed array (a view, no copy). */
export function toBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** onnxruntime's tensor type name for an ONNX data type. */
export function ortTypeName(dt: DataTypeCode): 'float32' | 'float64' | 'int64' | 'uint64' | 'int32' | 'uint32' | 'int16' | 'uint16' | 'int8' | 'uint8' | 'bool' | 'float16' {
  switch (dt) {
    case DataType.FLOAT: return 'float32';
    case DataType.DOUBLE: return 'float64';
    case DataType.INT64: return 'int64';
    case DataType.UINT64: return 'uint64';
    case DataType.INT32: return 'int32';
    case DataType.UINT32: return 'uint32';
    case DataType.INT16: return 'int16';
    case DataType.UINT16: return 'uint16';
    case DataType.INT8: return 'int8';
    case DataType.UINT8: return 'uint8';
    case DataType.BOOL: return 'bool';
    case DataType.FLOAT16: return 'float16';
    default: throw new RangeError(`data type ${dt} has no onnxruntime tensor type here`);
  }
}

/** Whether a data type is floating point (a fault-injection target type). */
export function isFloatType(dt: DataTypeCode): boolean {
  return dt === DataType.FLOAT || dt === DataType.DOUBLE || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}

/** Number of elements of a shape. */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * Stored word formats of fault-injection targets (faults/bits.ts numbers their bits). Bit 0 is
 * always the least significant bit of the little-endian stored word:
 * - float32 (IEEE binary32): 0–22 mantissa, 23–30 exponent, 31 sign;
 * - float16 (IEEE binary16): 0–9 mantissa, 10–14 exponent, 15 sign;
 * - bfloat16 (the upper half of a binary32): 0–6 mantissa, 7–14 exponent, 15 sign;
 * - int8 (two's complement): 0–6 magnitude bits, 7 sign (weight −128);
 * - uint8: 0–7, no sign;
 * - int32 (two's complement, quantized biases): 0–30, 31 sign.
 */
export type WordFormat = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int32';
export const WORD_FORMATS: readonly WordFormat[] = ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int32'];

/** Bits per stored word of each format. */
export const WORD_BITS: Readonly<Record<WordFormat, number>> = { float32: 32, float16: 16, bfloat16: 16, int8: 8, uint8: 8, int32: 32 };

/** The word format of an ONNX data type, or undefined when words of that type are not fault targets. */
export function wordFormat(dt: DataTypeCode): WordFormat | undefined {
  switch (dt) {
    case DataType.FLOAT: return 'float32';
    case DataType.FLOAT16: return 'float16';
    case DataType.BFLOAT16: return 'bfloat16';
    case DataType.INT8: return 'int8';
    case DataType.UINT8: return 'uint8';
    case DataType.INT32: return 'int32';
    default: return undefined;
  }
}

/** The ONNX data type storing words of `format`. */
export function formatDataType(format: WordFormat): DataTypeCode {
  switch (format) {
    case 'float32': return DataType.FLOAT;
    case 'float16': return DataType.FLOAT16;
    case 'bfloat16': return DataType.BFLOAT16;
    case 'int8': return DataType.INT8;
    case 'uint8': return DataType.UINT8;
    case 'int32': return DataType.INT32;
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The value of a binary16 word (exact: every binary16 value is a double). */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** `v` rounded half to even to an integer. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** The binary16 word nearest to `x` (round half to even, overflow to ±Inf, NaN to a quiet NaN). */
export function numberToFloat16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp rounds to even = Inf
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal (1024 gives the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024); // exact in double: a / 2^e is in [1, 2)
  if (m === 1024) { m = 0; e++; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/**
 * The binary16 word nearest to `x` in direction `dir`: the largest float16 value ≤ x ('down') or
 * the smallest ≥ x ('up'), ±Inf beyond the largest finite value; NaN gives a quiet NaN. For bounds
 * that must contain every value they were computed from (detection intervals of float16 layers).
 */
export function float16Toward(x: number, dir: 'down' | 'up'): number {
  let w = numberToFloat16(x);
  const v = float16ToNumber(w);
  if (Number.isNaN(x) || v === x || (dir === 'down' ? v < x : v > x)) return w;
  // one step toward −∞ (down) or +∞ (up) in the ordered float16 values
  if ((w & 0x7fff) === 0) return dir === 'down' ? 0x8001 : 0x0001;
  const neg = (w & 0x8000) !== 0;
  return (dir === 'down') === !neg ? w - 1 : w + 1;
}

/** The value of a bfloat16 word (the upper 16 bits of a binary32). */
export function bfloat16ToNumber(b: number): number {
  U32[0] = (b & 0xffff) << 16;
  return F32[0];
}

/** The bfloat16 word nearest to `x` rounded to float32 (round half to even, NaN kept quiet). */
export function numberToBfloat16(x: number): number {
  F32[0] = x;
  const u = U32[0];
  if (Number.isNaN(F32[0])) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value a stored word of `format` holds (integers as the integer, floats decoded). */
export function decodeWord(format: WordFormat, word: number): number {
  switch (format) {
    case 'float32': U32[0] = word >>> 0; return F32[0];
    case 'float16': return float16ToNumber(word & 0xffff);
    case 'bfloat16': return bfloat16ToNumber(word);
    case 'int8': return ((word & 0xff) << 24) >> 24;
    case 'uint8': return word & 0xff;
    case 'int32': return word | 0;
  }
}

/** An unsigned view of a typed array's words (same buffer): what a flip XORs into. */
export function wordView(data: TensorData): Uint8Array | Uint16Array | Uint32Array {
  switch (data.BYTES_PER_ELEMENT) {
    case 1: return new Uint8Array(data.buffer, data.byteOffset, data.length);
    case 2: return new Uint16Array(data.buffer, data.byteOffset, data.length);
    case 4: return new Uint32Array(data.buffer, data.byteOffset, data.length);
    default: throw new RangeError(`no ${data.BYTES_PER_ELEMENT * 8}-bit word view`);
  }
}

/** Decoded values of a tensor's data as float64 (float16/bfloat16 words decoded, integers as is). */
export function decodeTensor(dt: DataTypeCode, data: TensorData): Float64Array {
  const f = wordFormat(dt);
  if (f === 'float16' || f === 'bfloat16') {
    const w = data as Uint16Array;
    const out = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) out[i] = f === 'float16' ? float16ToNumber(w[i]) : bfloat16ToNumber(w[i]);
    return out;
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, (v) => Number(v));
  return Float64Array.from(data as ArrayLike<number>);
}
