/**
 * `convertModel`: a float32 model with its parameters stored as float16 or bfloat16. Every float32
 * parameter initializer (faults/params.ts `listParameters`) is rounded to the format (round half to
 * even, graph/dtype.ts) and stored under its own name; a Cast node turns it back into float32 where
 * the graph reads it, so the computation stays float32 (onnxruntime's CPU provider lacks most
 * bfloat16 kernels) and the fault model sees the 16-bit stored words (bits 0–9/0–6 mantissa, 10–14
 * / 7–14 exponent, 15 sign). Outputs therefore differ from the float32 model's only by the
 * parameters' rounding (relative error ≤ 2⁻¹¹ per float16 parameter, 2⁻⁸ per bfloat16 one).
 */
import { FlipguardError, opt } from '../errors.js';
import { A, GraphBuilder } from '../graph/builder.js';
import { DataType, type Model, type Node, type Tensor } from '../graph/types.js';
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

/** `model` with every float32 parameter stored as `to` and cast back to float32 where it is read. */
export function convertModel(model: Model, to: FloatFormat): ConvertResult {
  if (!FLOAT_FORMATS.includes(to)) throw new FlipguardError(`The format "${String(to)}" cannot be converted to; set ${opt('to')} to float16 or bfloat16.`);
  const g = model.graph;
  const targets = listParameters(model).filter((p) => p.format === 'float32');
  if (targets.length === 0) throw new FlipguardError('The model stores no float32 parameters to convert; give a float32 model.');
  const round = to === 'float16' ? numberToFloat16 : numberToBfloat16;
  const decode = to === 'float16' ? float16ToNumber : bfloat16ToNumber;
  const b = new GraphBuilder(g.name, { ...g, nodes: [] });
  const renamed = new Map<string, string>();
  let maxRel = 0;
  for (const p of targets) {
    const t = g.initializers.get(p.name)!;
    const src = t.data as Float32Array;
    const words = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) {
      words[i] = round(src[i]);
      const v = decode(words[i]);
      if (src[i] !== 0 && Number.isFinite(v)) maxRel = Math.max(maxRel, Math.abs(v - src[i]) / Math.abs(src[i]));
    }
    const stored: Tensor = { ...t, dataType: formatDataType(to), data: words };
    b.initializers.set(p.name, stored);
    renamed.set(p.name, b.fresh(`${p.name}.float32`));
  }
  const casts: Node[] = [...renamed].map(([name, out]) => ({ name: b.fresh(`${name}.cast`), opType: 'Cast', domain: '', inputs: [name], outputs: [out], attributes: { to: A.i(DataType.FLOAT) } }));
  const nodes = g.nodes.map((n) => (n.inputs.some((i) => renamed.has(i)) ? { ...n, inputs: n.inputs.map((i) => renamed.get(i) ?? i) } : n));
  const graph = { ...g, initializers: b.build().initializers, nodes: [...casts, ...nodes] };
  return { model: { ...model, graph }, converted: [...renamed.keys()], maxRelativeError: maxRel };
}
