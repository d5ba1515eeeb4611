/**
 * `dequantizedModel`: the float32 network a float16/bfloat16 or int8 QDQ model computes, for the
 * analyses that differentiate or propagate relevance through the graph (rank: Eq. (1), LRP, neuron
 * scores, baselines). Its conv and dense layers are the original's, with the same node names,
 * channels and neurons; only how their parameters are stored changes:
 *
 * - a Cast to float32 of a float16/bfloat16 initializer becomes a float32 initializer holding the
 *   decoded words (exact: every 16-bit value is a float32 value);
 * - a DequantizeLinear of initializers (a quantized weight, an int32 bias) becomes a float32
 *   initializer holding (q − zero_point) · scale, computed as onnxruntime does: the integer
 *   difference cast to float32, times the float32 scale, rounded to float32;
 * - an activation QuantizeLinear → DequantizeLinear pair is removed (the value passes unrounded):
 *   its derivative is 0 almost everywhere, so gradients and relevance are taken through the
 *   unquantized activations, as in quantization-aware training's straight-through estimate (a
 *   QuantizeLinear whose zero point is its type's minimum stays as the ReLU its saturation
 *   computes, unless a ReLU precedes it: a QOperator kernel's fused activation). Ops
 *   between them that compute the same on words as on values (registry `commutesWithQuantization`:
 *   an int8 MaxPool, Reshape, Flatten …) then run on the float values; a QuantizeLinear read by
 *   several such chains goes when every chain ends at a DequantizeLinear.
 *
 * A native float16 model (one that computes in float16: convertModel's `native`, PyTorch's
 * `model.half()`; float16Computation) is first turned into the float32 graph of the same words
 * (`float32Arithmetic`): every float16 initializer and Constant decoded exactly, Casts to float16
 * made Casts to float32 (identities), inputs and outputs typed float32. Scores of such a model are
 * therefore computed in float32 arithmetic — an explanation of its stored words, not the float16
 * arithmetic it is deployed with; fault injection (`rank --compare`, the bit profile) still flips
 * its real float16 words and runs the native model.
 *
 * A QOperator model's QLinearConv and QLinearMatMul kernels are first rewritten as the QDQ groups
 * onnxruntime fuses back into them (formats/qoperator.ts), then folded as above. The folded
 * initializer keeps the stored tensor's name when nothing else reads that tensor. ConvInteger and
 * MatMulInteger (int32 sums scaled by the graph) have no float32 layer and are refused in one sentence.
 */
import { FlipguardError } from '../errors.js';
import { attrInt, consumers, producers } from '../graph/builder.js';
import { decodeTensor, isFloatType } from '../graph/dtype.js';
import { opSet } from '../graph/ops/index.js';
import { DataType, type Graph, type Model, type Node, type Tensor, type ValueInfo } from '../graph/types.js';
import { NameScope, dotted } from '../graph/editor.js';
import { float16Computation } from './convert.js';
import { qoperatorToQdq } from './qoperator.js';

/** Ops holding quantized computation (QuantizeLinear, DequantizeLinear, QOperator kernels). */
const QUANTIZED = opSet((r) => !!r.quantized);
/** Ops that compute the same on quantized words as on their values (MaxPool, Reshape, Flatten …). */
const COMMUTES = opSet((r) => !!r.commutesWithQuantization);

export interface DequantizedModel {
  model: Model;
  /** Folded float32 initializer → the stored initializer it decodes (the same name when unshared). */
  stored: Map<string, string>;
  /** Activation QuantizeLinear → DequantizeLinear pairs removed. */
  activationPairs: number;
}

