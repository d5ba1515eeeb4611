/**
 * Hardening in the model's own number format. A layer's weight and bias may be stored as float32,
 * as float16/bfloat16 words read through Cast (`convert`), or as int8/uint8 (weights) and int32
 * (biases) read through DequantizeLinear with per-channel or per-tensor scale and zero point
 * (`quantize`, QDQ); graph/stored.ts finds which. Every copy a transform adds (duplicated,
 * triplicated or replica channels) is stored in the same format as its original and converted the
 * same way — a per-channel scale and zero point are copied with their channel — so a fault-free
 * copy reads bit-identically to its original, and a stored copy is hit by faults word by word in
 * its format (a copy of an int8 weight is 8 stored bits).
 */
import { FlipguardError } from '../errors.js';
import { reorderAxis, type StoredParam } from '../graph/stored.js';
import { wordFormat, type WordFormat } from '../graph/dtype.js';
import { A } from '../graph/builder.js';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../graph/types.js';
import type { Emitter, GraphEditor } from './graph-edit.js';
import { FLOAT_SPECS, floatOf, wordOf } from './words.js';

/** Number of inputs of all nodes reading `name`, plus 1 when it is a graph output. */
function uses(ed: GraphEditor, name: string): number {
  let n = ed.graph.outputs.some((o) => o.name === name) ? 1 : 0;
  for (const node of ed.graph.nodes) for (const i of node.inputs) if (i === name) n++;
  return n;
}

/** The scale and zero point of `p` with their channels taken in `order` when they are per `axis`; else as they are. */
function quantParams(p: StoredParam, axis: number, order: readonly number[]): { scale?: Tensor; zeroPoint?: Tensor; moved: boolean } {
  if (p.axis === undefined || p.axis !== axis || !p.scale) return { scale: p.scale, zeroPoint: p.zeroPoint, moved: false };
  const r = (t: Tensor): Tensor => ({ ...t, ...reorderAxis(t.dataType, t.data, t.dims, 0, order) });
  return { scale: r(p.scale), zeroPoint: p.zeroPoint && r(p.zeroPoint), moved: true };
}

/**
 * Checks that a stored parameter is in a format hardening copies: float32, float16 read directly
 * (a native float16 model: the layer computes in float16), float16/bfloat16 through Cast, or
 * integers through DequantizeLinear.
 */
export function checkStored(p: StoredParam, what: string): void {
  if (!p.via && p.tensor.dataType !== DataType.FLOAT && p.tensor.dataType !== DataType.FLOAT16) {
    throw new FlipguardError(`The ${what} "${p.tensor.name}" is stored as ${wordFormat(p.tensor.dataType) ?? `data type ${p.tensor.dataType}`} and read without conversion; flipguard hardens float32 models and models stored through Cast or DequantizeLinear (flipguard convert / quantize) — convert the float32 model instead.`);
  }
}

/**
 * Replaces the parameter `p` that `reader` reads at input `slot` by one whose channels along `axis`
 * are `order` (originals first, copies appended): the stored words are widened in their format,
 * and a per-channel scale/zero point with them. Names are kept when nothing else reads the
 * tensors; otherwise the widened tensors (and their conversion node) get fresh names.
 */
export function widenParam(ed: GraphEditor, reader: Node, slot: number, p: StoredParam, axis: number, order: readonly number[]): void {
  const g = ed.graph;
  const t = p.tensor;
  const wide: Tensor = { ...t, ...reorderAxis(t.dataType, t.data, t.dims, axis, order) };
  const q = quantParams(p, axis, order);
  const read = reader.inputs[slot];
  if (!p.via) {
    const name = read !== t.name || uses(ed, t.name) > 1 ? ed.fresh(`${t.name}.wide`) : t.name;
    ed.setInit({ ...wide, name });
    reader.inputs[slot] = name;
    return;
  }
  const via = p.via;
  const alone = read === via.outputs[0] && uses(ed, read) === 1 && uses(ed, t.name) === 1 && (!q.moved || (uses(ed, p.scale!.name) === 1 && (!p.zeroPoint || uses(ed, p.zeroPoint.name) === 1)));
  g.valueInfo = g.valueInfo.filter((v) => v.name !== via.outputs[0]);
  if (alone && via.inputs[0] === t.name) {
    ed.setInit(wide);
    if (q.moved) { ed.setInit(q.scale!); if (q.zeroPoint) ed.setInit(q.zeroPoint); }
    return;
  }
  const inputs = [ed.init(`${t.name}.wide`, t.dataType, wide.dims, wide.data)];
  if (q.scale) inputs.push(q.moved ? ed.init(`${q.scale.name}.wide`, q.scale.dataType, q.scale.dims, q.scale.data) : q.scale.name);
  if (q.zeroPoint) inputs.push(q.moved ? ed.init(`${q.zeroPoint.name}.wide`, q.zeroPoint.dataType, q.zeroPoint.dims, q.zeroPoint.data) : q.zeroPoint.name);
  reader.inputs[slot] = ed.atStart().op(via.opType, inputs, { ...via.attributes });
}

