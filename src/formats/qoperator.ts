/**
 * QOperator → QDQ: the same int8 network with its integer kernels written as ONNX's
 * DequantizeLinear → float op → QuantizeLinear groups, which onnxruntime fuses back into the same
 * integer kernels when it builds a session (default optimisation level), so the rewritten model's
 * outputs are the QOperator model's bit for bit (test/formats-qoperator.test.ts). `rank` and
 * `harden` work on this form: its conv and dense layers are ordinary Conv/MatMul nodes (named as
 * the kernels they replace) whose weights are stored as int8 through DequantizeLinear.
 *
 * - QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B) →
 *   DequantizeLinear(x, x_scale, x_zero_point) and DequantizeLinear(w, w_scale, w_zero_point, axis 0)
 *   into Conv (the node's attributes), with DequantizeLinear(B, bias scale, axis 0), then
 *   QuantizeLinear(y_scale, y_zero_point) writing the kernel's output value.
 * - QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point) → the same
 *   around MatMul (a per-column b_scale dequantizes along b's last axis).
 *
 * Every stored word stays the same initializer (int8/uint8 weights and zero points, int32 biases,
 * float32 scales): fault targets and their counts are the QOperator model's, with one addition —
 * DequantizeLinear needs the int32 bias's scale, x_scale·w_scale[c] in float32 (as onnxruntime's own
 * QDQ quantizer stores it), so each QLinearConv with a bias gets one float32 initializer of one word
 * per output channel ("<B>.scale"). The integer kernel derives it; onnxruntime's fusion reads the
 * int32 bias directly and ignores it, so faults in it change nothing at the default level.
 *
 * ConvInteger and MatMulInteger (int32 sums of zero-point-shifted integers, scaled by the graph
 * afterwards) have no float conv whose output onnxruntime fuses back into them; they are kept,
 * and `refuseIntegerKernels` names them for the commands that need a float layer (rank, harden).
 */
import { FlipguardError } from '../errors.js';
import { A } from '../graph/builder.js';
import { decodeTensor, numel } from '../graph/dtype.js';
import { nodeLabel } from '../graph/layers.js';
import { opSet } from '../graph/ops/index.js';
import { DataType, defaultOpset, type Model, type Node, type Tensor } from '../graph/types.js';
import { upgradeOpset } from '../graph/upgrade.js';
import { NameScope, dotted } from '../graph/editor.js';

/** QOperator kernels: quantized ops that own their parameters (registry: QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger). */
const KERNELS = opSet((r) => !!r.quantized && !!r.ownsParameters);
/** The kernels the rewrite below turns into QDQ groups; the others (ConvInteger, MatMulInteger) stay. */
const REWRITTEN = new Set(['QLinearConv', 'QLinearMatMul']);

const isDefault = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** Whether `model` has QOperator kernels (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger). */
export function hasQOperator(model: Model): boolean {
  return model.graph.nodes.some((n) => isDefault(n) && KERNELS.has(n.opType));
}

/**
 * Throws a FlipguardError naming the first ConvInteger/MatMulInteger node of `model`, for the
 * workflows (`what`: "flipguard rank", "flipguard harden") that need its layers as float ops.
 */
export function refuseIntegerKernels(model: Model, what: string): void {
  const n = model.graph.nodes.find((x) => isDefault(x) && KERNELS.has(x.opType) && !REWRITTEN.has(x.opType));
  if (n) {
    throw new FlipguardError(`${what} cannot take the node "${n.name || n.outputs[0]}" (${n.opType}) apart: it computes int32 sums whose scale the graph applies later, with no float layer to score or copy; quantize the float32 model with flipguard quantize (QDQ) or export it with QLinearConv/QLinearMatMul.`);
  }
}

export interface QdqRewrite {
  /** The QDQ model (the model itself when it has no QLinearConv/QLinearMatMul). */
  model: Model;
  /** Labels of the rewritten kernels, now the names of their Conv/MatMul nodes. */
  layers: string[];
  /** Bias-scale initializers added (one per QLinearConv with a bias). */
  biasScales: string[];
}

/** Float32 x_scale · w_scale[c] per output channel (onnxruntime's QDQ bias scale). */
function biasScale(label: string, xs: Tensor | undefined, ws: Tensor | undefined, channels: number): Float32Array {
  if (!xs || !ws || xs.dataType !== DataType.FLOAT || ws.dataType !== DataType.FLOAT || numel(xs.dims) !== 1 || (numel(ws.dims) !== 1 && numel(ws.dims) !== channels)) {
    throw new FlipguardError(`The QLinearConv "${label}" has a bias but its x_scale or w_scale is not a float32 initializer (one value, or one per output channel for w_scale); fix the model.`);
  }
  const x = decodeTensor(xs.dataType, xs.data)[0];
  const w = decodeTensor(ws.dataType, ws.data);
  return Float32Array.from({ length: channels }, (_, c) => Math.fround(x * w[numel(ws.dims) === 1 ? 0 : c]));
}

