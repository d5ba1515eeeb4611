/**
 * `quantizeModel`: static post-training quantization to int8 in ONNX's QDQ form.
 *
 * - Batch norm is folded into its conv/dense layer first (analysis/canonize.ts), so the folded
 *   weights are what is quantized.
 * - Weights of Conv, Gemm and MatMul layers (float32 initializers): per output channel, symmetric
 *   int8 in [−127, 127] with scale max|w_c| / 127 and zero point 0, read through DequantizeLinear
 *   (axis = the output-channel axis). Biases: int32 with scale s_x·s_w[c] (the product of the
 *   layer's input and weight scales), zero point 0, as onnxruntime's integer kernels expect.
 * - Activations: per tensor, asymmetric uint8 (scale (hi − lo) / 255, zero point round(−lo/scale),
 *   where [lo, hi] is the calibrated range widened to contain 0). A QuantizeLinear →
 *   DequantizeLinear pair is placed on each layer's input and on its output (after a ReLU that
 *   alone reads it), except on graph outputs (the logits stay float). Calibration runs the float
 *   model on the given images: `minmax` takes each value's minimum and maximum, `percentile` the
 *   given percentile and its complement over a strided sample of up to 2^20 values per tensor.
 * onnxruntime fuses DequantizeLinear → Conv → QuantizeLinear into its integer QLinearConv kernel
 * (and Gemm/MatMul likewise) when it builds the session.
 */
import { DEFAULT_CALIBRATION_IMAGES, DEFAULT_CALIBRATION_PERCENTILE } from '../defaults.js';
import { FlipguardError, opt } from '../errors.js';
import { foldBatchNorm } from '../analysis/canonize.js';
import { A, attrInt, consumers } from '../graph/builder.js';
import { numel } from '../graph/dtype.js';
import { DataType, defaultOpset, type Graph, type Model, type Node, type Tensor } from '../graph/types.js';
import { NameScope, numberedUnderscore } from '../graph/editor.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';

export type Calibration = 'minmax' | 'percentile';
export const CALIBRATIONS: readonly Calibration[] = ['minmax', 'percentile'];

export interface QuantizeOptions extends RuntimeOptions {
  /** How activation ranges are taken from the calibration images (default minmax). */
  calibration?: Calibration;
  /** For `percentile`: the upper percentile in (50, 100] (default 99.99). */
  percentile?: number;
  /** Calibration images used, the first of `data` (default 1000). */
  images?: number;
  /** Images per calibration run (default 64). */
  batch?: number;
}

export interface QuantizeResult {
  model: Model;
  /** Layers (node names) whose weights are int8. */
  layers: string[];
  /** Activation values given a QuantizeLinear/DequantizeLinear pair, with their range. */
  activations: { value: string; lo: number; hi: number; scale: number; zeroPoint: number }[];
}

const SAMPLE = 1 << 20;

/** Weight input and output-channel axis of a quantizable layer, or undefined. */
function weightOf(n: Node, g: Graph): { w: Tensor; axis: number; bias?: Tensor } | undefined {
  const w = g.initializers.get(n.inputs[1]);
  if (!w || w.dataType !== DataType.FLOAT) return undefined;
  const bias = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
  const okBias = bias && bias.dataType === DataType.FLOAT ? bias : undefined;
  if (n.opType === 'Conv' && w.dims.length >= 3) return { w, axis: 0, bias: okBias };
  if (n.opType === 'Gemm' && w.dims.length === 2 && attrInt(n, 'transA', 0) === 0) {
    const alpha = n.attributes.alpha?.type === 'float' ? n.attributes.alpha.value : 1;
    const beta = n.attributes.beta?.type === 'float' ? n.attributes.beta.value : 1;
    if (alpha !== 1 || beta !== 1) return undefined;
    const axis = attrInt(n, 'transB', 0) ? 0 : 1;
    return { w, axis, bias: okBias && okBias.dims.length === 1 && okBias.dims[0] === w.dims[axis] ? okBias : undefined };
  }
  if (n.opType === 'MatMul' && w.dims.length === 2) return { w, axis: 1 };
  return undefined;
}

/** Per-channel symmetric int8 words and scales of `w` along `axis`. */
export function quantizeWeights(w: Float32Array, dims: readonly number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const C = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => Math.floor(i / inner) % C;
  const max = new Float64Array(C);
  for (let i = 0; i < w.length; i++) max[channelOf(i)] = Math.max(max[channelOf(i)], Math.abs(w[i]));
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scales[channelOf(i)])));
  return { q, scales };
}

