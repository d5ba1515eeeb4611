/**
 * Static shape inference: the concrete shape of every value in a graph for a given batch size,
 * following ONNX operator semantics for each supported opset (attributes that later opsets turned
 * into inputs are read from wherever the node's opset keeps them). Small constant tensors —
 * initializers, Constant nodes and the integer arithmetic exporters put around Reshape
 * (Shape → Gather → Unsqueeze → Concat → Reshape) — are folded so that shapes computed inside the
 * graph resolve to numbers.
 *
 * Where onnxruntime (the runtime flipguard uses) differs from the ONNX text, onnxruntime is
 * followed, and the difference is noted at the rule.
 */
import { FlipguardError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString } from './builder.js';
import { isFloatType, numel } from './dtype.js';
import { isSupportedOp, unsupportedOpError } from './ops.js';
import { DataType, defaultOpset, type DataTypeCode, type Graph, type Model, type Node, type Tensor } from './types.js';

export interface ShapeOptions {
  /**
   * Batch size (images) substituted for a symbolic or unknown first dimension of a graph input;
   * default 1. A first dimension the model fixes keeps its value.
   */
  batch?: number;
  /** Full shapes for named graph inputs, replacing what the model declares. */
  inputShapes?: Record<string, number[]>;
}

/** Everything shape inference learns about a graph's values, keyed by value name. */
export interface ShapeAnalysis {
  /** Concrete shape (dimension sizes, in elements) of every graph input, initializer and node output. */
  shapes: Map<string, number[]>;
  /** ONNX element type code of every value. */
  types: Map<string, DataTypeCode>;
  /**
   * Values of the small constant tensors known before running the graph, flattened in row-major
   * order as JavaScript numbers (int64 values beyond 2^53 lose precision). Covers integer tensors
   * up to FOLD_LIMIT elements and floating-point ones up to FLOAT_FOLD_LIMIT elements.
   */
  values: Map<string, number[]>;
}

/** Largest integer (or bool) tensor, in elements, whose values are folded. */
export const FOLD_LIMIT = 4096;
/** Largest floating-point tensor, in elements, whose values are folded. */
export const FLOAT_FOLD_LIMIT = 64;

/**
 * The concrete shape of every value (graph inputs, initializers, every node output) for a batch
 * of `opts.batch` images (default 1). Throws a FlipguardError naming the node when a shape cannot
 * be determined or the model is inconsistent (e.g. shapes that do not broadcast).
 */
export function inferShapes(model: Model, opts: ShapeOptions = {}): Map<string, number[]> {
  return analyzeShapes(model, opts).shapes;
}

/**
 * The folded constant values (see ShapeAnalysis.values), e.g. the target shape a Reshape receives
 * from a Shape → Gather → Concat chain, for a batch of `opts.batch` images.
 */
export function inferValues(model: Model, opts: ShapeOptions = {}): Map<string, number[]> {
  return analyzeShapes(model, opts).values;
}

/** Shapes, element types and folded constant values of every value of the model's graph. */
export function analyzeShapes(model: Model, opts: ShapeOptions = {}): ShapeAnalysis {
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new FlipguardError(`The batch size must be a whole number ≥ 1, got ${batch}.`);
  }
  const env: Env = { shapes: new Map(), types: new Map(), values: new Map(), opset: defaultOpset(model) };
  const g = model.graph;
  for (const t of g.initializers.values()) addTensor(env, t.name, t);
  for (const inp of g.inputs) {
    const override = opts.inputShapes?.[inp.name];
    let dims: number[];
    if (override) {
      if (!override.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new FlipguardError(`The shape given for input "${inp.name}" ([${override.join(', ')}]) must hold whole numbers ≥ 0; fix the input shape option.`);
      }
      dims = [...override];
    } else {
      if (!inp.shape) {
        throw new FlipguardError(`Graph input "${inp.name}" declares no shape; re-export the model with input shapes or pass the input's shape explicitly.`);
      }
      dims = inp.shape.map((d, i) => {
        if (typeof d === 'number' && d > 0) return d;
        if (i === 0) return batch;
        throw new FlipguardError(`Graph input "${inp.name}" has no fixed size in dimension ${i} (${d === null ? 'unknown' : `"${d}"`}); re-export the model with a fixed input size (only the batch dimension may vary).`);
      });
    }
    env.shapes.set(inp.name, dims);
    env.types.set(inp.name, inp.elemType ?? DataType.FLOAT);
  }
  for (const node of topoOrder(g, env)) {
    if (!isSupportedOp(node)) throw unsupportedOpError(node);
    const rule = RULES[node.opType];
    if (!rule) throw unsupportedOpError(node);
    const c = new NodeCtx(node, env);
    rule(c);
    for (const o of node.outputs) {
      if (o && !env.shapes.has(o)) throw c.fail(`has an output "${o}" that this op does not produce`, 'remove the extra output from the model');
    }
  }
  return { shapes: env.shapes, types: env.types, values: env.values };
}

// ───────────────────────────── machinery ─────────────────────────────

interface Env {
  shapes: Map<string, number[]>;
  types: Map<string, DataTypeCode>;
  values: Map<string, number[]>;
  opset: number;
}

function isIntType(dt: DataTypeCode): boolean {
  return dt === DataType.INT64 || dt === DataType.INT32 || dt === DataType.INT16 || dt === DataType.INT8
    || dt === DataType.UINT64 || dt === DataType.UINT32 || dt === DataType.UINT16 || dt === DataType.UINT8
    || dt === DataType.BOOL;
}

