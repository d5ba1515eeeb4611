/**
 * The machinery of shape rules (graph/ops/<Op>.ts): the per-node context a rule reads its input
 * shapes, types, folded values and attributes from, and the rules several ops share (elementwise
 * families, pooling, reductions). Following ONNX operator semantics for each supported opset;
 * where onnxruntime differs from the ONNX text, onnxruntime is followed and the rule says so.
 */
import { FlipguardError } from '../../errors.js';
import { attrFloat, attrInt, attrInts, attrString } from '../builder.js';
import { isFloatType, numel } from '../dtype.js';
import { DataType, type DataTypeCode, type Graph, type Node, type Tensor } from '../types.js';
import { fmt, poolSpatial, spatialAttrs } from './window.js';

export { fmt };

/** Largest integer (or bool) tensor, in elements, whose values are folded. */
export const FOLD_LIMIT = 4096;
/** Largest floating-point tensor, in elements, whose values are folded. */
export const FLOAT_FOLD_LIMIT = 64;

// ───────────────────────────── machinery ─────────────────────────────

export interface Env {
  shapes: Map<string, number[]>;
  types: Map<string, DataTypeCode>;
  values: Map<string, number[]>;
  opset: number;
}

export function isIntType(dt: DataTypeCode): boolean {
  return dt === DataType.INT64 || dt === DataType.INT32 || dt === DataType.INT16 || dt === DataType.INT8
    || dt === DataType.UINT64 || dt === DataType.UINT32 || dt === DataType.UINT16 || dt === DataType.UINT8
    || dt === DataType.BOOL;
}

/** Whether a value of type `dt` with `n` elements is small enough to fold. */
export function foldable(dt: DataTypeCode, n: number): boolean {
  if (isIntType(dt)) return n <= FOLD_LIMIT;
  if (dt === DataType.FLOAT || dt === DataType.DOUBLE) return n <= FLOAT_FOLD_LIMIT;
  return false;
}

export function tensorValues(t: Tensor): number[] | undefined {
  if (!foldable(t.dataType, numel(t.dims))) return undefined;
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function addTensor(env: Env, name: string, t: Tensor): void {
  env.shapes.set(name, [...t.dims]);
  env.types.set(name, t.dataType);
  const v = tensorValues(t);
  if (v) env.values.set(name, v);
}

/**
 * The nodes in an order where every input is available before it is read (the file's order when
 * that already works, as ONNX requires). Throws naming the node when an input comes from nowhere.
 */
export function topoOrder(g: Graph, env: Env): Node[] {
  const available = new Set<string>([...env.shapes.keys()]);
  const producedBy = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producedBy.set(o, n);
  const order: Node[] = [];
  let pending = g.nodes;
  while (pending.length) {
    const next: Node[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => !i || available.has(i))) {
        order.push(n);
        for (const o of n.outputs) if (o) available.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) {
      const n = next[0];
      const missing = n.inputs.find((i) => i && !available.has(i))!;
      const label = `Node "${n.name}" (${n.opType})`;
      if (!producedBy.has(missing)) {
        throw new FlipguardError(`${label} reads "${missing}", which no node, initializer or graph input provides; the model is incomplete — re-export it.`);
      }
      throw new FlipguardError(`${label} reads "${missing}", which is produced in a cycle; the graph must be acyclic — re-export the model.`);
    }
    pending = next;
  }
  return order;
}

export class NodeCtx {
  constructor(readonly node: Node, readonly env: Env) {}

  get opset(): number {
    return this.env.opset;
  }

  /** A FlipguardError "Node "x" (Op) <problem>; <fix>." */
  fail(problem: string, fix = 'the model is inconsistent — check its input shape or re-export it'): FlipguardError {
    const label = this.node.name ? `Node "${this.node.name}"` : `A node without a name`;
    return new FlipguardError(`${label} (${this.node.opType}) ${problem}; ${fix}.`);
  }

  /** Whether input `i` is given (optional inputs may be absent or named ""). */
  has(i: number): boolean {
    return i < this.node.inputs.length && this.node.inputs[i] !== '';
  }

  private need(i: number, role: string): string {
    if (!this.has(i)) throw this.fail(`lacks its required ${role} input (input ${i})`, 'fix the model');
    return this.node.inputs[i];
  }

  shape(i: number, role = 'data'): number[] {
    return this.env.shapes.get(this.need(i, role))!;
  }

  type(i: number, role = 'data'): DataTypeCode {
    return this.env.types.get(this.need(i, role)) ?? DataType.UNDEFINED;
  }

  /** The folded value of input `i`, or undefined when it is not known before running. */
  maybeValue(i: number): number[] | undefined {
    return this.has(i) ? this.env.values.get(this.node.inputs[i]) : undefined;
  }

