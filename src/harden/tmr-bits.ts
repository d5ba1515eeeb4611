/**
 * Critical-bit TMR (issue 17): the chosen bit positions (e.g. 30, the exponent's top bit) of every
 * protected weight are stored three times; before use each protected bit is the majority of its
 * three stored copies, and the other bits are used as stored.
 *
 * Storage (every tensor below holds stored bits that fault injection reaches):
 * - `<weight>.tmrbits.words`: the layer's weight tensor as int32 words (same dims, the same 32 bits
 *   per weight as the float32 original, which it replaces). Copy 1 of every protected bit.
 * - `<weight>.tmrbits.plane2` / `.plane3`: int32 [k, ⌈p/32⌉], copies 2 and 3 as packed bit planes:
 *   bit (j mod 32) of word ⌊j/32⌋ of row i is bit `bits[i]` of protected weight j.
 *   Memory: 2 extra bits per protected bit per protected weight (plus < 64 bits of padding per row).
 * - `<weight>.tmrbits.index` (int32 [p], only when not every weight of the layer is protected):
 *   the protected flat indices, ascending (like tmr-weights' index: stored, not a fault target).
 *
 * Why int32 words: ONNX has no float↔int reinterpretation before opset 26 (BitCast), and the
 * arithmetic decomposition of a float (tmr-weights.ts) cannot read the sign and mantissa of a NaN —
 * which one flip of bit 30 makes of any weight in ±[1, 2). Words stored as integers are read
 * exactly; only the final word → float32 step is arithmetic (tmr-weights' floatOf: exact for every
 * non-NaN word; a voted NaN word comes out as a NaN with another payload).
 *
 * The vote, in standard ONNX (opset 13, integer Div/Mod/Gather, so no opset upgrade is needed):
 * words as int64 in [0, 2^32); for each protected bit b the three copies a, p2, p3 ∈ {0, 1}; the
 * majority m = ⌊(a + p2 + p3) / 2⌋; the word becomes w + Σ_b (m − a)·2^b; then floatOf, Reshape.
 * Every input is an initializer or a Constant, so onnxruntime folds it all into the weight when the
 * session is created (after fault injection edits the stored bytes): inference runs the original
 * layers, with no time overhead, and fault-free logits are bit-identical to the original's.
 *
 * Other stored formats (harden/formats.ts): a float16/bfloat16 weight read through Cast keeps its
 * 16-bit tensor as the words (bits numbered per format: 0–9/0–6 mantissa, 10–14/7–14 exponent, 15
 * sign; default bit 14), read arithmetically from its float32 value (a NaN word reads as the
 * format's quiet NaN); an int8 weight of a QDQ model keeps its int8 tensor as the words (two's
 * complement, bit 7 = sign, default bit 7), read exactly, and the voted int8 tensor feeds the
 * layer's DequantizeLinear, so onnxruntime still fuses it into QLinearConv. Only the planes are added.
 *
 * The tests check the graph's vote against `voteWords` on stored float32 words (test/helpers/harden.ts `voteBits`).
 */
import { A } from '../graph/builder.js';
import { FlipguardError, opt } from '../errors.js';
import { DataType, type Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor } from './graph-edit.js';
import { layerSites } from './layers.js';
import { bitTriples, checkRatio, chooseUnits, hardenedStages, type BitTriple, type StageRecord } from './common.js';
import type { WeightLayerReport } from './tmr-weights.js';
import { FLOAT_SPECS, floatOf } from './words.js';
import { dropUnread, wordCodec } from './formats.js';
import { isPlainFloat } from '../graph/stored.js';
import { decodeWord, wordFormat, wordView, type WordFormat } from '../graph/dtype.js';
import { DEFAULT_TMR_BITS_BY_FORMAT } from '../defaults.js';
import type { TensorData } from '../graph/types.js';

/** What the bits of each word format are (for error messages; graph/dtype.ts). */
const BIT_FIELDS: Readonly<Record<WordFormat, string>> = {
  float32: '0–22 mantissa, 23–30 exponent, 31 sign', float16: '0–9 mantissa, 10–14 exponent, 15 sign',
  bfloat16: '0–6 mantissa, 7–14 exponent, 15 sign', int8: 'two\'s complement, 7 = sign', uint8: 'unsigned', int32: 'two\'s complement, 31 = sign',
};

