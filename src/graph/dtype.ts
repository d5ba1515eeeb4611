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