  /** The folded value of required input `i`; throws when it is only known at run time. */
  value(i: number, role: string): number[] {
    const name = this.need(i, role);
    const v = this.env.values.get(name);
    if (!v) {
      throw this.fail(
        `needs the value of its ${role} input "${name}" to know its output shape, but that value is only computed at run time`,
        `re-export the model with a constant ${role} (fixed image size; only the batch dimension may vary)`,
      );
    }
    return v;
  }

  /** The value of optional input `i` (undefined when absent); throws when given but not constant. */
  optValue(i: number, role: string): number[] | undefined {
    return this.has(i) ? this.value(i, role) : undefined;
  }

  int(name: string, dflt: number): number {
    return attrInt(this.node, name, dflt);
  }

  ints(name: string): number[] | undefined {
    return attrInts(this.node, name);
  }

  str(name: string, dflt: string): string {
    return attrString(this.node, name, dflt);
  }

  /** Normalises a possibly negative axis for a tensor of rank `rank`. */
  axis(a: number, rank: number, what = 'axis'): number {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw this.fail(`has ${what} ${a}, outside the valid range [${-rank}, ${rank - 1}] for a rank-${rank} input`);
    }
    return a < 0 ? a + rank : a;
  }

  /** Records output `i` (skipped when the node leaves it out). Folded values are kept when small. */
  set(i: number, shape: number[], type: DataTypeCode, value?: number[]): void {
    if (i >= this.node.outputs.length) return;
    const name = this.node.outputs[i];
    if (!name) return;
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw this.fail(`would produce an output of impossible shape [${shape.join(', ')}]`);
    }
    this.env.shapes.set(name, shape);
    this.env.types.set(name, type);
    if (value && value.length === numel(shape) && foldable(type, value.length)) this.env.values.set(name, value);
  }
}

export type Rule = (c: NodeCtx) => void;


/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Calls `fn` with every multi-index of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
  const n = numel(shape);
  if (n === 0) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    fn(idx);
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
}

/** Multidirectional (numpy) broadcasting of shapes; undefined when they do not broadcast. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else return undefined;
    }
  }
  return out;
}

/** Converts a number to what an ONNX tensor of type `to` holds (truncation and wrap-around for integers). */
export function castNumber(v: number, to: DataTypeCode): number | undefined {
  switch (to) {
    case DataType.FLOAT: return Math.fround(v);
    case DataType.DOUBLE: return v;
    case DataType.BOOL: return v !== 0 ? 1 : 0;
  }
  if (!isIntType(to) || !Number.isFinite(v)) return undefined;
  const t = Math.trunc(v);
  switch (to) {
    case DataType.INT8: return (t << 24) >> 24;
    case DataType.UINT8: return t & 0xff;
    case DataType.INT16: return (t << 16) >> 16;
    case DataType.UINT16: return t & 0xffff;
    case DataType.INT32: return Number.isSafeInteger(t) ? Number(BigInt.asIntN(32, BigInt(t))) : undefined;
    case DataType.UINT32: return Number.isSafeInteger(t) ? Number(BigInt.asUintN(32, BigInt(t))) : undefined;
    case DataType.UINT64: return t < 0 && Number.isSafeInteger(t) ? Number(BigInt.asUintN(64, BigInt(t))) : t;
    default: return t;
  }
}