/** (q − zero_point) · scale per element, per tensor or per slice along `axis`, in float32 arithmetic. */
function dequantizeTensor(q: Tensor, scale: Tensor, zero: Tensor | undefined, axis: number): Float32Array {
  const x = decodeTensor(q.dataType, q.data);
  const s = decodeTensor(scale.dataType, scale.data);
  const z = zero ? decodeTensor(zero.dataType, zero.data) : new Float64Array(s.length);
  const out = new Float32Array(x.length);
  if (s.length === 1) {
    for (let i = 0; i < x.length; i++) out[i] = Math.fround(Math.fround(x[i] - z[0]) * s[0]);
    return out;
  }
  const a = axis < 0 ? axis + q.dims.length : axis;
  if (a < 0 || a >= q.dims.length) throw new FlipguardError(`The DequantizeLinear of "${q.name}" has axis ${axis}, outside the tensor's ${q.dims.length} dimensions; fix the model.`);
  const inner = q.dims.slice(a + 1).reduce((p, d) => p * d, 1);
  if (q.dims[a] !== s.length || z.length !== s.length) throw new FlipguardError(`The DequantizeLinear of "${q.name}" has ${s.length} scales and ${z.length} zero points for ${q.dims[a]} slices along axis ${a}; fix the model.`);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / inner) % s.length;
    out[i] = Math.fround(Math.fround(x[i] - z[c]) * s[c]);
  }
  return out;
}

/**
 * The float32 graph of a native float16 model (see the module header): float16 initializers and
 * Constant / ConstantOfShape tensors decoded to float32 (exact: every float16 value is a float32
 * value) under their own names, every Cast to float16 a Cast to float32, and float16 graph inputs,
 * outputs and value_info typed float32. Node names, layers, channels and neurons are the model's.
 * A model that computes in float32 is returned as it is.
 */
export function float32Arithmetic(model: Model): Model {
  if (float16Computation(model) === undefined) return model;
  const g = model.graph;
  const widen = (t: Tensor): Tensor => (t.dataType === DataType.FLOAT16 ? { ...t, dataType: DataType.FLOAT, data: Float32Array.from(decodeTensor(t.dataType, t.data)) } : t);
  const io = (v: ValueInfo): ValueInfo => (v.elemType === DataType.FLOAT16 ? { ...v, elemType: DataType.FLOAT } : v);
  const nodes = g.nodes.map((n): Node => {
    const v = n.attributes.value;
    if ((n.opType === 'Constant' || n.opType === 'ConstantOfShape') && v?.type === 'tensor' && v.value.dataType === DataType.FLOAT16) return { ...n, attributes: { ...n.attributes, value: { type: 'tensor', value: widen(v.value) } } };
    if (n.opType === 'Cast' && attrInt(n, 'to', 0) === DataType.FLOAT16) return { ...n, attributes: { ...n.attributes, to: { type: 'int', value: DataType.FLOAT } } };
    return n;
  });
  const initializers = new Map([...g.initializers].map(([k, t]) => [k, widen(t)] as const));
  const graph: Graph = { ...g, nodes, initializers, inputs: g.inputs.map(io), outputs: g.outputs.map(io), valueInfo: g.valueInfo.map(io), initializerInputs: g.initializerInputs?.map(io) };
  return { ...model, graph };
}

/** Whether `model` computes with quantized or 16-bit stored parameters, or in float16 (what `dequantizedModel` changes). */
export function needsDequantizing(model: Model): boolean {
  const g = model.graph;
  return float16Computation(model) !== undefined || g.nodes.some((n) => QUANTIZED.has(n.opType) || (n.opType === 'Cast' && isStored16(g, n)));
}

function isStored16(g: Graph, n: Node): boolean {
  const t = g.initializers.get(n.inputs[0]);
  return !!t && (t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16) && attrInt(n, 'to', 0) === DataType.FLOAT;
}

/**
 * The float32 equivalent of `model` described in the module header (the model itself when it has
 * nothing to fold). Throws a FlipguardError naming the first quantized node that is not a weight's
 * DequantizeLinear or an activation's QuantizeLinear → DequantizeLinear pair (QOperator models).
 */
