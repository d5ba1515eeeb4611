/**
 * Detection intervals for the EDAC layer (paper A, SPEC §4.1): for every output channel c of every
 * conv and dense layer, [L_c, U_c] = the minimum and maximum of that channel's pre-activation
 * output (the Conv/Gemm output including bias, before batch norm and activation) over a dataset —
 * by the paper, the whole training split — at every spatial position.
 *
 * The reductions run inside onnxruntime: the model gets, for each layer, ReduceMin and ReduceMax
 * over axes [0, 2, 3] (conv; every axis but 1 in general) or [0] (dense) of the layer output as
 * extra graph outputs, and JavaScript only combines the per-batch per-channel summaries with
 * Math.min / Math.max. A float16 layer (native float16 model) is profiled on its output cast to
 * float32, the values its hardening stage compares (stages.ts float32Stage); edac.ts and range.ts
 * round the bounds outward to float16.
 */
import { qdqForm } from '../formats/qoperator.js';
import { A } from '../graph/builder.js';
import { FlipguardError } from '../errors.js';
import { DataType, defaultOpset, type Model, type Node } from '../graph/types.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { fixedBatch, type ImageSet } from '../runtime/evaluate.js';
import { layerSites } from './layers.js';
import { NameScope, numberedUnderscore } from '../graph/editor.js';
import { DEFAULT_BATCH } from '../defaults.js';

/** One detection interval per output channel: `lower[c] ≤ value ≤ upper[c]` fault-free. */
export interface ChannelInterval {
  lower: Float32Array;
  upper: Float32Array;
}

/** Detection intervals by layer label (graph/layers.ts; the node name, or the output name of an unnamed node). */
export type Intervals = Map<string, ChannelInterval>;

export interface ProfileOptions extends RuntimeOptions {
  /** Images per onnxruntime run (default 256). */
  batch?: number;
}

/** The images profiling needs (a Dataset or an ImageSet). */
export type ProfileData = Pick<ImageSet, 'x' | 'shape' | 'count'> & { name?: string };

/**
 * Per-channel [min, max] of every conv/dense layer's pre-activation output over all images of
 * `data` (use the training split, as paper A does). Keys are layer labels (graph/layers.ts), as in Scores.
 * The model is not modified. Values that are NaN in the model's own output propagate.
 */
export async function profileIntervals(model: Model, data: ProfileData, opts: ProfileOptions = {}): Promise<Intervals> {
  const batch = opts.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The profiling batch size must be a whole number ≥ 1, got ${batch}.`);
  if (data.count < 1) throw new FlipguardError(`Profiling detection intervals needs at least one image, but ${data.name ?? 'the data'} is empty; pass the training split.`);
  // a QOperator model is profiled in the QDQ form hardening works on (its layers are float ops there)
  model = qdqForm(model);
  const sites = layerSites(model);
  const g = model.graph;
  const opset = defaultOpset(model);
  const nodes: Node[] = [...g.nodes];
  const outputs: { name: string }[] = [];
  const scope = new NameScope([...g.nodes.flatMap((n) => n.outputs), ...g.initializers.keys()]);
  const fresh = (base: string): string => scope.variant(base, numberedUnderscore);
  const extraInits = new Map(g.initializers);
  const names: { layer: string; min: string; max: string }[] = [];
  for (const s of sites) {
    const axes = [0, ...s.shape.slice(2).map((_, i) => i + 2)];
    // a float16 layer's output is read as float32, as the hardening stages read it (stages.ts float32Stage)
    let tap = s.tap;
    if (s.dtype === DataType.FLOAT16) {
      tap = fresh(`${s.name}.profile.float32`);
      nodes.push({ name: fresh(`${tap}.node`), opType: 'Cast', domain: '', inputs: [s.tap], outputs: [tap], attributes: { to: A.i(DataType.FLOAT) } });
    }
    const red = (op: 'ReduceMin' | 'ReduceMax'): string => {
      const out = fresh(`${s.name}.profile.${op === 'ReduceMin' ? 'min' : 'max'}`);
      const inputs = [tap];
      const attrs: Node['attributes'] = { keepdims: A.i(0) };
      if (opset >= 18) {
        const ax = fresh(`${out}.axes`);
        extraInits.set(ax, { name: ax, dataType: 7, dims: [axes.length], data: BigInt64Array.from(axes.map(BigInt)) });
        inputs.push(ax);
      } else {
        attrs.axes = A.is(axes);
      }
      nodes.push({ name: fresh(`${out}.node`), opType: op, domain: '', inputs, outputs: [out], attributes: attrs });
      outputs.push({ name: out });
      return out;
    };
    names.push({ layer: s.name, min: red('ReduceMin'), max: red('ReduceMax') });
  }
  const profModel: Model = { ...model, graph: { ...g, nodes, initializers: extraInits, outputs, valueInfo: [] } };
  const runner = await ModelRunner.create(profModel, opts);
  const result: Intervals = new Map();
  for (const s of sites) result.set(s.name, { lower: new Float32Array(s.channels).fill(Infinity), upper: new Float32Array(s.channels).fill(-Infinity) });
  try {
    const per = data.shape.reduce((a, b) => a * b, 1);
    const fixed = fixedBatch(model);
    const step = fixed ?? batch;
    for (let start = 0; start < data.count; start += step) {
      const n = Math.min(step, data.count - start);
      let x = data.x.subarray(start * per, (start + n) * per);
      if (fixed && n < fixed) {
        // a model with a fixed batch size: fill the last batch with repeats of real images
        // (repeats cannot change a minimum or maximum; zero padding could)
        const full = new Float32Array(fixed * per);
        for (let i = 0; i < fixed; i++) full.set(x.subarray((i % n) * per, (i % n + 1) * per), i * per);
        x = full;
      }
      const out = await runner.run(x, [fixed ?? n, ...data.shape]);
      for (const { layer, min, max } of names) {
        const iv = result.get(layer)!;
        const lo = out[min].data as Float32Array;
        const hi = out[max].data as Float32Array;
        for (let c = 0; c < lo.length; c++) {
          iv.lower[c] = Math.min(iv.lower[c], lo[c]);
          iv.upper[c] = Math.max(iv.upper[c], hi[c]);
        }
      }
    }
  } finally {
    await runner.release();
  }
  return result;
}

/** Intervals as plain JSON (`{layer: {lower: [...], upper: [...]}}`) and back. */
export function intervalsToJson(iv: Intervals): Record<string, { lower: number[]; upper: number[] }> {
  const o: Record<string, { lower: number[]; upper: number[] }> = {};
  for (const [k, v] of iv) o[k] = { lower: Array.from(v.lower), upper: Array.from(v.upper) };
  return o;
}

export function intervalsFromJson(o: Record<string, { lower: number[]; upper: number[] }>): Intervals {
  const m: Intervals = new Map();
  for (const [k, v] of Object.entries(o)) {
    if (!v || !Array.isArray(v.lower) || !Array.isArray(v.upper) || v.lower.length !== v.upper.length) {
      throw new FlipguardError(`The intervals for layer "${k}" are not {"lower": [...], "upper": [...]} of equal length; re-create them with profileIntervals.`);
    }
    m.set(k, { lower: Float32Array.from(v.lower), upper: Float32Array.from(v.upper) });
  }
  return m;
}