/** The unsigned stored words of a tensor (a copy; any word size). */
function storedWords(data: TensorData): Uint32Array {
  return Uint32Array.from(wordView(data));
}

export interface TmrBitOptions {
  /**
   * Bit positions to protect (float32: 0 = mantissa LSB … 30 = exponent top, 31 = sign; float16,
   * bfloat16: 0–15; int8: 0–7), distinct. Default per stored format: DEFAULT_TMR_BITS_BY_FORMAT.
   */
  bits?: readonly number[];
  /**
   * Share in [0, 1] of the conv/dense weights to protect, by `scores` (unit 'weight'). Undefined or
   * 1: every weight of every conv/dense layer (no ranking needed, no index stored).
   */
  ratio?: number;
  scores?: Scores;
  /** Take the ratio of every layer instead of a global top (default false). */
  perLayer?: boolean;
}

export interface BitTransformResult {
  model: Model;
  layers: WeightLayerReport[];
  stages: StageRecord[];
  triples: BitTriple[];
  /** Stored bits added (the two plane copies, padding included). */
  addedBits: number;
}

/** Checks a list of bit positions: whole numbers 0–31, at least one, no repeats; returns them ascending. */
export function checkBits(bits: readonly number[]): number[] {
  if (!Array.isArray(bits) || bits.length === 0) throw new FlipguardError(`The ${opt('bits')} list is empty; give the bit positions to protect, e.g. 30 or 30,29,31.`);
  for (const b of bits) if (!Number.isInteger(b) || b < 0 || b > 31) throw new FlipguardError(`The ${opt('bits')} entry ${String(b)} is not a bit position; float32 bits are numbered 0 (mantissa LSB) to 31 (sign).`);
  if (new Set(bits).size !== bits.length) throw new FlipguardError(`The ${opt('bits')} list ${bits.join(',')} repeats a position; give each bit once.`);
  return [...bits].sort((a, b) => a - b);
}

/** The packed planes of bits `bits` of `words[idx[j]]`: row i, word ⌊j/32⌋, bit j mod 32. */
export function packPlanes(words: Uint32Array, idx: ArrayLike<number> | null, bits: readonly number[]): Int32Array {
  const p = idx ? idx.length : words.length;
  const per = Math.ceil(p / 32);
  const out = new Int32Array(bits.length * per);
  bits.forEach((b, i) => {
    for (let j = 0; j < p; j++) if ((words[idx ? idx[j] : j] >>> b) & 1) out[i * per + (j >> 5)] |= 1 << (j & 31);
  });
  return out;
}

