/**
 * A parameter as it is stored: the initializer behind the float32 value a layer reads, either the
 * value itself (float32), or a 16-bit float word tensor read through `Cast(to FLOAT)` (what
 * `convert` writes), or an integer tensor read through `DequantizeLinear` (QDQ: int8/uint8
 * weights, int32 biases) with its scale and zero point. Identity nodes on the way are looked
 * through. Transforms that copy channels of a layer (hardening) copy the stored words in their own
 * format and convert the copies the same way, so a fault-free copy reads exactly like its original.
 */
import { producers } from './builder.js';
import { allocate, numel } from './dtype.js';
import { DataType, type Graph, type Node, type Tensor, type TensorData } from './types.js';

export interface StoredParam {
  /** The value the layer reads (after the conversion, if any). */
  value: string;
  /** The stored initializer. */
  tensor: Tensor;
  /** The Cast (float16/bfloat16 → float32) or DequantizeLinear node between them, if any. */
  via?: Node;
  /** DequantizeLinear: its scale and zero-point initializers. */
  scale?: Tensor;
  zeroPoint?: Tensor;
  /** DequantizeLinear with per-axis scales: the axis (non-negative); undefined for a per-tensor scale. */
  axis?: number;
}

/**
 * Doc string of the nodes of a parameter guard (`Where(|p| ≤ bound, p, 0)`, harden/fused-check.ts
 * guardParam): storedParam looks through the guard's Where to the stored tensor.
 */
export const GUARD_TAG = 'flipguard.harden.param';

/** The initializer behind `v` through Identity nodes, or undefined. */
function throughIdentity(v: string, g: Graph, prod: ReadonlyMap<string, Node>): Tensor | undefined {
  for (let hops = 0; hops < 16; hops++) {
    const t = g.initializers.get(v);
    if (t) return t;
    const p = prod.get(v);
    if (!p || p.opType !== 'Identity') return undefined;
    v = p.inputs[0];
  }
  return undefined;
}

/** The stored form of value `value` (see the module comment), or undefined when it is computed otherwise. */
export function storedParam(g: Graph, value: string, prod: ReadonlyMap<string, Node> = producers(g)): StoredParam | undefined {
  let v = value;
  for (let hops = 0; hops < 16; hops++) {
    const t = g.initializers.get(v);
    if (t) return { value, tensor: t };
    const p = prod.get(v);
    if (!p || p.domain !== '') return undefined;
    if (p.opType === 'Identity') { v = p.inputs[0]; continue; }
    if (p.opType === 'Where' && p.docString === GUARD_TAG) { v = p.inputs[1]; continue; }
    if (p.opType === 'Cast') {
      const to = p.attributes.to?.type === 'int' ? p.attributes.to.value : -1;
      const src = throughIdentity(p.inputs[0], g, prod);
      if (to !== DataType.FLOAT || !src || (src.dataType !== DataType.FLOAT16 && src.dataType !== DataType.BFLOAT16)) return undefined;
      return { value, tensor: src, via: p };
    }
    if (p.opType === 'DequantizeLinear') {
      const src = throughIdentity(p.inputs[0], g, prod);
      const scale = throughIdentity(p.inputs[1], g, prod);
      const zeroPoint = p.inputs[2] ? throughIdentity(p.inputs[2], g, prod) : undefined;
      if (!src || !scale || (p.inputs[2] && !zeroPoint) || scale.dataType !== DataType.FLOAT) return undefined;
      const perAxis = numel(scale.dims) > 1 || scale.dims.length === 1;
      const a = p.attributes.axis?.type === 'int' ? p.attributes.axis.value : 1;
      return { value, tensor: src, via: p, scale, zeroPoint, axis: perAxis ? (a < 0 ? a + src.dims.length : a) : undefined };
    }
    return undefined;
  }
  return undefined;
}

/** The stored tensor behind `value` (see storedParam), or undefined. */
export function storedTensor(g: Graph, value: string, prod?: ReadonlyMap<string, Node>): Tensor | undefined {
  return storedParam(g, value, prod)?.tensor;
}

/**
 * The elements of `data` (shape `dims`) with the slices along `axis` taken in `order` (indices may
 * repeat): the result has dims[axis] = order.length. Any element type; words are copied unchanged.
 */
export function reorderAxis(dataType: number, data: TensorData, dims: readonly number[], axis: number, order: readonly number[]): { dims: number[]; data: TensorData } {
  const C = dims[axis];
  const outer = numel(dims.slice(0, axis));
  const inner = numel(dims.slice(axis + 1));
  const out = allocate(dataType as never, outer * order.length * inner) as Uint8Array;
  const src = data as unknown as Uint8Array;
  for (let o = 0; o < outer; o++) {
    order.forEach((c, j) => {
      const from = (o * C + c) * inner;
      out.set(src.subarray(from, from + inner), (o * order.length + j) * inner);
    });
  }
  const nd = [...dims];
  nd[axis] = order.length;
  return { dims: nd, data: out as unknown as TensorData };
}

/** Whether the stored word type of `p` is float32 (no conversion in between). */
export function isPlainFloat(p: StoredParam): boolean {
  return !p.via && p.tensor.dataType === DataType.FLOAT;
}
