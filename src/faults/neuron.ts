/**
 * Neuron-output faults (paper C): faults in one element of an intermediate activation, the same
 * element in every image of a pass.
 *
 * - `stuck0`: the element reads +0.0 whatever was computed. Done by a graph edit: the producer's
 *   output is renamed and `Where(mask, 0, value)` recreates the value, `mask` a bool constant that
 *   is true only at that element. (`Where` rather than a multiplication by a 0/1 mask, because
 *   0 × Inf and 0 × NaN are NaN, not 0.) The edited model is an ordinary ONNX graph.
 * - `flip`: bit `bit` of the element's stored float32 word flips (bit 0 = mantissa LSB, 31 = sign).
 *   Not on float16 activations (a native float16 model): onnxruntime's CPU provider computes those
 *   in float32 between its few float16 kernels, so a run split at the value would round it where
 *   the whole model does not (measured: 45 of 200 LeNet-5 logits move without any flip). stuck0
 *   works there (a float16 zero selected in the graph).
 *   ONNX has no bitcast operator, so this is done exactly by splitting the graph at the value
 *   (see split.ts): the prefix runs in onnxruntime, the one word is flipped in JavaScript, and the
 *   suffix runs on the flipped activation (plus whatever else crosses the cut).
 */
import { FlipguardError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { DataType, type Graph, type Model, type Node } from '../graph/types.js';
import { argmaxRows, DEFAULT_BATCH, fixedBatch as modelFixedBatch, type ImageSet, type Predictions } from '../runtime/evaluate.js';
import { createSession, dataInput, ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { floatTensor, imageBatches, type RunTensor } from '../runtime/batched.js';
import { partitionAt, splitModels } from './split.js';

export interface NeuronFault {
  /** Name of the activation value (a node output). */
  value: string;
  /** Flat index of the element within one image's activation (row-major, batch dimension left out). */
  index: number;
  kind: 'stuck0' | 'flip';
  /** Bit to flip, for `flip` (0 = mantissa LSB … 31 = sign). */
  bit?: number;
}

const ORT_TO_ONNX: Record<string, number> = {
  float32: DataType.FLOAT, float64: DataType.DOUBLE, int64: DataType.INT64, uint64: DataType.UINT64, int32: DataType.INT32,
  uint32: DataType.UINT32, int16: DataType.INT16, uint16: DataType.UINT16, int8: DataType.INT8, uint8: DataType.UINT8,
  bool: DataType.BOOL, float16: DataType.FLOAT16,
};

export interface ValueProbe {
  elemType: number;
  /** Full dims as run with `batch` images. */
  dims: number[];
}

/**
 * Runs `model` once on `batch` zero images of shape `imageShape` and reports the element type and
 * dims of the named values (default batch: the model's fixed batch, else 2).
 */
export async function probeValues(model: Model, names: readonly string[], imageShape: readonly number[], opts: RuntimeOptions & { batch?: number } = {}): Promise<Map<string, ValueProbe>> {
  const batch = modelFixedBatch(model) ?? opts.batch ?? 2;
  const runner = await ModelRunner.create(model, { ...opts, outputs: [...names] });
  try {
    const per = imageShape.reduce((a, b) => a * b, 1);
    const out = await runner.run(new Float32Array(batch * per), [batch, ...imageShape]);
    const m = new Map<string, ValueProbe>();
    for (const n of names) {
      const t = out[n];
      m.set(n, { elemType: ORT_TO_ONNX[t.type] ?? DataType.UNDEFINED, dims: [...t.dims] });
    }
    return m;
  } finally {
    await runner.release();
  }
}

function checkValue(model: Model, value: string): void {
  const g = model.graph;
  const known = g.inputs.some((v) => v.name === value) || g.nodes.some((n) => n.outputs.includes(value));
  if (!known) throw new FlipguardError(`The model has no value named "${value}"; give the output name of one of its nodes (e.g. ${g.nodes.slice(0, 3).map((n) => n.outputs[0]).join(', ')}).`);
}

function checkIndex(f: NeuronFault, perImage: number): void {
  if (!Number.isInteger(f.index) || f.index < 0 || f.index >= perImage) {
    throw new FlipguardError(`Neuron index ${f.index} is outside value "${f.value}" (${perImage} elements per image); use an index from 0 to ${perImage - 1}.`);
  }
  if (f.kind === 'flip' && (f.bit === undefined || !Number.isInteger(f.bit) || f.bit < 0 || f.bit > 31)) {
    throw new FlipguardError(`Neuron fault on "${f.value}" has bit ${String(f.bit)}, outside 0–31; give bit 0 (mantissa LSB) to 31 (sign).`);
  }
  if (f.kind !== 'flip' && f.kind !== 'stuck0') throw new FlipguardError(`Unknown neuron fault kind "${String(f.kind)}"; use stuck0 or flip.`);
}

/**
 * Returns a copy of `model` where each listed element is stuck at +0.0 (see the file comment).
 * `shapes` gives each value's per-image shape (batch dimension left out), `types` the element type
 * of values that are not float32 (float16 in a native float16 model). `model` is not mutated.
 */
export function insertStuckAtZero(model: Model, faults: readonly { value: string; index: number }[], shapes: ReadonlyMap<string, readonly number[]>, types: ReadonlyMap<string, number> = new Map()): Model {
  const byValue = new Map<string, number[]>();
  for (const f of faults) {
    checkValue(model, f.value);
    const shape = shapes.get(f.value);
    if (!shape) throw new Error(`no shape for ${f.value}`);
    checkIndex({ ...f, kind: 'stuck0' }, shape.reduce((a, b) => a * b, 1));
    const l = byValue.get(f.value) ?? [];
    l.push(f.index);
    byValue.set(f.value, l);
  }
  const g = model.graph;
  const b = new GraphBuilder(g.name, g);
  const nodes: Node[] = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  const head: Node[] = [];
  const after = new Map<number, Node[]>();
  for (const [value, idx] of byValue) {
    const shape = shapes.get(value)!;
    const per = shape.reduce((a, c) => a * c, 1);
    const mask = new Uint8Array(per);
    for (const i of idx) mask[i] = 1;
    const maskName = b.init(`${value}_stuck0_mask`, [1, ...shape], mask, DataType.BOOL);
    const zero = types.get(value) === DataType.FLOAT16 ? b.init(`${value}_stuck0_zero`, [], new Uint16Array(1), DataType.FLOAT16) : b.init(`${value}_stuck0_zero`, [], new Float32Array([0]));
    const fresh = b.fresh(`${value}_before_stuck0`);
    const pi = nodes.findIndex((n) => n.outputs.includes(value));
    const where: Node = { name: b.fresh(`${value}_stuck0`), opType: 'Where', domain: '', inputs: [maskName, zero, ''], outputs: [''], attributes: {} };
    if (pi >= 0) {
      const p = nodes[pi];
      p.outputs = p.outputs.map((o) => (o === value ? fresh : o));
      where.inputs[2] = fresh;
      where.outputs[0] = value;
      const l = after.get(pi) ?? [];
      l.push(where);
      after.set(pi, l);
    } else {
      // a graph input: consumers read the edited copy instead
      for (const n of nodes) n.inputs = n.inputs.map((x) => (x === value ? fresh : x));
      where.inputs[2] = value;
      where.outputs[0] = fresh;
      head.push(where);
    }
  }
  const ordered: Node[] = [...head];
  nodes.forEach((n, i) => { ordered.push(n); for (const w of after.get(i) ?? []) ordered.push(w); });
  const graph: Graph = { ...g, nodes: ordered, initializers: new Map(b.initializers) };
  return { ...model, graph };
}

/**
 * Predictions of `model` on `data` with neuron-output faults active in every image. Stuck-at-0
 * faults are graph edits; bit flips (all on one value) split the graph there and flip the word in
 * JavaScript between the two halves. Exact: no approximation of the faulty value.
 */
export async function predictWithNeuronFaults(model: Model, data: ImageSet, faults: readonly NeuronFault[], opts: RuntimeOptions & { batch?: number } = {}): Promise<Predictions> {
  for (const f of faults) checkValue(model, f.value);
  const values = [...new Set(faults.map((f) => f.value))];
  const probes = values.length ? await probeValues(model, values, data.shape, opts) : new Map<string, ValueProbe>();
  const shapes = new Map<string, number[]>();
  const elemTypes = new Map<string, number>();
  for (const [v, p] of probes) {
    if (p.elemType !== DataType.FLOAT && p.elemType !== DataType.FLOAT16) throw new FlipguardError(`Value "${v}" is not float32 or float16, so it cannot hold a neuron fault; pick an activation value.`);
    shapes.set(v, p.dims.slice(1));
    elemTypes.set(v, p.elemType);
  }
  for (const f of faults) checkIndex(f, shapes.get(f.value)!.reduce((a, b) => a * b, 1));
  const stuck = faults.filter((f) => f.kind === 'stuck0');
  const flips = faults.filter((f) => f.kind === 'flip');
  // float16 activations (native float16 model): no float16 word to flip in onnxruntime (module comment)
  const half = flips.find((f) => elemTypes.get(f.value) === DataType.FLOAT16);
  if (half) throw new FlipguardError(`Value "${half.value}" is a float16 activation of a native float16 model, whose bits cannot be flipped exactly (onnxruntime computes it in float32 between kernels); use stuck0 faults there, or flip bits in the Cast-around model ("flipguard convert --to float16", not native).`);
  const edited = stuck.length ? insertStuckAtZero(model, stuck, shapes, elemTypes) : model;
  const fixed = modelFixedBatch(model);
  const batch = fixed ?? opts.batch ?? DEFAULT_BATCH;
  const top1 = new Int32Array(data.count);
  let logits: Float32Array | undefined;
  let classes = 0;
  const collect = (d: Float32Array, start: number, n: number, runN: number): void => {
    if (!logits) { classes = d.length / runN; logits = new Float32Array(data.count * classes); }
    logits.set(d.subarray(0, n * classes), start * classes);
    argmaxRows(d, n, classes, top1, start);
  };
  if (flips.length === 0) {
    const runner = await ModelRunner.create(edited, opts);
    try {
      for (const { start, x, n, runN } of imageBatches(data, batch, fixed)) {
        const out = await runner.run(x, [runN, ...data.shape]);
        collect(out[runner.outputNames[0]].data as Float32Array, start, n, runN);
      }
    } finally { await runner.release(); }
    return { logits: logits ?? new Float32Array(0), top1, classes };
  }
  const flipValues = new Set(flips.map((f) => f.value));
  if (flipValues.size > 1) throw new FlipguardError(`Neuron bit flips on several values (${[...flipValues].join(', ')}) in one pass are not supported; put flips on one value per evaluation.`);
  const cut = flips[0].value;
  if (edited.graph.inputs.some((v) => v.name === cut)) throw new FlipguardError(`Value "${cut}" is the model input; flip bits in an intermediate activation instead.`);
  const split = partitionAt(edited, cut);
  // element types of crossing values: probe them in the edited model
  const crossingTypes = await probeValues(edited, split.crossing.filter((c) => !edited.graph.inputs.some((v) => v.name === c)), data.shape, opts);
  const types = new Map<string, { elemType: number }>();
  for (const [k, v] of crossingTypes) types.set(k, { elemType: v.elemType });
  const { prefix, suffix } = splitModels(edited, split, types);
  const inputName = dataInput(model).name;
  const pre = await createSession(prefix, opts);
  const suf = await createSession(suffix, opts);
  try {
    for (const { start, x, n, runN } of imageBatches(data, batch, fixed)) {
      const xin = floatTensor(x, [runN, ...data.shape]);
      const outs = prefix.graph.outputs.length ? await pre.run({ [inputName]: xin }) : {};
      const feeds: Record<string, RunTensor> = {};
      for (const c of split.crossing) feeds[c] = c === inputName ? xin : outs[c];
      const v = outs[cut];
      const copy = new Float32Array(v.data as Float32Array);
      const words = new Uint32Array(copy.buffer);
      const perImage = copy.length / runN;
      for (let img = 0; img < runN; img++) for (const f of flips) {
        const k = img * perImage + f.index;
        words[k] = (words[k] ^ (1 << f.bit!)) >>> 0;
      }
      feeds[cut] = floatTensor(copy, v.dims);
      const res = await suf.run(feeds);
      collect(res[suffix.graph.outputs[0].name].data as Float32Array, start, n, runN);
    }
  } finally {
    await pre.release();
    await suf.release();
  }
  return { logits: logits ?? new Float32Array(0), top1, classes };
}