/** Critical-bit TMR; returns a new model (see the module comment). */
export function tmrBitsTransform(model: Model, opts: TmrBitOptions): BitTransformResult {
  const given = opts.bits === undefined ? undefined : checkBits(opts.bits);
  const all = opts.ratio === undefined || opts.ratio === 1;
  if (opts.ratio !== undefined) checkRatio(opts.ratio, 'ratio');
  const sites = layerSites(model);
  const wNames = sites.map((s) => s.weight.tensor.name);
  const counts = sites.map((s) => s.weight.tensor.data.length);
  const chosen = all ? counts.map((n) => Array.from({ length: n }, (_, j) => j)) : chooseUnits(sites, counts, { ratio: opts.ratio!, scores: opts.scores, perLayer: opts.perLayer }, 'weight', 'tmr-bits', "per-weight scores (unit 'weight', e.g. LRP relevance)");
  const ed = new GraphEditor(model);
  const layers: WeightLayerReport[] = [];
  const stages: StageRecord[] = [];
  const triples: BitTriple[] = [];
  const done = new Set<string>();
  let addedBits = 0;
  sites.forEach((site, i) => {
    const wName = wNames[i];
    const idx = chosen[i];
    layers.push({ name: site.name, weight: wName, weights: counts[i], protected: idx.length });
    if (!idx.length || done.has(wName)) return;
    done.add(wName);
    const w = site.weight.tensor;
    const plain = isPlainFloat(site.weight);
    const codec = plain ? undefined : wordCodec(site.weight);
    const format = codec?.format ?? 'float32';
    const bits = given ?? [...DEFAULT_TMR_BITS_BY_FORMAT[format as keyof typeof DEFAULT_TMR_BITS_BY_FORMAT]];
    const width = codec?.bits ?? 32;
    const bad = bits.find((b) => b >= width);
    if (bad !== undefined) throw new FlipguardError(`The ${opt('bits')} entry ${bad} is not a bit of the ${format} weight "${wName}" of layer "${site.name}"; ${format} words have bits 0–${width - 1} (${BIT_FIELDS[format]}).`);
    const k = bits.length;
    const u = storedWords(w.data);
    const p = idx.length;
    const full = p === w.data.length;
    const per = Math.ceil(p / 32);
    const planes = packPlanes(u, full ? null : idx, bits);
    // float32 weights become int32 words (see the module comment); other formats keep their stored tensor as the words
    const words = plain ? ed.init(`${wName}.tmrbits.words`, DataType.INT32, [...w.dims], new Int32Array(u.buffer)) : wName;
    const p2 = ed.init(`${wName}.tmrbits.plane2`, DataType.INT32, [k, per], planes);
    const p3 = ed.init(`${wName}.tmrbits.plane3`, DataType.INT32, [k, per], Int32Array.from(planes));
    const index = full ? undefined : ed.init(`${wName}.tmrbits.index`, DataType.INT32, [p], Int32Array.from(idx));
    addedBits += 2 * k * per * 32;
    if (plain) ed.graph.initializers.delete(wName);

    const e = ed.atStart();
    const i64 = (x: string): string => e.op('Cast', [x], { to: A.i(DataType.INT64) });
    const two32 = e.int64s('two32', [], [2 ** 32]);
    const two = e.int64s('i2', [], [2]);
    const flat = e.op('Reshape', [words, e.int64s('shape_flat', [1], [-1])]);
    // unsigned words in [0, 2^32) (Mod takes the divisor's sign for integers)
    const w64 = codec ? codec.words(e, flat) : e.op('Mod', [i64(flat), two32]);
    const wp = index ? e.op('Gather', [w64, index], { axis: A.i(0) }) : w64;
    const pow = e.int64s('bit_values', [k, 1], bits.map((b) => 2 ** b));
    const a = e.op('Mod', [e.op('Div', [e.op('Reshape', [wp, e.int64s('shape_row', [2], [1, -1])]), pow]), two]);
    // plane bit of weight j: bit (j mod 32) of word ⌊j/32⌋
    const j = e.op('Range', [e.int64s('zero', [], [0]), e.int64s('count', [], [p]), e.int64s('one', [], [1])]);
    const i32 = e.int64s('i32', [], [32]);
    const col = e.op('Div', [j, i32]);
    const shift = e.op('Gather', [e.int64s('pow2_32', [32], Array.from({ length: 32 }, (_, s) => 2 ** s)), e.op('Mod', [j, i32])], { axis: A.i(0) });
    const planeBits = (pl: string): string => e.op('Mod', [e.op('Div', [e.op('Gather', [e.op('Mod', [i64(pl), two32]), col], { axis: A.i(1) }), shift]), two]);
    const m = e.op('Div', [e.op('Add', [e.op('Add', [a, planeBits(p2)]), planeBits(p3)]), two]);
    const delta = e.op('ReduceSum', [e.op('Mul', [e.op('Sub', [m, a]), pow]), e.int64s('axis0', [1], [0])], { keepdims: A.i(0) });
    const voted = e.op('Add', [wp, delta]);
    const merged = index ? e.op('ScatterElements', [w64, index, voted], { axis: A.i(0) }) : voted;
    const out = e.op('Reshape', [codec ? codec.values(e, merged) : floatOf(e, merged), e.int64s('shape', [w.dims.length], w.dims)], {}, { out: ed.fresh(`${wName}.voted`) });
    const replaces = codec?.replaces ?? wName;
    for (const n of ed.graph.nodes) n.inputs = n.inputs.map((x) => (x === replaces ? out : x));
    for (const o of ed.graph.outputs) if (o.name === wName) throw new FlipguardError(`The weight "${wName}" is also a graph output; tmr-bits cannot replace it.`);
    triples.push({ weight: wName, words, planes: [p2, p3], bits, protected: p, ...(index ? { index } : {}) });
    stages.push({ kind: 'same', input: words, output: out });
  });
  return { model: { ...model, graph: dropUnread(ed.finish()) }, layers, stages, triples, addedBits };
}