/**
 * A new stored tensor `name` holding the channels `order` of `p` along `axis`, in `p`'s format
 * (`p`'s dims with dims[axis] = |order|), converted like `p` by a node
 * emitted on `e` (tagged `docString`); returns the float32 value to compute with.
 */
export function storedCopy(ed: GraphEditor, e: Emitter, p: StoredParam, axis: number, order: readonly number[], name: string, docString?: string): string {
  const t = p.tensor;
  const r = reorderAxis(t.dataType, t.data, t.dims, axis, order);
  const stored = ed.init(name, t.dataType, r.dims, r.data);
  if (!p.via) return stored;
  const q = quantParams(p, axis, order);
  const inputs = [stored];
  if (q.scale) inputs.push(q.moved ? ed.init(`${name}.scale`, q.scale.dataType, q.scale.dims, q.scale.data) : q.scale.name);
  if (q.zeroPoint) inputs.push(q.moved ? ed.init(`${name}.zero_point`, q.zeroPoint.dataType, q.zeroPoint.dims, q.zeroPoint.data) : q.zeroPoint.name);
  return e.op(p.via.opType, inputs, { ...p.via.attributes }, docString ? { docString } : {});
}

/** The word format of a stored parameter (float32 for a plain float32 initializer). */
export function storedFormat(p: StoredParam): WordFormat {
  const f = wordFormat(p.tensor.dataType);
  if (!f) throw new FlipguardError(`The tensor "${p.tensor.name}" has data type ${p.tensor.dataType}, which flipguard cannot harden.`);
  return f;
}

/**
 * In-graph access to the stored words of a weight for the voting methods (tmr-weights, tmr-bits):
 * `words` turns the stored tensor's elements (flattened, in their stored type) into unsigned int64
 * words, `values` turns voted words into what the layer computes with — float32 values for a float
 * format read through Cast (exact: float16/bfloat16 values are float32 values), float16 values for
 * a native float16 weight, the stored integers for int8/uint8 (read on through the layer's own
 * DequantizeLinear). `replaces` is the value the voted tensor stands in for: the Cast output
 * (float formats through Cast) or the stored tensor itself (native float16, integers); `reads` the
 * element type of that value.
 * Float words are read arithmetically (ONNX has no bit reinterpretation before opset 26): a NaN
 * reads as the format's canonical quiet NaN word. Integer words are exact for every value.
 */
export interface WordCodec {
  format: WordFormat;
  bits: number;
  words(e: Emitter, stored: string): string;
  values(e: Emitter, words: string): string;
  replaces: string;
  reads: number;
}

/** The word codec of a stored weight (not float32, which the voting methods store as int32 words or vote as floats). */
export function wordCodec(p: StoredParam): WordCodec {
  const format = storedFormat(p);
  const i64 = (e: Emitter, x: string): string => e.op('Cast', [x], { to: A.i(DataType.INT64) });
  if (format === 'float16' || format === 'bfloat16') {
    const f = FLOAT_SPECS[format];
    // native float16 (read without Cast): the voted values go back to float16 words (exact) and replace the tensor itself
    const native = !p.via;
    return {
      format, bits: 16, replaces: native ? p.tensor.name : p.value, reads: native ? p.tensor.dataType : DataType.FLOAT,
      words: (e, x) => wordOf(e, e.op('Cast', [x], { to: A.i(DataType.FLOAT) }), f),
      values: (e, w) => (native ? e.op('Cast', [floatOf(e, w, f)], { to: A.i(p.tensor.dataType) }) : floatOf(e, w, f)),
    };
  }
  if (format === 'int8' || format === 'uint8') {
    return {
      format, bits: 8, replaces: p.tensor.name, reads: p.tensor.dataType,
      // two's complement word in [0, 256) (Mod takes the divisor's sign for integers)
      words: (e, x) => e.op('Mod', [i64(e, x), e.int64s('i256', [], [256])]),
      values: (e, w) => {
        const v = format === 'int8' ? e.op('Sub', [w, e.op('Mul', [e.int64s('i256', [], [256]), i64(e, e.op('Greater', [w, e.int64s('i127', [], [127])]))])]) : w;
        return e.op('Cast', [v], { to: A.i(p.tensor.dataType) });
      },
    };
  }
  throw new FlipguardError(`The weight "${p.tensor.name}" is stored as ${format}, which flipguard's weight voting does not handle; quantize weights to int8 or convert them to float16/bfloat16.`);
}

/** `g` without the Cast nodes whose output nothing reads any more (a stored weight now read through its vote). */
export function dropUnread(g: Graph): Graph {
  const read = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const nodes = g.nodes.filter((n) => n.opType !== 'Cast' || n.outputs.some((o) => read.has(o)));
  return nodes.length === g.nodes.length ? g : { ...g, nodes };
}

/** Whether `model` quantizes activations in the graph (QDQ: QuantizeLinear nodes). */
export function quantizesActivations(model: Model): boolean {
  return model.graph.nodes.some((n) => n.opType === 'QuantizeLinear');
}