export function dequantizedModel(model: Model): DequantizedModel {
  if (!needsDequantizing(model)) return { model, stored: new Map(), activationPairs: 0 };
  model = qoperatorToQdq(float32Arithmetic(model)).model;
  const g = model.graph;
  const cons = consumers(g);
  const made = producers(g);
  const inits = new Map(g.initializers);
  const stored = new Map<string, string>();
  const rename = new Map<string, string>(); // value → value that replaces it
  const drop = new Set<Node>();
  const keep = new Map<Node, Node>(); // replaced nodes
  const used = new NameScope([...inits.keys(), ...g.nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string): string => used.variant(base, dotted);
  const fold = (n: Node, source: string, data: Float32Array, dims: number[]): void => {
    const readers = cons.get(source) ?? [];
    const name = readers.length === 1 && !g.outputs.some((o) => o.name === source) ? source : fresh(`${source}.float32`);
    inits.set(name, { name, dataType: DataType.FLOAT, dims: [...dims], data });
    stored.set(name, source);
    rename.set(n.outputs[0], name);
    drop.add(n);
  };
  let activationPairs = 0;
  const pairs = activationChains(g, cons, made);
  const floated = new Set<string>(); // values that turn from words into floats (chain outputs)
  for (const n of g.nodes) {
    if (n.opType === 'Cast' && isStored16(g, n)) {
      const t = g.initializers.get(n.inputs[0])!;
      fold(n, t.name, Float32Array.from(decodeTensor(t.dataType, t.data)), t.dims);
    } else if (n.opType === 'DequantizeLinear' && n.inputs.every((i) => !i || g.initializers.has(i))) {
      const [q, s, z] = n.inputs.map((i) => (i ? g.initializers.get(i) : undefined));
      if (!q || !s || !isFloatType(s.dataType)) throw new FlipguardError(`The DequantizeLinear "${n.name || n.outputs[0]}" lacks its data or float scale input; fix the model.`);
      fold(n, q.name, dequantizeTensor(q, s, z, attrInt(n, 'axis', 1)), q.dims);
    } else if (n.opType === 'DequantizeLinear') {
      const chain = pairs.get(n);
      if (!chain) continue;
      activationPairs++;
      for (const c of chain.between) for (const o of c.outputs) floated.add(o);
      if (reluOf(g, made, chain.q)) { keep.set(chain.q, reluOf(g, made, chain.q)!); floated.add(chain.q.outputs[0]); } else drop.add(chain.q);
      // a graph output keeps its name through an Identity
      if (g.outputs.some((o) => o.name === n.outputs[0])) keep.set(n, { ...n, opType: 'Identity', inputs: [n.inputs[0]], attributes: {} });
      else { rename.set(n.outputs[0], n.inputs[0]); drop.add(n); }
      if (!keep.has(chain.q)) rename.set(chain.q.outputs[0], chain.q.inputs[0]);
    }
  }
  const kept = g.nodes.filter((n) => QUANTIZED.has(n.opType) && !drop.has(n) && !keep.has(n));
  // name an integer kernel (QLinearConv, ConvInteger…) before the QuantizeLinear feeding it
  const left = kept.find((n) => n.opType !== 'QuantizeLinear' && n.opType !== 'DequantizeLinear') ?? kept[0];
  if (left) {
    throw new FlipguardError(`The node "${left.name || left.outputs[0]}" (${left.opType}) computes on integers with no exact float32 equivalent, so scores cannot be taken through it; rank the QDQ model (flipguard quantize) or the float32 model instead.`);
  }
  const resolve = (v: string): string => { let r = v; while (rename.has(r)) r = rename.get(r)!; return r; };
  const nodes = g.nodes.filter((n) => !drop.has(n)).map((n) => keep.get(n) ?? n)
    .map((n) => (n.inputs.some((i) => rename.has(i)) ? { ...n, inputs: n.inputs.map((i) => (i ? resolve(i) : i)) } : n));
  const read = new Set([...nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  for (const name of [...inits.keys()]) if (!read.has(name)) inits.delete(name);
  // a value now float where the model declared words: its declared type goes
  const valueInfo = g.valueInfo.filter((v) => !floated.has(v.name));
  const graph: Graph = { ...g, nodes, initializers: inits, valueInfo, initializerInputs: g.initializerInputs?.filter((v) => inits.has(v.name)) };
  return { model: { ...model, graph }, stored, activationPairs };
}

/**
 * The ReLU that QuantizeLinear `q` computes by saturating at its zero point, when that is the
 * type's minimum (uint8 0, int8 −128: every negative value becomes 0) and no ReLU already precedes
 * it — a QOperator kernel's fused activation; undefined otherwise (and on a graph input).
 */
function reluOf(g: Graph, made: Map<string, Node>, q: Node): Node | undefined {
  const p = made.get(q.inputs[0]);
  if (!p || p.opType === 'Relu') return undefined;
  const z = q.inputs[2] ? g.initializers.get(q.inputs[2]) : undefined;
  if (q.inputs[2] && (!z || z.data.length !== 1)) return undefined;
  const atMin = !z || (z.dataType === DataType.UINT8 ? Number(z.data[0]) === 0 : z.dataType === DataType.INT8 && Number(z.data[0]) === -128);
  return atMin ? { ...q, opType: 'Relu', inputs: [q.inputs[0]], attributes: {} } : undefined;
}

/**
 * The activation DequantizeLinear nodes whose input is a QuantizeLinear's output, directly or
 * through single-reader ops that commute with quantization, with that QuantizeLinear and the ops
 * between; only QuantizeLinears every reader chain of which ends at such a DequantizeLinear (and
 * whose output is no graph output) are paired.
 */
function activationChains(g: Graph, cons: Map<string, Node[]>, made: Map<string, Node>): Map<Node, { q: Node; between: Node[] }> {
  const found = new Map<Node, { dq: Node; q: Node; between: Node[] }[]>();
  const outputs = new Set(g.outputs.map((o) => o.name));
  for (const n of g.nodes) {
    if (n.opType !== 'DequantizeLinear' || g.initializers.has(n.inputs[0])) continue;
    const between: Node[] = [];
    let p = made.get(n.inputs[0]);
    while (p && COMMUTES.has(p.opType) && (cons.get(p.outputs[0]) ?? []).length === 1 && !outputs.has(p.outputs[0]) && p.outputs.slice(1).every((o) => !o)) {
      between.unshift(p);
      p = made.get(p.inputs[0]);
    }
    if (p?.opType !== 'QuantizeLinear' || outputs.has(p.outputs[0])) continue;
    const list = found.get(p) ?? [];
    list.push({ dq: n, q: p, between });
    found.set(p, list);
  }
  const out = new Map<Node, { q: Node; between: Node[] }>();
  for (const [q, list] of found) {
    if (list.length !== (cons.get(q.outputs[0]) ?? []).length) continue;
    for (const c of list) out.set(c.dq, { q, between: c.between });
  }
  return out;
}

/**
 * Throws a FlipguardError when `model` stores its parameters as float16/bfloat16 or int8 (what
 * `needsDequantizing` detects), for the workflows that update float32 parameters in place (`what`:
 * "prune", "train"): changing stored 16-bit or int8 words would need re-rounding or a new
 * calibration the user did not ask for, so the fix is to work on the float32 model and convert or
 * quantize the result.
 */
export function refuseStoredFormats(model: Model, what: string): void {
  if (!needsDequantizing(model)) return;
  const g = model.graph;
  const n = g.nodes.find((x) => QUANTIZED.has(x.opType)) ? 'int8 (quantized)' : 'float16/bfloat16';
  throw new FlipguardError(`flipguard ${what} changes float32 parameters, but this model stores them as ${n} words; ${what} the float32 model, then convert or quantize the result (flipguard convert / flipguard quantize).`);
}