/**
 * The bitwise vote of one triple in JavaScript, as the graph computes it: a copy of `words` in which
 * each protected bit of each protected weight is the majority of its three stored copies.
 */
export function voteWords(t: BitTriple, words: Uint32Array, planes: readonly [Uint32Array, Uint32Array], idx: ArrayLike<number> | null): Uint32Array {
  const w = Uint32Array.from(words);
  const [pa, pb] = planes;
  const per = Math.ceil(t.protected / 32);
  t.bits.forEach((b, i) => {
    for (let j = 0; j < t.protected; j++) {
      const at = idx ? idx[j] : j;
      const x = (w[at] >>> b) & 1, y = (pa[i * per + (j >> 5)] >>> (j & 31)) & 1, z = (pb[i * per + (j >> 5)] >>> (j & 31)) & 1;
      const maj = (x & y) | (x & z) | (y & z);
      if (maj !== x) w[at] = (w[at] ^ (1 << b)) >>> 0;
    }
  });
  return w;
}

/** The 32-bit words of a 4-byte-element typed array (no copy). */
export const wordsOf = (v: ArrayBufferView): Uint32Array => new Uint32Array(v.buffer, v.byteOffset, v.byteLength >> 2);

/** The stored formats a tmr-bits vote reads: float32 (as int32 words), float16/bfloat16 (through Cast), int8/uint8 (QDQ). */
export type VoteFormat = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8';

/** The vote format of a triple's stored words tensor, or undefined when tmr-bits does not store words that way. */
export function voteFormat(dataType: number): VoteFormat | undefined {
  if (dataType === DataType.INT32) return 'float32';
  const f = wordFormat(dataType);
  return f === 'float16' || f === 'bfloat16' || f === 'int8' || f === 'uint8' ? f : undefined;
}

/**
 * The words the graph votes of a stored words tensor (a copy): as stored, except that a
 * float16/bfloat16 NaN word reads as the format's canonical quiet NaN word (the graph reads those
 * words arithmetically from their float32 value: wordOf in harden/words.ts).
 */
export function votedInput(format: VoteFormat, data: TensorData): Uint32Array {
  const w = storedWords(data);
  if (format === 'float16' || format === 'bfloat16') {
    const f = FLOAT_SPECS[format];
    const exp = (2 ** f.E - 1) * 2 ** f.M, mant = 2 ** f.M - 1, qnan = exp + 2 ** (f.M - 1);
    for (let i = 0; i < w.length; i++) if ((w[i] & exp) === exp && (w[i] & mant) !== 0) w[i] = qnan;
  }
  return w;
}

/**
 * The tensor a layer reads of voted words: float32 values for the float formats, the float16 words
 * themselves for a layer that reads them directly (`half`: a native float16 model), the stored
 * integers for int8/uint8.
 */
export function votedValue(format: VoteFormat, words: Uint32Array, half = false): { dataType: number; data: TensorData } {
  if (half) return { dataType: DataType.FLOAT16, data: Uint16Array.from(words) };
  switch (format) {
    case 'float32': return { dataType: DataType.FLOAT, data: new Float32Array(words.buffer, words.byteOffset, words.length) };
    case 'float16': case 'bfloat16': return { dataType: DataType.FLOAT, data: Float32Array.from(words, (x) => decodeWord(format, x)) };
    case 'int8': return { dataType: DataType.INT8, data: Int8Array.from(words, (x) => (x << 24) >> 24) };
    case 'uint8': return { dataType: DataType.UINT8, data: Uint8Array.from(words) };
  }
}

/** A tmr-bits model with its votes taken out of the graph (see foldBitsModel). */
export interface BitFold {
  /** The model in which each vote's output is an initializer (the clean voted weight, as the layer reads it) and the vote nodes and stored copies are gone. */
  model: Model;
  /** `half`: the layer reads float16 words directly (native float16 model; the vote ends in a Cast to float16). */
  votes: { triple: BitTriple; value: string; index: Int32Array | null; format: VoteFormat; half: boolean }[];
}