/** Whether a value of type `dt` with `n` elements is small enough to fold. */
function foldable(dt: DataTypeCode, n: number): boolean {
  if (isIntType(dt)) return n <= FOLD_LIMIT;
  if (dt === DataType.FLOAT || dt === DataType.DOUBLE) return n <= FLOAT_FOLD_LIMIT;
  return false;
}

function tensorValues(t: Tensor): number[] | undefined {
  if (!foldable(t.dataType, numel(t.dims))) return undefined;
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function addTensor(env: Env, name: string, t: Tensor): void {
  env.shapes.set(name, [...t.dims]);
  env.types.set(name, t.dataType);
  const v = tensorValues(t);
  if (v) env.values.set(name, v);
}

/**
 * The nodes in an order where every input is available before it is read (the file's order when
 * that already works, as ONNX requires). Throws naming the node when an input comes from nowhere.
 */
function topoOrder(g: Graph, env: Env): Node[] {
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

class NodeCtx {
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

type Rule = (c: NodeCtx) => void;

function fmt(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Row-major strides of a shape, in elements. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Calls `fn` with every multi-index of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
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
function castNumber(v: number, to: DataTypeCode): number | undefined {
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

function castAll(vs: number[] | undefined, to: DataTypeCode): number[] | undefined {
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
function foldBinary(op: string, a: number[], as: number[], b: number[], bs: number[], out: number[], dt: DataTypeCode): number[] | undefined {
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

// ───────────────────────────── convolution and pooling sizes ─────────────────────────────

interface SpatialAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

function spatialAttrs(c: NodeCtx, nSpatial: number, kernel: number[]): SpatialAttrs {
  const strides = c.ints('strides') ?? new Array<number>(nSpatial).fill(1);
  const dilations = c.ints('dilations') ?? new Array<number>(nSpatial).fill(1);
  const pads = c.ints('pads') ?? new Array<number>(2 * nSpatial).fill(0);
  const autoPad = c.str('auto_pad', 'NOTSET');
  if (kernel.length !== nSpatial) throw c.fail(`has a ${kernel.length}-d kernel for ${nSpatial} spatial dimensions`);
  if (strides.length !== nSpatial || strides.some((s) => s < 1)) throw c.fail(`has strides ${fmt(strides)}, which do not fit ${nSpatial} spatial dimensions`);
  if (dilations.length !== nSpatial || dilations.some((s) => s < 1)) throw c.fail(`has dilations ${fmt(dilations)}, which do not fit ${nSpatial} spatial dimensions`);
  if (pads.length !== 2 * nSpatial) throw c.fail(`has pads ${fmt(pads)}, which need ${2 * nSpatial} values (all begins, then all ends)`);
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw c.fail(`has auto_pad "${autoPad}"`, 'use NOTSET, SAME_UPPER, SAME_LOWER or VALID');
  return { kernel, strides, dilations, pads, autoPad };
}

/** Output sizes of a convolution (floor division; SAME gives ceil(in / stride)). */
function convSpatial(c: NodeCtx, inSpatial: number[], a: SpatialAttrs): number[] {
  return inSpatial.map((x, i) => {
    const k = (a.kernel[i] - 1) * a.dilations[i] + 1;
    const s = a.strides[i];
    let out: number;
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') out = Math.ceil(x / s);
    else if (a.autoPad === 'VALID') out = Math.floor((x - k) / s) + 1;
    else out = Math.floor((x + a.pads[i] + a.pads[i + inSpatial.length] - k) / s) + 1;
    if (out < 1) throw c.fail(`has a ${k}-wide (dilated) kernel that does not fit its padded input of size ${x} in spatial dimension ${i}`, 'use a larger input image');
    return out;
  });
}

/**
 * Output sizes of a pooling op as onnxruntime computes them: floor (or ceil with ceil_mode) of
 * (in + pads − dilated kernel) / stride + 1; SAME pads by (ceil(in/stride) − 1)·stride + kernel − in
 * (undilated kernel, as onnxruntime does); with ceil_mode a last window starting beyond the input
 * and begin padding is dropped.
 */
function poolSpatial(c: NodeCtx, inSpatial: number[], a: SpatialAttrs, ceilMode: boolean): number[] {
  return inSpatial.map((x, i) => {
    const dk = (a.kernel[i] - 1) * a.dilations[i] + 1;
    const s = a.strides[i];
    let padBegin: number;
    let padTotal: number;
    if (a.autoPad === 'VALID') { padBegin = 0; padTotal = 0; }
    else if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
      padTotal = (Math.ceil(x / s) - 1) * s + a.kernel[i] - x;
      padBegin = a.autoPad === 'SAME_LOWER' ? Math.floor((padTotal + 1) / 2) : Math.floor(padTotal / 2);
    } else { padBegin = a.pads[i]; padTotal = a.pads[i] + a.pads[i + inSpatial.length]; }
    const q = (x + padTotal - dk) / s + 1;
    let out = ceilMode ? Math.ceil(q) : Math.trunc(q);
    if (ceilMode && (out - 1) * s >= x + padBegin) out--;
    if (out < 1) throw c.fail(`has a ${dk}-wide (dilated) window that does not fit its padded input of size ${x} in spatial dimension ${i}`, 'use a larger input image');
    return out;
  });
}

function convRule(c: NodeCtx): void {
  const x = c.shape(0);
  const w = c.shape(1, 'weight');
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  if (w.length !== x.length) throw c.fail(`has weights of shape ${fmt(w)}, whose rank does not match the input ${fmt(x)}`);
  const group = c.int('group', 1);
  if (group < 1 || x[1] !== w[1] * group || w[0] % group !== 0) {
    throw c.fail(`has ${x[1]} input channels but weights ${fmt(w)} with group ${group} expect ${w[1] * group}`);
  }
  const ns = x.length - 2;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  if (c.has(2)) {
    const b = c.shape(2, 'bias');
    if (numel(b) !== w[0]) throw c.fail(`has a bias of shape ${fmt(b)} for ${w[0]} output channels`);
  }
  const a = spatialAttrs(c, ns, kernel);
  c.set(0, [x[0], w[0], ...convSpatial(c, x.slice(2), a)], c.type(0));
}

/**
 * ConvTranspose output sizes as onnxruntime computes them: with output_shape (spatial sizes, or
 * N, C and spatial sizes) those sizes; otherwise stride·(in − 1) + output_padding + dilated kernel
 * − pads, where SAME pads total max(0, that full size − in·stride) and VALID pads nothing.
 */
function convTransposeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const w = c.shape(1, 'weight');
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  if (w.length !== x.length) throw c.fail(`has weights of shape ${fmt(w)}, whose rank does not match the input ${fmt(x)}`);
  const group = c.int('group', 1);
  if (group < 1 || x[1] !== w[0] || w[0] % group !== 0) {
    throw c.fail(`has ${x[1]} input channels but weights ${fmt(w)} with group ${group} expect ${w[0]}`);
  }
  const ns = x.length - 2;
  const outC = w[1] * group;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  const a = spatialAttrs(c, ns, kernel);
  const adj = c.ints('output_padding') ?? new Array<number>(ns).fill(0);
  if (adj.length !== ns) throw c.fail(`has output_padding ${fmt(adj)} for ${ns} spatial dimensions`);
  const given = c.ints('output_shape');
  let spatial: number[];
  if (given) {
    if (given.length === ns) spatial = [...given];
    else if (given.length === ns + 2) spatial = given.slice(2);
    else throw c.fail(`has output_shape ${fmt(given)} for ${ns} spatial dimensions`);
  } else {
    spatial = x.slice(2).map((xi, i) => {
      const full = a.strides[i] * (xi - 1) + adj[i] + (a.kernel[i] - 1) * a.dilations[i] + 1;
      let pads: number;
      if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') pads = Math.max(0, full - xi * a.strides[i]);
      else if (a.autoPad === 'VALID') pads = 0;
      else pads = a.pads[i] + a.pads[i + ns];
      const out = full - pads;
      if (out < 1) throw c.fail(`would produce a non-positive output size ${out} in spatial dimension ${i}`, 'reduce its pads');
      return out;
    });
  }
  c.set(0, [x[0], outC, ...spatial], c.type(0));
}

function poolRule(c: NodeCtx): void {
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

function sameShape(c: NodeCtx): void {
  c.set(0, [...c.shape(0)], c.type(0));
}

function sameShapeWithValue(c: NodeCtx): void {
  c.set(0, [...c.shape(0)], c.type(0), c.maybeValue(0));
}

function binaryRule(c: NodeCtx): void {
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

function gemmRule(c: NodeCtx): void {
  const a = c.shape(0, 'A');
  const b = c.shape(1, 'B');
  if (a.length !== 2 || b.length !== 2) throw c.fail(`needs 2-d inputs but got ${fmt(a)} and ${fmt(b)}`, 'insert a Flatten before it');
  const [m, k] = c.int('transA', 0) ? [a[1], a[0]] : a;
  const [k2, n] = c.int('transB', 0) ? [b[1], b[0]] : b;
  if (k !== k2) throw c.fail(`multiplies ${fmt([m, k])} by ${fmt([k2, n])} (after transA/transB), whose inner sizes differ`);
  if (c.has(2)) {
    const cs = c.shape(2, 'C');
    const bc = broadcastShapes(cs, [m, n]);
    if (!bc || bc[0] !== m || bc[1] !== n) throw c.fail(`has a C input of shape ${fmt(cs)} that does not broadcast to ${fmt([m, n])}`);
  }
  c.set(0, [m, n], c.type(0));
}

function matmulRule(c: NodeCtx): void {
  const a = c.shape(0, 'A');
  const b = c.shape(1, 'B');
  if (a.length === 0 || b.length === 0) throw c.fail(`cannot multiply scalars (shapes ${fmt(a)} and ${fmt(b)})`);
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  if (a2[a2.length - 1] !== b2[b2.length - 2]) throw c.fail(`multiplies ${fmt(a)} by ${fmt(b)}, whose inner sizes differ`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  if (!batch) throw c.fail(`cannot broadcast the batch dimensions of ${fmt(a)} and ${fmt(b)}`);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  c.set(0, out, c.type(0));
}

function globalPoolRule(c: NodeCtx): void {
  const x = c.shape(0);
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  c.set(0, [x[0], x[1], ...x.slice(2).map(() => 1)], c.type(0));
}

function batchNormRule(c: NodeCtx): void {
  const x = c.shape(0);
  if (x.length < 2) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, …]`);
  const perChannel = c.opset >= 9 || c.int('spatial', 1) !== 0; // spatial = 0 (opset < 9): per-element statistics
  for (let i = 1; i <= 4; i++) {
    const s = c.shape(i, ['', 'scale', 'bias', 'mean', 'var'][i]);
    if (perChannel && numel(s) !== x[1]) throw c.fail(`has a ${['', 'scale', 'bias', 'mean', 'var'][i]} of shape ${fmt(s)} for ${x[1]} channels`);
  }
  c.set(0, [...x], c.type(0));
  // training-mode outputs (running/saved mean and variance): one value per channel
  for (let i = 1; i < c.node.outputs.length; i++) c.set(i, perChannel ? [x[1]] : [...c.shape(1)], c.type(1, 'scale'));
}

function dropoutRule(c: NodeCtx): void {
  const x = c.shape(0);
  c.set(0, [...x], c.type(0), c.maybeValue(0));
  c.set(1, [...x], c.opset >= 10 ? DataType.BOOL : c.type(0));
}

function castRule(c: NodeCtx): void {
  const to = c.int('to', -1);
  if (to <= 0) throw c.fail('has no valid "to" type', 'fix the model');
  c.set(0, [...c.shape(0)], to, castAll(c.maybeValue(0), to));
}

function flattenRule(c: NodeCtx): void {
  const x = c.shape(0);
  let axis = c.int('axis', 1);
  if (axis < -x.length || axis > x.length) throw c.fail(`has axis ${axis}, outside [${-x.length}, ${x.length}] for input ${fmt(x)}`);
  if (axis < 0) axis += x.length;
  c.set(0, [numel(x.slice(0, axis)), numel(x.slice(axis))], c.type(0), c.maybeValue(0));
}

/** Reshape: 0 copies the input's size at that position (unless allowzero = 1), −1 takes what is left. */
function reshapeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const target = c.value(1, 'shape');
  const allowZero = c.opset >= 14 && c.int('allowzero', 0) !== 0;
  const total = numel(x);
  const out = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= x.length) throw c.fail(`copies dimension ${i} (a 0 in its target shape ${fmt(target)}) from an input of rank ${x.length}`);
      return x[i];
    }
    return d;
  });
  const free = out.filter((d) => d === -1).length;
  if (free > 1 || out.some((d) => d < -1)) throw c.fail(`has an invalid target shape ${fmt(target)}`);
  if (free === 1) {
    const known = numel(out.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) throw c.fail(`cannot reshape ${fmt(x)} (${total} elements) to ${fmt(target)}`);
    out[out.indexOf(-1)] = total / known;
  }
  if (numel(out) !== total) throw c.fail(`cannot reshape ${fmt(x)} (${total} elements) to ${fmt(target)} (${numel(out)} elements)`);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

function transposeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const perm = c.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== x.length || sorted.some((p, i) => p !== i)) throw c.fail(`has perm ${fmt(perm)}, which is not a permutation of the ${x.length} axes of ${fmt(x)}`);
  const out = perm.map((p) => x[p]);
  let value: number[] | undefined;
  const v = c.maybeValue(0);
  if (v) {
    const st = stridesOf(x);
    value = [];
    forEachIndex(out, (idx) => { let f = 0; for (let k = 0; k < idx.length; k++) f += idx[k] * st[perm[k]]; value!.push(v[f]); });
  }
  c.set(0, out, c.type(0), value);
}

function concatRule(c: NodeCtx): void {
  const present = c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
  if (!present.length) throw c.fail('has no inputs', 'fix the model');
  const shapes = present.map((i) => c.shape(i));
  const rank = shapes[0].length;
  const attr = c.node.attributes.axis;
  if (!attr) throw c.fail('has no axis attribute', 'fix the model');
  const axis = c.axis(c.int('axis', 0), rank);
  const out = [...shapes[0]];
  out[axis] = 0;
  for (const s of shapes) {
    if (s.length !== rank || s.some((d, i) => i !== axis && d !== shapes[0][i])) {
      throw c.fail(`concatenates inputs of shapes ${shapes.map(fmt).join(', ')}, which differ outside axis ${axis}`);
    }
    out[axis] += s[axis];
  }
  // fold values
  const vals = present.map((i) => c.maybeValue(i));
  let value: number[] | undefined;
  if (vals.every((v) => v !== undefined) && numel(out) <= FOLD_LIMIT) {
    value = new Array<number>(numel(out));
    const ost = stridesOf(out);
    let offset = 0;
    shapes.forEach((s, k) => {
      const v = vals[k]!;
      let j = 0;
      forEachIndex(s, (idx) => {
        let f = 0;
        for (let a = 0; a < idx.length; a++) f += (a === axis ? idx[a] + offset : idx[a]) * ost[a];
        value![f] = v[j++];
      });
      offset += s[axis];
    });
  }
  c.set(0, out, c.type(present[0]), value);
}

/** Values of a strided slice: `starts`/`steps` per axis of `shape`, output shape `out`. */
function sliceValues(v: number[], shape: number[], out: number[], starts: number[], steps: number[]): number[] {
  const st = stridesOf(shape);
  const res: number[] = [];
  forEachIndex(out, (idx) => {
    let f = 0;
    for (let a = 0; a < idx.length; a++) f += (starts[a] + idx[a] * steps[a]) * st[a];
    res.push(v[f]);
  });
  return res;
}

/**
 * Split: sizes from the `split` attribute (opset < 13) or input (≥ 13); otherwise equal parts,
 * where from opset 18 `num_outputs` parts of ceil(size / n) with a smaller last part.
 */
function splitRule(c: NodeCtx): void {
  const x = c.shape(0);
  const axis = c.axis(c.int('axis', 0), x.length);
  const n = c.node.outputs.length;
  let sizes = c.opset >= 13 ? c.optValue(1, 'split') : c.ints('split');
  if (!sizes) {
    const d = x[axis];
    const numOutputs = c.opset >= 18 ? c.int('num_outputs', n) : n;
    if (numOutputs !== n) throw c.fail(`has num_outputs ${numOutputs} but ${n} outputs`, 'fix the model');
    if (c.opset >= 18 && c.node.attributes.num_outputs) {
      const part = Math.ceil(d / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, d - part * i)));
    } else {
      if (d % n !== 0) throw c.fail(`cannot split size ${d} of axis ${axis} into ${n} equal parts`, 'give explicit split sizes');
      sizes = new Array<number>(n).fill(d / n);
    }
  }
  if (sizes.length !== n || sizes.reduce((p, q) => p + q, 0) !== x[axis] || sizes.some((s) => s < 0)) {
    throw c.fail(`splits size ${x[axis]} of axis ${axis} into parts ${fmt(sizes)} for ${n} outputs`);
  }
  const v = c.maybeValue(0);
  let start = 0;
  sizes.forEach((s, i) => {
    const out = [...x];
    out[axis] = s;
    let value: number[] | undefined;
    if (v) {
      const starts = x.map((_, a) => (a === axis ? start : 0));
      value = sliceValues(v, x, out, starts, x.map(() => 1));
    }
    c.set(i, out, c.type(0), value);
    start += s;
  });
}

/** Slice with ONNX clamping: negative indices count from the end, then starts/ends clamp to the axis. */
function sliceRule(c: NodeCtx): void {
  const x = c.shape(0);
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset >= 10) {
    starts = c.value(1, 'starts');
    ends = c.value(2, 'ends');
    axes = c.optValue(3, 'axes');
    steps = c.optValue(4, 'steps');
  } else {
    const s = c.ints('starts');
    const e = c.ints('ends');
    if (!s || !e) throw c.fail('has no starts/ends attributes', 'fix the model');
    starts = s; ends = e; axes = c.ints('axes');
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw c.fail(`has starts, ends, axes and steps of different lengths (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`, 'fix the model');
  }
  const out = [...x];
  const first = x.map(() => 0);
  const step = x.map(() => 1);
  const seen = new Set<number>();
  axes.forEach((ax, i) => {
    const a = c.axis(ax, x.length);
    if (seen.has(a)) throw c.fail(`slices axis ${a} twice`, 'fix the model');
    seen.add(a);
    const d = x[a];
    const st = steps![i];
    if (st === 0) throw c.fail('has a slice step of 0', 'fix the model');
    let s = starts[i];
    let e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) { s = Math.min(Math.max(s, 0), d); e = Math.min(Math.max(e, 0), d); }
    else { s = Math.min(Math.max(s, 0), d - 1); e = Math.min(Math.max(e, -1), d - 1); }
    out[a] = Math.max(0, Math.ceil((e - s) / st));
    first[a] = s;
    step[a] = st;
  });
  const v = c.maybeValue(0);
  c.set(0, out, c.type(0), v ? sliceValues(v, x, out, first, step) : undefined);
}

/** Pad: pads (all begins, then all ends) from the attribute (opset < 11) or input, over `axes` (opset ≥ 18). */
function padRule(c: NodeCtx): void {
  const x = c.shape(0);
  const pads = c.opset >= 11 ? c.value(1, 'pads') : c.ints('pads') ?? c.ints('paddings');
  if (!pads) throw c.fail('has no pads', 'fix the model');
  const axesIn = c.opset >= 18 ? c.optValue(3, 'axes') : undefined;
  const axes = axesIn ? axesIn.map((a) => c.axis(a, x.length)) : x.map((_, i) => i);
  if (pads.length !== 2 * axes.length) throw c.fail(`has ${pads.length} pads for ${axes.length} axes; it needs ${2 * axes.length}`, 'fix the model');
  const out = [...x];
  axes.forEach((a, i) => { out[a] = x[a] + pads[i] + pads[i + axes.length]; });
  if (out.some((d) => d < 0)) throw c.fail(`pads ${fmt(x)} with ${fmt(pads)} to a negative size`);
  c.set(0, out, c.type(0));
}

function constantRule(c: NodeCtx): void {
  const at = c.node.attributes;
  const t = at.value;
  if (t && t.type === 'tensor') {
    c.set(0, [...t.value.dims], t.value.dataType, tensorValues(t.value));
  } else if (at.value_float) {
    c.set(0, [], DataType.FLOAT, [Math.fround(attrFloat(c.node, 'value_float', 0))]);
  } else if (at.value_floats && at.value_floats.type === 'floats') {
    c.set(0, [at.value_floats.value.length], DataType.FLOAT, at.value_floats.value.map(Math.fround));
  } else if (at.value_int) {
    c.set(0, [], DataType.INT64, [c.int('value_int', 0)]);
  } else if (at.value_ints) {
    const v = c.ints('value_ints') ?? [];
    c.set(0, [v.length], DataType.INT64, v);
  } else if (at.value_string) {
    c.set(0, [], DataType.STRING);
  } else if (at.value_strings && at.value_strings.type === 'strings') {
    c.set(0, [at.value_strings.value.length], DataType.STRING);
  } else {
    throw c.fail('holds no value flipguard can read (sparse or missing)', 're-export the model with dense constants');
  }
}

/** Shape, with the start/end window of opset 15 (negative counts from the end, clamped). */
function shapeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const r = x.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = c.opset >= 15 ? clamp(c.int('start', 0)) : 0;
  const end = c.opset >= 15 ? clamp(c.int('end', r)) : r;
  const v = x.slice(start, Math.max(start, end));
  c.set(0, [v.length], DataType.INT64, v);
}

function gatherRule(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  if (x.length === 0) throw c.fail('gathers from a scalar', 'fix the model');
  const axis = c.axis(c.int('axis', 0), x.length);
  const out = [...x.slice(0, axis), ...ind, ...x.slice(axis + 1)];
  const v = c.maybeValue(0);
  const iv = c.maybeValue(1);
  let value: number[] | undefined;
  if (iv) {
    for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`gathers index ${i} from axis ${axis} of size ${x[axis]}`);
  }
  if (v && iv && numel(out) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    const ist = stridesOf(ind);
    value = [];
    forEachIndex(out, (idx) => {
      let fi = 0;
      for (let k = 0; k < ind.length; k++) fi += idx[axis + k] * ist[k];
      let j = iv[fi];
      if (j < 0) j += x[axis];
      let f = 0;
      for (let a = 0; a < axis; a++) f += idx[a] * st[a];
      f += j * st[axis];
      for (let a = axis + 1; a < x.length; a++) f += idx[a + ind.length - 1] * st[a];
      value!.push(v[f]);
    });
  }
  c.set(0, out, c.type(0), value);
}

/** Unsqueeze: axes from the attribute (opset < 13) or input; negative axes count in the output rank. */
function unsqueezeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const axesRaw = c.opset >= 13 ? c.value(1, 'axes') : c.ints('axes');
  if (!axesRaw) throw c.fail('has no axes', 'fix the model');
  const r = x.length + axesRaw.length;
  const axes = axesRaw.map((a) => c.axis(a, r));
  if (new Set(axes).size !== axes.length) throw c.fail(`has repeated axes ${fmt(axesRaw)}`, 'fix the model');
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(axes.includes(i) ? 1 : x[j++]);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

/** Squeeze: the given axes (attribute before opset 13, optional input after) or every size-1 axis. */
function squeezeRule(c: NodeCtx): void {
  const x = c.shape(0);
  const axesRaw = c.opset >= 13 ? c.optValue(1, 'axes') : c.ints('axes');
  let out: number[];
  if (axesRaw) {
    const axes = axesRaw.map((a) => c.axis(a, x.length));
    for (const a of axes) if (x[a] !== 1) throw c.fail(`squeezes axis ${a} of size ${x[a]} in ${fmt(x)}; only size-1 axes can be squeezed`);
    out = x.filter((_, i) => !axes.includes(i));
  } else out = x.filter((d) => d !== 1);
  c.set(0, out, c.type(0), c.maybeValue(0));
}

function constantOfShapeRule(c: NodeCtx): void {
  const dims = c.value(0, 'shape');
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw c.fail(`has a target shape ${fmt(dims)} with negative sizes`);
  const attr = c.node.attributes.value;
  let dt: DataTypeCode = DataType.FLOAT;
  let fill = 0;
  if (attr && attr.type === 'tensor') {
    dt = attr.value.dataType;
    const v = tensorValues(attr.value);
    fill = v && v.length ? v[0] : 0;
    if (!isIntType(dt) && !isFloatType(dt)) throw c.fail('has a fill value of a non-numeric type', 'fix the model');
  }
  const n = numel(dims);
  const value = foldable(dt, n) && dt !== DataType.FLOAT16 && dt !== DataType.BFLOAT16 ? new Array<number>(n).fill(fill) : undefined;
  c.set(0, dims, dt, value);
}

// ───────────────────────────── ops flipguard's transforms emit ─────────────────────────────
//
// Comparisons, logic, selection, elementwise math and reductions (ops.ts TRANSFORM_OPS). Values
// are folded only when the result is an integer or bool tensor (shape arithmetic, masks, index
// computations); floating-point results are left to the runtime.

/** Maps a multi-index of the broadcast shape `out` to the flat index of an input of shape `s`. */
function broadcastIndexer(s: readonly number[], out: readonly number[]): (idx: number[]) => number {
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
function foldElementwise(c: NodeCtx, idx: number[], out: number[], dt: DataTypeCode, fn: (xs: number[]) => number | undefined): number[] | undefined {
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
function broadcastInputs(c: NodeCtx, idx: number[]): number[] {
  const shapes = idx.map((i) => c.shape(i));
  const out = broadcastShapes(...shapes);
  if (!out) throw c.fail(`cannot broadcast its input shapes ${shapes.map(fmt).join(', ')}`);
  return out;
}

/** Positions of the inputs the node is given (optional ones may be named ""). */
function presentInputs(c: NodeCtx): number[] {
  return c.node.inputs.map((_, i) => i).filter((i) => c.has(i));
}

const bool = (b: boolean): number => (b ? 1 : 0);

/** Abs, Neg, Sign, Reciprocal, Log, Exp, Sqrt, Floor, Ceil: same shape and type (Abs, Neg, Sign folded on integers). */
function unaryMathRule(c: NodeCtx): void {
  const x = c.shape(0);
  const dt = c.type(0);
  const fns: Record<string, (v: number) => number> = { Abs: Math.abs, Neg: (v) => -v, Sign: Math.sign };
  const fn = fns[c.node.opType];
  c.set(0, [...x], dt, fn ? foldElementwise(c, [0], x, dt, ([v]) => fn(v)) : undefined);
}

/** IsNaN, IsInf (detect_negative / detect_positive, default 1): bool of the input's shape. */
function floatPredicateRule(c: NodeCtx): void {
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

function notRule(c: NodeCtx): void {
  const x = c.shape(0);
  c.set(0, [...x], DataType.BOOL, foldElementwise(c, [0], x, DataType.BOOL, ([v]) => bool(v === 0)));
}

/** Equal, Less, Greater, GreaterOrEqual, LessOrEqual, And, Or, Xor: broadcast, bool result. */
function booleanBinaryRule(c: NodeCtx): void {
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
function minMaxRule(c: NodeCtx): void {
  const idx = presentInputs(c);
  if (!idx.length) throw c.fail('has no inputs', 'fix the model');
  const out = broadcastInputs(c, idx);
  const dt = c.type(idx[0]);
  const fn = c.node.opType === 'Min' ? Math.min : Math.max;
  c.set(0, out, dt, foldElementwise(c, idx, out, dt, (xs) => fn(...xs)));
}

/** Pow: broadcast of base and exponent, the base's type. */
function powRule(c: NodeCtx): void {
  c.set(0, broadcastInputs(c, [0, 1]), c.type(0));
}

/**
 * Mod: broadcast, the first input's type. fmod = 0 (integers only): the remainder takes the
 * divisor's sign; fmod = 1: the dividend's sign (C fmod). Folded on integers.
 */
function modRule(c: NodeCtx): void {
  const out = broadcastInputs(c, [0, 1]);
  const dt = c.type(0);
  const fmod = c.int('fmod', 0) !== 0;
  if (!fmod && !isIntType(dt)) throw c.fail('has fmod = 0 on floating-point inputs, which ONNX does not allow', 'set fmod = 1');
  c.set(0, out, dt, foldElementwise(c, [0, 1], out, dt, ([a, b]) => {
    if (b === 0) return undefined;
    const r = a % b;
    return !fmod && r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
  }));
}

/** Where(condition, X, Y): broadcast of all three, X's type. */
function whereRule(c: NodeCtx): void {
  c.shape(0, 'condition');
  c.shape(1, 'X');
  c.shape(2, 'Y');
  const out = broadcastInputs(c, [0, 1, 2]);
  const dt = c.type(1, 'X');
  c.set(0, out, dt, foldElementwise(c, [0, 1, 2], out, dt, ([k, a, b]) => (k !== 0 ? a : b)));
}

/**
 * ReduceSum/Min/Max/Mean: axes from the attribute, or from the optional input (ReduceSum from
 * opset 13, the others from 18); keepdims (default 1) keeps reduced axes as size 1. No axes (or an
 * empty list) reduces every axis, unless noop_with_empty_axes = 1 (input form), which leaves the
 * input as it is. Sum, Min and Max are folded on integers.
 */
function reduceRule(c: NodeCtx): void {
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

/** TopK: k from the input (opset ≥ 10) or attribute; values (input type) and indices (int64) with size k along `axis`. */
function topKRule(c: NodeCtx): void {
  const x = c.shape(0);
  if (!x.length) throw c.fail('takes the top k of a scalar', 'fix the model');
  const axis = c.axis(c.int('axis', -1), x.length);
  let k: number;
  if (c.opset >= 10) {
    const kv = c.value(1, 'K');
    if (kv.length !== 1) throw c.fail(`has a K input with ${kv.length} values; it needs exactly one`, 'fix the model');
    k = kv[0];
  } else k = c.int('k', -1);
  if (!Number.isInteger(k) || k < 0 || k > x[axis]) throw c.fail(`takes the top ${k} of ${x[axis]} elements along axis ${axis}`, 'use a k between 0 and the axis size');
  const out = [...x];
  out[axis] = k;
  c.set(0, out, c.type(0));
  c.set(1, [...out], DataType.INT64);
}

/** GatherElements: output of the indices' shape (same rank as data, no larger outside `axis`). */
function gatherElementsRule(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  if (ind.length !== x.length || !x.length) throw c.fail(`has indices of shape ${fmt(ind)} for data of shape ${fmt(x)}; both need the same rank ≥ 1`);
  const axis = c.axis(c.int('axis', 0), x.length);
  if (ind.some((d, i) => i !== axis && d > x[i])) throw c.fail(`has indices of shape ${fmt(ind)}, larger than the data ${fmt(x)} outside axis ${axis}`);
  const iv = c.maybeValue(1);
  if (iv) for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`gathers index ${i} from axis ${axis} of size ${x[axis]}`);
  const v = c.maybeValue(0);
  let value: number[] | undefined;
  if (v && iv && numel(ind) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    let j = 0;
    value = [];
    forEachIndex(ind, (ix) => {
      let t = iv[j++];
      if (t < 0) t += x[axis];
      let f = 0;
      for (let a = 0; a < x.length; a++) f += (a === axis ? t : ix[a]) * st[a];
      value!.push(v[f]);
    });
  }
  c.set(0, [...ind], c.type(0), value);
}

/** ScatterElements: the data's shape; indices and updates share one shape of the data's rank. */
function scatterElementsRule(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  const upd = c.shape(2, 'updates');
  if (ind.length !== x.length || upd.length !== ind.length || ind.some((d, i) => d !== upd[i])) {
    throw c.fail(`has data ${fmt(x)}, indices ${fmt(ind)} and updates ${fmt(upd)}; indices and updates need one shape of the data's rank`);
  }
  const axis = c.axis(c.int('axis', 0), x.length);
  const iv = c.maybeValue(1);
  if (iv) for (const i of iv) if (i < -x[axis] || i >= x[axis]) throw c.fail(`scatters to index ${i} of axis ${axis} of size ${x[axis]}`);
  c.set(0, [...x], c.type(0));
}

/** ScatterND: the data's shape; updates = indices.shape[:-1] + data.shape[indices.shape[-1]:]. */
function scatterNDRule(c: NodeCtx): void {
  const x = c.shape(0);
  const ind = c.shape(1, 'indices');
  const upd = c.shape(2, 'updates');
  const q = ind[ind.length - 1];
  const want = q === undefined ? undefined : [...ind.slice(0, -1), ...x.slice(q)];
  if (!want || q > x.length || want.length !== upd.length || want.some((d, i) => d !== upd[i])) {
    throw c.fail(`has data ${fmt(x)}, indices ${fmt(ind)} and updates ${fmt(upd)}, which do not fit together`);
  }
  c.set(0, [...x], c.type(0));
}

/** Expand: the input broadcast with the target shape (which may keep input sizes by giving 1). */
function expandRule(c: NodeCtx): void {
  const x = c.shape(0);
  const target = c.value(1, 'shape');
  const out = broadcastShapes(x, target);
  if (!out) throw c.fail(`cannot expand ${fmt(x)} to ${fmt(target)}`);
  const dt = c.type(0);
  c.set(0, out, dt, foldElementwise(c, [0], out, dt, ([v]) => v));
}

/** Tile: every axis repeated `repeats[i]` times. */
function tileRule(c: NodeCtx): void {
  const x = c.shape(0);
  const reps = c.value(1, 'repeats');
  if (reps.length !== x.length || reps.some((r) => !Number.isInteger(r) || r < 0)) throw c.fail(`has repeats ${fmt(reps)} for an input of shape ${fmt(x)}`, 'give one repeat count ≥ 0 per axis');
  const out = x.map((d, i) => d * reps[i]);
  const v = c.maybeValue(0);
  const dt = c.type(0);
  let value: number[] | undefined;
  if (v && isIntType(dt) && numel(out) <= FOLD_LIMIT) {
    const st = stridesOf(x);
    value = [];
    forEachIndex(out, (ix) => { let f = 0; for (let a = 0; a < x.length; a++) f += (ix[a] % x[a]) * st[a]; value!.push(v[f]); });
  }
  c.set(0, out, dt, value);
}

/** Range: max(⌈(limit − start) / delta⌉, 0) elements of the inputs' type; needs constant scalars. */
function rangeRule(c: NodeCtx): void {
  const [start, limit, delta] = [c.value(0, 'start'), c.value(1, 'limit'), c.value(2, 'delta')].map((v, i) => {
    if (v.length !== 1) throw c.fail(`has a ${['start', 'limit', 'delta'][i]} input with ${v.length} values; it needs a scalar`, 'fix the model');
    return v[0];
  });
  if (delta === 0) throw c.fail('has delta 0', 'fix the model');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const dt = c.type(0, 'start');
  const value = isIntType(dt) && n <= FOLD_LIMIT ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
  c.set(0, [n], dt, value);
}

/** Shape rule per supported op type (default domain). */
const RULES: Record<string, Rule> = {
  Conv: convRule,
  ConvTranspose: convTransposeRule,
  Gemm: gemmRule,
  MatMul: matmulRule,
  Add: binaryRule,
  Sub: binaryRule,
  Mul: binaryRule,
  Div: binaryRule,
  Relu: sameShape,
  LeakyRelu: sameShape,
  Sigmoid: sameShape,
  Tanh: sameShape,
  Clip: sameShape,
  Softmax: sameShape,
  LogSoftmax: sameShape,
  MaxPool: poolRule,
  AveragePool: poolRule,
  GlobalAveragePool: globalPoolRule,
  BatchNormalization: batchNormRule,
  Flatten: flattenRule,
  Reshape: reshapeRule,
  Transpose: transposeRule,
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Dropout: dropoutRule,
  Identity: sameShapeWithValue,
  Pad: padRule,
  Constant: constantRule,
  Shape: shapeRule,
  Gather: gatherRule,
  Unsqueeze: unsqueezeRule,
  Squeeze: squeezeRule,
  Cast: castRule,
  ConstantOfShape: constantOfShapeRule,
  Where: whereRule,
  Equal: booleanBinaryRule,
  Less: booleanBinaryRule,
  Greater: booleanBinaryRule,
  GreaterOrEqual: booleanBinaryRule,
  LessOrEqual: booleanBinaryRule,
  And: booleanBinaryRule,
  Or: booleanBinaryRule,
  Xor: booleanBinaryRule,
  Not: notRule,
  IsNaN: floatPredicateRule,
  IsInf: floatPredicateRule,
  Min: minMaxRule,
  Max: minMaxRule,
  Abs: unaryMathRule,
  Neg: unaryMathRule,
  Reciprocal: unaryMathRule,
  Log: unaryMathRule,
  Exp: unaryMathRule,
  Sqrt: unaryMathRule,
  Floor: unaryMathRule,
  Ceil: unaryMathRule,
  Sign: unaryMathRule,
  Pow: powRule,
  Mod: modRule,
  ReduceSum: reduceRule,
  ReduceMin: reduceRule,
  ReduceMax: reduceRule,
  ReduceMean: reduceRule,
  TopK: topKRule,
  GatherElements: gatherElementsRule,
  ScatterElements: scatterElementsRule,
  ScatterND: scatterNDRule,
  Expand: expandRule,
  Tile: tileRule,
  Range: rangeRule,
};
