/**
 * `convertModel`: a float32 model with its parameters stored as float16 or bfloat16. Every float32
 * parameter initializer (faults/params.ts `listParameters`) is rounded to the format (round half to
 * even, graph/dtype.ts) and stored under its own name; a Cast node turns it back into float32 where
 * the graph reads it, so the computation stays float32 (onnxruntime's CPU provider lacks most
 * bfloat16 kernels) and the fault model sees the 16-bit stored words (bits 0–9/0–6 mantissa, 10–14
 * / 7–14 exponent, 15 sign). Outputs therefore differ from the float32 model's only by the
 * parameters' rounding (relative error ≤ 2⁻¹¹ per float16 parameter, 2⁻⁸ per bfloat16 one).
 * With `native`, a float16 model computes in float16 throughout instead (`ConvertOptions.native`).
 */
import { FlipguardError, opt } from '../errors.js';
import { A, GraphBuilder } from '../graph/builder.js';
import { DataType, type Model, type Node, type Tensor, type ValueInfo } from '../graph/types.js';
import { bfloat16ToNumber, float16ToNumber, formatDataType, numberToBfloat16, numberToFloat16 } from '../graph/dtype.js';
import { listParameters } from '../faults/params.js';

export type FloatFormat = 'float16' | 'bfloat16';
export const FLOAT_FORMATS: readonly FloatFormat[] = ['float16', 'bfloat16'];

export interface ConvertResult {
  model: Model;
  /** Initializers now stored in the format. */
  converted: string[];
  /** Largest |stored − original| / |original| over the converted parameters (0 for zeros). */
  maxRelativeError: number;
}

export interface ConvertOptions {
  /**
   * float16 only: the whole graph computes in float16 (what `model.half()` exports or
   * onnxconverter-common's float16 conversion produce): every float32 initializer and Constant is
   * stored as float16 and read directly, Casts to float32 become Casts to float16, and the graph's
   * float32 inputs, outputs and value_info become float16. Default false (Cast-around).
   */
  native?: boolean;
}

/** The result of `convertModel`; `model` with every float32 parameter stored as `to` (see `ConvertOptions.native`). */
export function convertModel(model: Model, to: FloatFormat, opts: ConvertOptions = {}): ConvertResult {
  if (!FLOAT_FORMATS.includes(to)) throw new FlipguardError(`The format "${String(to)}" cannot be converted to; set ${opt('to')} to float16 or bfloat16.`);
  if (opts.native) {
    if (to !== 'float16') throw new FlipguardError(`Only float16 can be converted natively (onnxruntime's CPU provider lacks bfloat16 kernels); unset ${opt('native')} for a Cast-around ${to} model.`);
    return nativeFloat16(model);
  }
  const g = model.graph;
  const targets = listParameters(model).filter((p) => p.format === 'float32');
  if (targets.length === 0) throw new FlipguardError('The model stores no float32 parameters to convert; give a float32 model.');
  const b = new GraphBuilder(g.name, { ...g, nodes: [] });
  const renamed = new Map<string, string>();
  let maxRel = 0;
  for (const p of targets) {
    const r = roundTensor(g.initializers.get(p.name)!, to);
    maxRel = Math.max(maxRel, r.maxRel);
    b.initializers.set(p.name, r.tensor);
    renamed.set(p.name, b.fresh(`${p.name}.float32`));
  }
  const casts: Node[] = [...renamed].map(([name, out]) => ({ name: b.fresh(`${name}.cast`), opType: 'Cast', domain: '', inputs: [name], outputs: [out], attributes: { to: A.i(DataType.FLOAT) } }));
  const nodes = g.nodes.map((n) => (n.inputs.some((i) => renamed.has(i)) ? { ...n, inputs: n.inputs.map((i) => renamed.get(i) ?? i) } : n));
  const graph = { ...g, initializers: b.build().initializers, nodes: [...casts, ...nodes] };
  return { model: { ...model, graph }, converted: [...renamed.keys()], maxRelativeError: maxRel };
}

