/**
 * The in-memory model: a faithful view of an ONNX ModelProto. What flipguard interprets has a
 * typed field; everything else is kept as the raw protobuf fields it came from (`extra`) so that a
 * read → write round trip loses nothing.
 */

/** ONNX TensorProto.DataType codes. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8,
  BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;
export type DataTypeCode = number;

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array
  | Uint32Array | BigInt64Array | BigUint64Array;

/** A constant tensor (initializer or attribute value). `data` is in row-major order. */
export interface Tensor {
  name: string;
  /** ONNX element type code (DataType.FLOAT = 1, …). */
  dataType: DataTypeCode;
  dims: number[];
  /**
   * Values, decoded from whichever storage the file used (raw_data, typed fields, external file).
   * FLOAT16/BFLOAT16 are kept as their raw Uint16 words; BOOL as Uint8.
   */
  data: TensorData;
  docString?: string;
  /** Raw protobuf fields flipguard does not interpret (kept for round trips). */
  extra?: Uint8Array[];
}

/** A dimension: a fixed size, a symbolic name (e.g. "batch"), or unknown (null). */
export type Dim = number | string | null;

/** A graph input, output or value_info entry. */
export interface ValueInfo {
  name: string;
  /** Element type for tensor types; undefined for non-tensor types (kept in `rawType`). */
  elemType?: DataTypeCode;
  /** Shape for tensor types; undefined when the file gives no shape. */
  shape?: Dim[];
  docString?: string;
  /** The TypeProto bytes when the type is not a plain tensor type. */
  rawType?: Uint8Array;
  extra?: Uint8Array[];
}

export type Attribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  /** Any other attribute kind (sparse tensors, type protos, …), kept as its AttributeProto bytes. */
  | { type: 'raw'; value: Uint8Array };

export interface Node {
  name: string;
  opType: string;
  /** Operator domain; "" is the default ONNX domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  docString?: string;
  extra?: Uint8Array[];
}

export interface Graph {
  name: string;
  /** Nodes in topological order (as ONNX requires). */
  nodes: Node[];
  /** Named constant tensors, in file order. Parameters are the floating-point ones. */
  initializers: Map<string, Tensor>;
  /** Graph inputs that are not initializers (the data inputs). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  docString?: string;
  /** Initializer names that were also listed as graph inputs in the file (IR < 4 style). */
  initializerInputs?: ValueInfo[];
  extra?: Uint8Array[];
}

export interface OpsetImport { domain: string; version: number }

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  /** metadata_props, in file order. */
  metadata: [string, string][];
  graph: Graph;
  extra?: Uint8Array[];
}

/** The opset version of the default ONNX domain. */
export function defaultOpset(model: Model): number {
  const o = model.opsetImports.find((x) => x.domain === '' || x.domain === 'ai.onnx');
  return o ? o.version : 1;
}

/** Reads a metadata_props value, or undefined. */
export function getMetadata(model: Model, key: string): string | undefined {
  const e = model.metadata.find(([k]) => k === key);
  return e?.[1];
}

/** Returns a copy of `model` with metadata `key` set to `value` (replacing an existing entry). */
export function withMetadata(model: Model, key: string, value: string): Model {
  const metadata = model.metadata.filter(([k]) => k !== key);
  metadata.push([key, value]);
  return { ...model, metadata };
}