export function castAll(vs: number[] | undefined, to: DataTypeCode): number[] | undefined {
  if (!vs) return undefined;
  const out: number[] = [];
  for (const v of vs) {
    const c = castNumber(v, to);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

/** Values of an elementwise binary op on broadcast inputs (undefined on integer division by zero). */
export function foldBinary(op: string, a: number[], as: number[], b: number[], bs: number[], out: number[], dt: DataTypeCode): number[] | undefined {
  const mapTo = (s: number[]) => {
    const st = stridesOf(s);
    return (idx: number[]) => {
      let f = 0;
      for (let k = 0; k < s.length; k++) { const i = idx[out.length - s.length + k]; if (s[k] !== 1) f += i * st[k]; }
      return f;
    };
  };
  const fa = mapTo(as);
  const fb = mapTo(bs);
  const res: number[] = [];
  const integer = isIntType(dt);
  let ok = true;
  forEachIndex(out, (idx) => {
    const x = a[fa(idx)];
    const y = b[fb(idx)];
    let r: number;
    switch (op) {
      case 'Add': r = x + y; break;
      case 'Sub': r = x - y; break;
      case 'Mul': r = x * y; break;
      default:
        if (integer && y === 0) { ok = false; r = 0; } else r = x / y;
    }
    const c = castNumber(r, dt);
    if (c === undefined) ok = false;
    res.push(c ?? 0);
  });
  return ok ? res : undefined;
}

export function poolRule(c: NodeCtx): void {
  const x = c.shape(0);
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  const kernel = c.ints('kernel_shape');
  if (!kernel) throw c.fail('has no kernel_shape attribute', 'add kernel_shape or re-export the model');
  const a = spatialAttrs(c, x.length - 2, kernel);
  const out = [x[0], x[1], ...poolSpatial(c, x.slice(2), a, c.int('ceil_mode', 0) !== 0)];
  c.set(0, out, c.type(0));
  c.set(1, out, DataType.INT64); // MaxPool indices
}

// ───────────────────────────── other rules ─────────────────────────────

export function sameShape(c: NodeCtx): void {
  c.set(0, [...c.shape(0)], c.type(0));
}

export function binaryRule(c: NodeCtx): void {
  const a = c.shape(0, 'first');
  const b = c.shape(1, 'second');
  const out = broadcastShapes(a, b);
  if (!out) throw c.fail(`cannot broadcast its input shapes ${fmt(a)} and ${fmt(b)}`);
  const dt = c.type(0);
  const va = c.maybeValue(0);
  const vb = c.maybeValue(1);
  const value = va && vb && numel(out) <= FOLD_LIMIT ? foldBinary(c.node.opType, va, a, vb, b, out, dt) : undefined;
  c.set(0, out, dt, value);
}

/** Values of a strided slice: `starts`/`steps` per axis of `shape`, output shape `out`. */
export function sliceValues(v: number[], shape: number[], out: number[], starts: number[], steps: number[]): number[] {
  const st = stridesOf(shape);
  const res: number[] = [];
  forEachIndex(out, (idx) => {
    let f = 0;
    for (let a = 0; a < idx.length; a++) f += (starts[a] + idx[a] * steps[a]) * st[a];
    res.push(v[f]);
  });
  return res;
}

// ───────────────────────────── ops flipguard's transforms emit ─────────────────────────────
//
// Comparisons, logic, selection, elementwise math and reductions (ops.ts TRANSFORM_OPS). Values
// are folded only when the result is an integer or bool tensor (shape arithmetic, masks, index
// computations); floating-point results are left to the runtime.

/** Maps a multi-index of the broadcast shape `out` to the flat index of an input of shape `s`. */
export function broadcastIndexer(s: readonly number[], out: readonly number[]): (idx: number[]) => number {
  const st = stridesOf(s);
  const off = out.length - s.length;
  return (idx) => {
    let f = 0;
    for (let k = 0; k < s.length; k++) if (s[k] !== 1) f += idx[off + k] * st[k];
    return f;
  };
}

/**
 * Values of an elementwise op over the broadcast inputs `idx` (node input positions) with output
 * shape `out` and type `dt`: undefined unless `dt` is an integer or bool type, every input's value
 * is known, the result is small, and `fn` (given the input values at one position) is defined
 * everywhere. Results are converted to `dt` (wrap-around, truncation).
 */
export function foldElementwise(c: NodeCtx, idx: number[], out: number[], dt: DataTypeCode, fn: (xs: number[]) => number | undefined): number[] | undefined {
  if (!isIntType(dt) || numel(out) > FOLD_LIMIT) return undefined;
  const vals = idx.map((i) => c.maybeValue(i));
  if (vals.some((v) => v === undefined)) return undefined;
  const maps = idx.map((i) => broadcastIndexer(c.shape(i), out));
  const res: number[] = [];
  let ok = true;
  const xs = new Array<number>(idx.length);
  forEachIndex(out, (ix) => {
    if (!ok) return;
    for (let k = 0; k < idx.length; k++) xs[k] = vals[k]![maps[k](ix)];
    const r = fn(xs);
    const v = r === undefined ? undefined : castNumber(r, dt);
    if (v === undefined) ok = false;
    else res.push(v);
  });
  return ok ? res : undefined;
}

/** The broadcast shape of inputs `idx`; throws naming the shapes when they do not broadcast. */
export function broadcastInputs(c: NodeCtx, idx: number[]): number[] {
  const shapes = idx.map((i) => c.shape(i));
  const out = broadcastShapes(...shapes);
  if (!out) throw c.fail(`cannot broadcast its input shapes ${shapes.map(fmt).join(', ')}`);
  return out;
}

/** Positions of the inputs the node is given (optional ones may be named ""). */
export function presentInputs(c: NodeCtx): number[] {
  return c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
}

export const bool = (b: boolean): number => (b ? 1 : 0);

/** Abs, Neg, Sign, Reciprocal, Log, Exp, Sqrt, Floor, Ceil: same shape and type (Abs, Neg, Sign folded on integers). */
export function unaryMathRule(c: NodeCtx): void {
  const x = c.shape(0);
  const dt = c.type(0);
  const fns: Record<string, (v: number) => number> = { Abs: Math.abs, Neg: (v) => -v, Sign: Math.sign };
  const fn = fns[c.node.opType];
  c.set(0, [...x], dt, fn ? foldElementwise(c, [0], x, dt, ([v]) => fn(v)) : undefined);
}

/** IsNaN, IsInf (detect_negative / detect_positive, default 1): bool of the input's shape. */
export function floatPredicateRule(c: NodeCtx): void {
  const x = c.shape(0);
  let fn: (v: number) => boolean;
  if (c.node.opType === 'IsNaN') fn = Number.isNaN;
  else {
    const neg = c.int('detect_negative', 1) !== 0;
    const pos = c.int('detect_positive', 1) !== 0;
    fn = (v) => (v === Infinity && pos) || (v === -Infinity && neg);
  }
  c.set(0, [...x], DataType.BOOL, foldElementwise(c, [0], x, DataType.BOOL, ([v]) => bool(fn(v))));
}

/** Equal, Less, Greater, GreaterOrEqual, LessOrEqual, And, Or, Xor: broadcast, bool result. */
export function booleanBinaryRule(c: NodeCtx): void {
  const out = broadcastInputs(c, [0, 1]);
  const fns: Record<string, (a: number, b: number) => boolean> = {
    Equal: (a, b) => a === b, Less: (a, b) => a < b, Greater: (a, b) => a > b,
    GreaterOrEqual: (a, b) => a >= b, LessOrEqual: (a, b) => a <= b,
    And: (a, b) => a !== 0 && b !== 0, Or: (a, b) => a !== 0 || b !== 0, Xor: (a, b) => (a !== 0) !== (b !== 0),
  };
  const fn = fns[c.node.opType];
  c.set(0, out, DataType.BOOL, foldElementwise(c, [0, 1], out, DataType.BOOL, ([a, b]) => bool(fn(a, b))));
}

/** Min, Max: one or more inputs, multidirectional broadcasting, the first input's type. */
export function minMaxRule(c: NodeCtx): void {
  const idx = presentInputs(c);
  if (!idx.length) throw c.fail('has no inputs', 'fix the model');
  const out = broadcastInputs(c, idx);
  const dt = c.type(idx[0]);
  const fn = c.node.opType === 'Min' ? Math.min : Math.max;
  c.set(0, out, dt, foldElementwise(c, idx, out, dt, (xs) => fn(...xs)));
}

/**
 * ReduceSum/Min/Max/Mean: axes from the attribute, or from the optional input (ReduceSum from
 * opset 13, the others from 18); keepdims (default 1) keeps reduced axes as size 1. No axes (or an
 * empty list) reduces every axis, unless noop_with_empty_axes = 1 (input form), which leaves the
 * input as it is. Sum, Min and Max are folded on integers.
 */
export function reduceRule(c: NodeCtx): void {
  const x = c.shape(0);
  const dt = c.type(0);
  const op = c.node.opType;
  const axesAsInput = op === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
  const axesRaw = axesAsInput ? c.optValue(1, 'axes') : c.ints('axes');
  const keep = c.int('keepdims', 1) !== 0;
  if ((!axesRaw || !axesRaw.length) && axesAsInput && c.int('noop_with_empty_axes', 0) !== 0) {
    c.set(0, [...x], dt, c.maybeValue(0));
    return;
  }
  const axes = axesRaw && axesRaw.length ? axesRaw.map((a) => c.axis(a, x.length)) : x.map((_, i) => i);
  if (new Set(axes).size !== axes.length) throw c.fail(`has repeated axes ${fmt(axesRaw ?? [])}`, 'fix the model');
  const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = keep ? kept : x.filter((_, i) => !axes.includes(i));
  let value: number[] | undefined;
  const v = c.maybeValue(0);
  if (v && isIntType(dt) && op !== 'ReduceMean' && numel(x) > 0) {
    const acc: number[][] = Array.from({ length: numel(kept) }, () => []);
    const to = broadcastIndexer(kept, x);
    let j = 0;
    forEachIndex(x, (ix) => { acc[to(ix)].push(v[j++]); });
    const r = acc.map((a) => (op === 'ReduceSum' ? a.reduce((p, q) => p + q, 0) : op === 'ReduceMin' ? Math.min(...a) : Math.max(...a)));
    value = castAll(r, dt);
  }
  c.set(0, out, dt, value);
}

/** Shape rule per supported op type (default domain). */