/** uint8 asymmetric scale and zero point of the range [lo, hi] (widened to contain 0). */
export function activationParams(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const a = Math.min(0, lo);
  const b = Math.max(0, hi);
  const scale = Math.fround(b > a ? (b - a) / 255 : 1);
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-a / scale))) };
}

/** Calibrated [lo, hi] of each value over the first `images` images of `data`. */
async function calibrate(model: Model, values: string[], data: ImageSet, opts: QuantizeOptions): Promise<Map<string, [number, number]>> {
  const calibration = opts.calibration ?? 'minmax';
  const p = opts.percentile ?? DEFAULT_CALIBRATION_PERCENTILE;
  const count = Math.min(data.count, opts.images ?? DEFAULT_CALIBRATION_IMAGES);
  const batch = opts.batch ?? 64;
  const per = data.shape.reduce((a, b) => a * b, 1);
  const input = model.graph.inputs[0].name;
  const outputs = values.filter((v) => v !== input);
  const lo = new Map(values.map((v) => [v, Infinity]));
  const hi = new Map(values.map((v) => [v, -Infinity]));
  const samples = new Map(values.map((v) => [v, [] as number[]]));
  const seen = (name: string, d: ArrayLike<number>): void => {
    let a = lo.get(name)!;
    let b = hi.get(name)!;
    for (let i = 0; i < d.length; i++) { const x = d[i]; if (x < a) a = x; if (x > b) b = x; }
    lo.set(name, a);
    hi.set(name, b);
    if (calibration === 'percentile') {
      const s = samples.get(name)!;
      const stride = Math.max(1, Math.ceil((d.length * Math.ceil(count / batch)) / SAMPLE));
      for (let i = 0; i < d.length; i += stride) s.push(d[i]);
    }
  };
  const runner = outputs.length ? await ModelRunner.create(model, { threads: opts.threads, executionProvider: opts.executionProvider, outputs }) : undefined;
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const x = data.x.subarray(start * per, (start + n) * per);
      if (values.includes(input)) seen(input, x);
      if (!runner) continue;
      const out = await runner.run(x, [n, ...data.shape]);
      for (const v of outputs) seen(v, out[v].data as Float32Array);
    }
  } finally {
    await runner?.release();
  }
  const ranges = new Map<string, [number, number]>();
  for (const v of values) {
    if (calibration === 'minmax') { ranges.set(v, [lo.get(v)!, hi.get(v)!]); continue; }
    const s = Float64Array.from(samples.get(v)!).sort();
    const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round((q / 100) * (s.length - 1))))];
    ranges.set(v, [at(100 - p), at(p)]);
  }
  return ranges;
}

/**
 * The int8 QDQ version of `model`, calibrated on `data` (training images). Throws a FlipguardError
 * for an opset below 13 (per-channel DequantizeLinear), bad options, or a model with no Conv,
 * Gemm or MatMul layer holding float32 weights.
 */