/** `t`'s float32 values as `to` words, and the largest relative rounding error among them. */
function roundTensor(t: Tensor, to: FloatFormat): { tensor: Tensor; maxRel: number } {
  const round = to === 'float16' ? numberToFloat16 : numberToBfloat16;
  const decode = to === 'float16' ? float16ToNumber : bfloat16ToNumber;
  const src = t.data as Float32Array;
  const words = new Uint16Array(src.length);
  let maxRel = 0;
  for (let i = 0; i < src.length; i++) {
    words[i] = round(src[i]);
    const v = decode(words[i]);
    if (src[i] !== 0 && Number.isFinite(v)) maxRel = Math.max(maxRel, Math.abs(v - src[i]) / Math.abs(src[i]));
  }
  return { tensor: { ...t, dataType: formatDataType(to), data: words }, maxRel };
}

/** The native float16 model of `ConvertOptions.native`. */
function nativeFloat16(model: Model): ConvertResult {
  const g = model.graph;
  if (!g.inputs.some((v) => v.elemType === DataType.FLOAT)) throw new FlipguardError('The model has no float32 input to convert; give a float32 model.');
  let maxRel = 0;
  const half = (t: Tensor): Tensor => { const r = roundTensor(t, 'float16'); maxRel = Math.max(maxRel, r.maxRel); return r.tensor; };
  const params = new Set(listParameters(model).filter((p) => p.format === 'float32').map((p) => p.name));
  // inputs that ONNX types float32 whatever the data type: Resize's and Upsample's scales
  const keep = new Set(g.nodes.flatMap((n) => (n.opType === 'Resize' ? [n.inputs[2]] : n.opType === 'Upsample' ? [n.inputs[1]] : [])).filter((x): x is string => !!x));
  const initializers = new Map([...g.initializers].map(([k, t]) => [k, t.dataType === DataType.FLOAT && !keep.has(k) ? half(t) : t] as const));
  const nodes = g.nodes.map((n): Node => {
    const v = n.attributes.value;
    // a float32 Constant (or ConstantOfShape fill) computes in float16 too, unless it is a scales input
    if ((n.opType === 'Constant' || n.opType === 'ConstantOfShape') && v?.type === 'tensor' && v.value.dataType === DataType.FLOAT && !keep.has(n.outputs[0])) return { ...n, attributes: { ...n.attributes, value: A.t(half(v.value)) } };
    const to = n.attributes.to;
    if (n.opType === 'Cast' && to?.type === 'int' && to.value === DataType.FLOAT) return { ...n, attributes: { ...n.attributes, to: A.i(DataType.FLOAT16) } };
    return n;
  });
  const widen = (v: ValueInfo): ValueInfo => (v.elemType === DataType.FLOAT ? { ...v, elemType: DataType.FLOAT16 } : v);
  const graph = { ...g, initializers, nodes, inputs: g.inputs.map(widen), outputs: g.outputs.map(widen), valueInfo: g.valueInfo.map(widen) };
  return { model: { ...model, graph }, converted: [...params], maxRelativeError: maxRel };
}

/**
 * A value of `model` that shows it computes in float16 (a float16 graph input or output, a Cast to
 * float16, or a float16 initializer read by another op than Cast), or undefined when it computes in
 * float32 (Cast-around float16 included).
 */
export function float16Computation(model: Model): string | undefined {
  const g = model.graph;
  const io = [...g.inputs, ...g.outputs].find((x) => x.elemType === DataType.FLOAT16);
  if (io) return io.name;
  for (const n of g.nodes) {
    if (n.opType === 'Cast') {
      const to = n.attributes.to;
      if (to?.type === 'int' && to.value === DataType.FLOAT16) return n.outputs[0];
      continue;
    }
    const w = n.inputs.find((i) => g.initializers.get(i)?.dataType === DataType.FLOAT16);
    if (w) return w;
  }
  return undefined;
}