/** The QDQ form of `model` described in the module header. */
export function qoperatorToQdq(model: Model): QdqRewrite {
  const g = model.graph;
  if (!g.nodes.some((n) => isDefault(n) && REWRITTEN.has(n.opType))) return { model, layers: [], biasScales: [] };
  const used = new NameScope([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => [n.name, ...n.outputs])]);
  const fresh = (base: string): string => used.variant(base, dotted);
  const inits = new Map(g.initializers);
  const nodes: Node[] = [];
  const layers: string[] = [];
  const biasScales: string[] = [];
  // one DequantizeLinear per (value, scale, zero point, axis) read by several kernels
  const dqs = new Map<string, string>();
  const node = (opType: string, name: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): void => {
    nodes.push({ name, opType, domain: '', inputs, outputs, attributes });
  };
  const dq = (value: string, scale: string, zero: string | undefined, axis?: number): string => {
    const key = [value, scale, zero ?? '', axis ?? ''].join('\u0000');
    let out = dqs.get(key);
    if (!out) {
      out = fresh(`${value}.dq`);
      node('DequantizeLinear', fresh(`${value}.DequantizeLinear`), zero ? [value, scale, zero] : [value, scale], [out], axis === undefined ? {} : { axis: A.i(axis) });
      dqs.set(key, out);
    }
    return out;
  };
  g.nodes.forEach((n, i) => {
    if (!isDefault(n) || !REWRITTEN.has(n.opType)) { nodes.push(n); return; }
    const label = nodeLabel(n, i);
    const [x, xs, xz, w, ws, wz, ys, yz, b] = n.inputs;
    if (!x || !xs || !w || !ws || !ys) throw new FlipguardError(`The ${n.opType} "${label}" lacks one of its required inputs; fix the model.`);
    const conv = n.opType === 'QLinearConv';
    // a second operand computed in the graph (a matmul of two activations) is dequantized per tensor
    const wt = inits.get(w);
    const wst = inits.get(ws), wzt = wz ? inits.get(wz) : undefined;
    const perChannel = !!wst && numel(wst.dims) > 1;
    if (!wst || (wz && (!wzt || numel(wzt.dims) !== numel(wst.dims))) || (perChannel && !wt)) {
      throw new FlipguardError(`The ${n.opType} "${label}" needs its w_scale and w_zero_point as initializers of one shape (per tensor, or per output channel of a stored weight) to be read through DequantizeLinear; fix the model.`);
    }
    // per-channel weight scales: output channels are axis 0 of a conv weight, the last axis of a matmul's b
    const wAxis = conv ? 0 : (wt?.dims.length ?? 2) - 1;
    const y = fresh(`${label}.float`);
    const inputs = [dq(x, xs, xz || undefined), dq(w, ws, wz || undefined, perChannel ? wAxis : undefined)];
    if (conv && b) {
      const bt = inits.get(b);
      if (!bt || bt.dataType !== DataType.INT32) throw new FlipguardError(`The QLinearConv "${label}" reads a bias "${b}" that is not an int32 initializer; fix the model.`);
      const scale = fresh(`${b}.scale`);
      const channels = numel(bt.dims);
      inits.set(scale, { name: scale, dataType: DataType.FLOAT, dims: channels > 1 ? [channels] : [], data: biasScale(label, inits.get(xs), wst, channels) });
      biasScales.push(scale);
      inputs.push(dq(b, scale, undefined, channels > 1 ? 0 : undefined));
    }
    used.reserve(label);
    node(conv ? 'Conv' : 'MatMul', label, inputs, [y], conv ? { ...n.attributes } : {});
    node('QuantizeLinear', fresh(`${label}.QuantizeLinear`), yz ? [y, ys, yz] : [y, ys], [n.outputs[0]]);
    layers.push(label);
  });
  // a rewritten kernel keeps its label as the name of its float op; the QuantizeLinear writes its output
  return { model: { ...model, graph: { ...g, nodes, initializers: inits } }, layers, biasScales };
}

/**
 * The model hardening and interval profiling work on: a QOperator model's QDQ form (upgraded to
 * opset 13 first when older, for per-channel DequantizeLinear), any other model as it is.
 */
export function qdqForm(model: Model): Model {
  if (!hasQOperator(model)) return model;
  return qoperatorToQdq(defaultOpset(model) < 13 ? upgradeOpset(model) : model).model;
}