/**
 * The graph a session of a tmr-bits model runs after onnxruntime has folded the votes: every vote
 * output (the value the layer reads) becomes an initializer holding the voted weight as the layer reads it, and the
 * nodes and tensors only the votes used are removed. A campaign then votes the faulted copies itself
 * (`voteWords`) and swaps the voted weights into this graph, instead of creating a session that
 * folds the vote on every trial. Returns undefined when the model has no triples or its metadata
 * does not describe its graph (missing or mis-sized tensors, a vote input read elsewhere): such a
 * model is simply run unfolded.
 */
export function foldBitsModel(model: Model): BitFold | undefined {
  const triples = bitTriples(model);
  if (!triples.length) return undefined;
  const g = model.graph;
  const stages = hardenedStages(model);
  const made = new Set(g.nodes.flatMap((n) => n.outputs));
  const inits = new Map(g.initializers);
  const stored = new Set<string>();
  const votes: BitFold['votes'] = [];
  for (const t of triples) {
    const words = g.initializers.get(t.words);
    const planes = t.planes.map((n) => g.initializers.get(n));
    const index = t.index !== undefined ? g.initializers.get(t.index) : undefined;
    const stage = stages.find((s) => s.kind === 'same' && s.input === t.words);
    const format = words && voteFormat(words.dataType);
    if (!words || !format || !planes || planes.length !== 2 || !stage || !made.has(stage.output) || g.initializers.has(stage.output)) return undefined;
    const n = words.data.length, p = t.protected;
    if (!Array.isArray(t.bits) || !t.bits.length || t.bits.some((b) => !Number.isInteger(b) || b < 0 || b >= 8 * words.data.BYTES_PER_ELEMENT) || new Set(t.bits).size !== t.bits.length) return undefined;
    if (!Number.isInteger(p) || p < 1 || p > n || (t.index === undefined && p !== n)) return undefined;
    if (planes.some((pl) => !pl || pl.dataType !== DataType.INT32 || pl.data.length !== t.bits.length * Math.ceil(p / 32))) return undefined;
    let idx: Int32Array | null = null;
    if (t.index !== undefined) {
      if (!index || index.dataType !== DataType.INT32 || index.data.length !== p) return undefined;
      idx = index.data as Int32Array;
      for (let j = 0; j < p; j++) if (idx[j] < 0 || idx[j] >= n || (j > 0 && idx[j] <= idx[j - 1])) return undefined;
    }
    const voted = voteWords(t, votedInput(format, words.data), [wordsOf(planes[0]!.data), wordsOf(planes[1]!.data)], idx);
    // native float16: the vote's output is Reshape(Cast(…, to float16))
    const reshape = g.nodes.find((x) => x.outputs.includes(stage.output));
    const cast = reshape && g.nodes.find((x) => x.outputs.includes(reshape.inputs[0]));
    const half = format === 'float16' && cast?.opType === 'Cast' && cast.attributes.to?.type === 'int' && cast.attributes.to.value === DataType.FLOAT16;
    inits.set(stage.output, { name: stage.output, dims: [...words.dims], ...votedValue(format, voted, half) });
    for (const x of [t.words, ...t.planes, ...(t.index !== undefined ? [t.index] : [])]) stored.add(x);
    votes.push({ triple: t, value: stage.output, index: idx, format, half });
  }
  // keep the nodes some graph output still needs (one reverse pass: nodes are in topological order)
  const need = new Set(g.outputs.map((o) => o.name));
  const kept: typeof g.nodes = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i];
    if (!node.outputs.some((o) => need.has(o) && !inits.has(o))) continue;
    kept.unshift(node);
    for (const x of node.inputs) if (x) need.add(x);
  }
  if ([...stored].some((x) => need.has(x)) || votes.some((v) => g.outputs.some((o) => o.name === v.value))) return undefined;
  for (const name of [...inits.keys()]) if (!need.has(name)) inits.delete(name);
  return { model: { ...model, graph: { ...g, nodes: kept, initializers: inits } }, votes };
}