export async function quantizeModel(model: Model, data: ImageSet, opts: QuantizeOptions = {}): Promise<QuantizeResult> {
  const calibration = opts.calibration ?? 'minmax';
  if (!CALIBRATIONS.includes(calibration)) throw new FlipguardError(`Unknown calibration "${String(calibration)}"; set ${opt('calibration')} to minmax or percentile.`);
  const p = opts.percentile ?? DEFAULT_CALIBRATION_PERCENTILE;
  if (!(typeof p === 'number' && p > 50 && p <= 100)) throw new FlipguardError(`The calibration percentile must be a number in (50, 100], got ${String(p)}; set ${opt('percentile')} to e.g. 99.99.`);
  const images = opts.images ?? DEFAULT_CALIBRATION_IMAGES;
  if (!Number.isInteger(images) || images < 1) throw new FlipguardError(`The number of calibration images must be a whole number ≥ 1, got ${images}; set ${opt('images')} accordingly.`);
  if (data.count < 1) throw new FlipguardError('The calibration set holds no images; give training images to calibrate on.');
  if (defaultOpset(model) < 13) throw new FlipguardError(`The model uses opset ${defaultOpset(model)}, but per-channel quantization needs opset 13 or later; re-export the model with opset 13 or newer.`);
  const folded = foldBatchNorm(model).model;
  const g = folded.graph;
  const outputs = new Set(g.outputs.map((o) => o.name));
  const readers = consumers(g);
  const layers = g.nodes.map((n) => ({ n, w: weightOf(n, g) })).filter((l) => l.w);
  if (layers.length === 0) throw new FlipguardError('The model has no Conv, Gemm or MatMul layer with float32 weights to quantize; give a float32 model.');

  // activation values to quantize: each layer's input, and its output (after a sole ReLU reader)
  const acts: string[] = [];
  const want = (v: string | undefined): void => { if (v && !outputs.has(v) && !acts.includes(v)) acts.push(v); };
  for (const { n } of layers) {
    want(n.inputs[0]);
    const r = readers.get(n.outputs[0]) ?? [];
    want(r.length === 1 && r[0].opType === 'Relu' ? r[0].outputs[0] : n.outputs[0]);
  }
  const ranges = await calibrate(folded, acts, data, opts);

  const inits = new Map(g.initializers);
  const used = new NameScope([...inits.keys(), ...g.nodes.flatMap((n) => [...n.outputs, n.name ?? '']), ...g.inputs.map((i) => i.name)]);
  const fresh = (base: string): string => used.variant(base, numberedUnderscore);
  const init = (base: string, dataType: number, dims: number[], d: Tensor['data']): string => {
    const name = fresh(base);
    inits.set(name, { name, dataType, dims, data: d });
    return name;
  };
  const node = (opType: string, inputs: string[], base: string, attributes: Node['attributes'] = {}): Node => ({ name: fresh(base), opType, domain: '', inputs, outputs: [fresh(`${base}_out`)], attributes });

  // QDQ pairs of activations, placed right after the value is produced
  const qdq = new Map<string, { nodes: Node[]; out: string; scale: number }>();
  const activations: QuantizeResult['activations'] = [];
  for (const v of acts) {
    const [lo, hi] = ranges.get(v)!;
    const { scale, zeroPoint } = activationParams(lo, hi);
    const s = init(`${v}.scale`, DataType.FLOAT, [], new Float32Array([scale]));
    const z = init(`${v}.zero_point`, DataType.UINT8, [], new Uint8Array([zeroPoint]));
    const q = node('QuantizeLinear', [v, s, z], `${v}.quantize`);
    const d = node('DequantizeLinear', [q.outputs[0], s, z], `${v}.dequantize`);
    qdq.set(v, { nodes: [q, d], out: d.outputs[0], scale });
    activations.push({ value: v, lo, hi, scale, zeroPoint });
  }

  const nodes: Node[] = [];
  const emitAfter = (v: string): void => { const e = qdq.get(v); if (e) nodes.push(...e.nodes); };
  for (const i of g.inputs) emitAfter(i.name);
  const quantized: string[] = [];
  for (const n of g.nodes) {
    let inputs = n.inputs.map((i) => qdq.get(i)?.out ?? i);
    const l = weightOf(n, g);
    if (l) {
      const label = n.name || n.outputs[0];
      const { q, scales } = quantizeWeights(l.w.data as Float32Array, l.w.dims, l.axis);
      const wq = init(`${l.w.name}.int8`, DataType.INT8, [...l.w.dims], q);
      const ws = init(`${l.w.name}.scale`, DataType.FLOAT, [scales.length], scales);
      const wz = init(`${l.w.name}.zero_point`, DataType.INT8, [scales.length], new Int8Array(scales.length));
      const dw = node('DequantizeLinear', [wq, ws, wz], `${l.w.name}.dequantize`, { axis: A.i(l.axis) });
      nodes.push(dw);
      inputs = [...inputs];
      inputs[1] = dw.outputs[0];
      const sx = qdq.get(n.inputs[0])?.scale;
      if (l.bias && sx !== undefined && numel(l.bias.dims) === scales.length) {
        const bs = Float32Array.from(scales, (s) => s * sx);
        const b = l.bias.data as Float32Array;
        const bq = Int32Array.from(b, (v, c) => Math.max(-2147483647, Math.min(2147483647, Math.round(v / bs[c]))));
        const bqn = init(`${l.bias.name}.int32`, DataType.INT32, [...l.bias.dims], bq);
        const bsn = init(`${l.bias.name}.scale`, DataType.FLOAT, [bs.length], bs);
        const db = node('DequantizeLinear', [bqn, bsn], `${l.bias.name}.dequantize`, { axis: A.i(0) });
        nodes.push(db);
        inputs[2] = db.outputs[0];
      }
      quantized.push(label);
    }
    nodes.push(inputs.every((x, i) => x === n.inputs[i]) ? n : { ...n, inputs });
    for (const o of n.outputs) emitAfter(o);
  }
  // drop float weights and biases no node reads any more
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const name of [...inits.keys()]) if (!read.has(name) && !outputs.has(name)) inits.delete(name);
  const graph: Graph = { ...g, nodes, initializers: inits, initializerInputs: g.initializerInputs?.filter((v) => inits.has(v.name)) };
  return { model: { ...folded, graph }, layers: quantized, activations };
}
