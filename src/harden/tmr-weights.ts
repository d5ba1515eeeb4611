/**
 * Paper B: selective weight TMR (SPEC §4.3). The top p of conv/dense weights by a per-weight score
 * (unit 'weight', e.g. LRP relevance; global ranking by default, `perLayer` for p of every layer)
 * are stored three times; before use each protected weight is the bitwise majority
 * (a & b) | (a & c) | (b & c) of its three 32-bit words.
 *
 * Storage (all float32 initializers, so faults hit every stored word):
 * - copy 1: the layer's own weight tensor, unchanged (it also holds the unprotected weights);
 * - copies 2 and 3: `<weight>.tmr.copy2` / `.copy3`, shape [p_l], the protected elements in
 *   ascending flat-index order; `<weight>.tmr.index` (int32 [p_l]) holds those indices.
 * Memory overhead = 2·protected / total parameters (plus 4 bytes of index per protected weight in
 * stored bytes).
 *
 * The vote, inside the graph (standard ONNX, opset ≥ 13). ONNX has no float↔int bit
 * reinterpretation before opset 26 (BitCast), and Cast converts values, so words are handled
 * arithmetically:
 *   1. copies that are bit-identical (Equal, plus Equal of reciprocals so that +0 and −0 count as
 *      different) decide: when two agree, their word IS the bitwise majority. The choice is made
 *      by index (GatherElements), which copies words exactly — onnxruntime's Where turns a
 *      selected −0 into +0, and its Neg computes 0 − x.
 *   2. where all three differ, the word-level majority: each float is decomposed into sign,
 *      exponent field and mantissa field in float64 (exponent from Log, corrected by ±1 against
 *      exact power-of-two tables; mantissa = |x|·2^(150−e) − 2^23; all exact), the three words are
 *      voted 4 bits at a time through a 4096-entry majority table (int64 Div/Mod/Gather), and the
 *      voted word becomes a float again (mantissa·2^(e−150) with exact power-of-two tables, ±Inf,
 *      NaN; the sign by multiplying by ±1), scattered into place (ScatterElements).
 *      ONNX's NonZero would pick the three-way disagreements, but its data-dependent shape stops
 *      onnxruntime's constant folding; TopK has a static shape, so up to `exactBudget` of them per
 *      tensor (default 1024 + ⌈p_l/64⌉) are picked by TopK and voted word by word; beyond the
 *      budget the median of the three values is used.
 * Result: the bitwise majority of the stored words, bit for bit, except (a) a copy that holds a
 * NaN and takes part in a three-way disagreement: arithmetic cannot read a NaN's sign or payload,
 * so it is taken as the quiet NaN word 0x7FC00000 and the voted word can differ from the true
 * majority in sign/mantissa bits where the other two copies disagree (needs two corrupted copies
 * of one weight, one with every exponent bit set); (b) a voted word that is a NaN comes out as
 * 0x7FC00000 (a NaN, other payload); (c) more than `exactBudget` three-way disagreements in one
 * tensor (median beyond). Verified against `voteWeights` on random multi-copy corruptions,
 * signed zeros, subnormals and infinities (test/harden-faults.test.ts).
 * Every op is constant-foldable and all inputs are initializers, so onnxruntime folds the whole
 * vote into the weight when the session is created — after fault injection, which edits the
 * stored bytes — and inference runs the layer exactly as before (same prepacked kernels: no time
 * overhead, logits bit-equal to the original's). The price is paid at session creation: for
 * full-width VGG-16 with 10% (3.4 M) weights protected, ~2.4 s instead of 0.3 s and ~1.3 GB extra
 * memory while folding. With graph optimisations disabled the vote runs on every inference and the
 * layers get a computed (not prepacked) weight: logits then agree to float rounding only.
 *
 * `voteWeights` does the vote in JavaScript on the stored words (bit-exact, NaNs included):
 * campaigns can inject into all three copies and resolve them per trial, and tests compare both.
 */
import { A } from '../graph/builder.js';
import { FlipguardError } from '../errors.js';
import { DataType, type Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor, type Emitter } from './graph-edit.js';
import { layerSites } from './layers.js';
import { chooseUnits, hardenedInfo, type StageRecord, type WeightTriple } from './common.js';

export interface TmrWeightOptions {
  /** Share p in [0, 1] of the conv/dense weights to protect. */
  ratio: number;
  /** Per-weight scores (unit 'weight', ONNX flat order of each layer's weight tensor); required when p > 0. */
  scores?: Scores;
  /** Protect p of every layer's weights (default false: global top p over all layers). */
  perLayer?: boolean;
  /**
   * Per weight tensor, how many three-way disagreements get the exact word-level vote in the
   * graph (default 1024 + ⌈p_l/64⌉, capped at p_l; beyond it: the median). The word-level vote
   * costs ~100 elementwise ops per budgeted element at session creation.
   */
  exactBudget?: number;
}

export interface WeightLayerReport {
  name: string;
  weight: string;
  /** Elements of the weight tensor. */
  weights: number;
  protected: number;
}

export interface WeightTransformResult {
  model: Model;
  layers: WeightLayerReport[];
  stages: StageRecord[];
  triples: WeightTriple[];
  /** Protected flat indices per layer, ascending. */
  indices: Map<string, number[]>;
}

import { FLOAT32, FLOAT_SPECS, floatOf, majorityWord, wordOf, type FloatSpec } from './words.js';
import { dropUnread, wordCodec } from './formats.js';
import { isPlainFloat, reorderAxis } from '../graph/stored.js';

/** Default number of elements per tensor given the exact word-level vote (see `exactBudget`). */
export function defaultExactBudget(p: number): number {
  return Math.min(p, 1024 + Math.ceil(p / 64));
}

/**
 * Sub-graph: the bitwise majority of three float32 vectors a, b, c [p].
 * - Where two copies are bit-identical, that copy (exact).
 * - The elements where all three differ are picked by TopK (up to `budget` of them; TopK, unlike
 *   NonZero, has a static output shape, so onnxruntime can still constant-fold everything) and
 *   get the exact word-level majority (wordOf → majorityWord → floatOf), scattered into place.
 * - Beyond the budget (more than `budget` three-way disagreements in one tensor) the median of the
 *   three values is used.
 */
export function bitwiseVote(e: Emitter, a: string, b: string, c: string, p: number, budget = defaultExactBudget(p), f: FloatSpec = FLOAT32): string {
  const [ra, rb, rc] = [a, b, c].map((x) => e.op('Reciprocal', [x]));
  const same = (x: string, y: string, rx: string, ry: string): string => e.and(e.eq(x, y), e.eq(rx, ry));
  const pick = e.or(same(a, b, ra, rb), same(a, c, ra, rc));
  const sbc = same(b, c, rb, rc);
  const median = e.max(e.min(a, b), e.min(e.max(a, b), c));
  // select by index (GatherElements copies words exactly; Where would turn a selected −0 into +0)
  const which = e.where(pick, e.int64s('zero_i', [], [0]), e.where(sbc, e.int64s('one_i', [], [1]), e.int64s('two_i', [], [2])));
  const row = e.int64s('shape_row', [2], [1, -1]);
  const stack = e.op('Concat', [a, b, median].map((x) => e.op('Reshape', [x, row])), { axis: A.i(0) });
  const v0 = e.op('Reshape', [e.op('GatherElements', [stack, e.op('Reshape', [which, row])], { axis: A.i(0) }), e.int64s('shape_flat', [1], [-1])]);
  const k = Math.min(p, Math.max(0, Math.floor(budget)));
  if (k === 0) return v0;
  const differ = e.op('Cast', [e.not(e.or(pick, sbc))], { to: A.i(DataType.FLOAT) });
  const sel = e.editor.fresh('tmr_select');
  e.node('TopK', [differ, e.int64s('k', [1], [k])], { axis: A.i(0), largest: A.i(1), sorted: A.i(0) }, [e.editor.fresh('tmr_select_values'), sel]);
  const g = (x: string): string => e.op('Gather', [x, sel], { axis: A.i(0) });
  const voted = floatOf(e, majorityWord(e, wordOf(e, g(a), f), wordOf(e, g(b), f), wordOf(e, g(c), f), 1 + f.E + f.M), f);
  return e.op('ScatterElements', [v0, sel, voted], { axis: A.i(0) });
}

/** Selective weight TMR; returns a new model (see the module comment). */
export function tmrWeightsTransform(model: Model, opts: TmrWeightOptions): WeightTransformResult {
  const sites = layerSites(model);
  const wNames = sites.map((s) => s.weight.tensor.name);
  const counts = sites.map((s) => s.weight.tensor.data.length);
  const chosen = chooseUnits(sites, counts, opts, 'weight', 'tmr-weights', "per-weight scores (unit 'weight', e.g. LRP relevance)");
  const ed = new GraphEditor(model);
  const layers: WeightLayerReport[] = [];
  const stages: StageRecord[] = [];
  const triples: WeightTriple[] = [];
  const indices = new Map<string, number[]>();
  const done = new Set<string>();
  sites.forEach((site, i) => {
    const wName = wNames[i];
    const idx = chosen[i];
    layers.push({ name: site.name, weight: wName, weights: counts[i], protected: idx.length });
    indices.set(site.name, idx);
    if (!idx.length || done.has(wName)) return;
    done.add(wName);
    const w = site.weight.tensor;
    const plain = isPlainFloat(site.weight);
    // copies 2 and 3 in the weight's own format (float16 words, int8 words, …)
    const vals = reorderAxis(w.dataType, w.data, [w.data.length], 0, idx).data;
    const index = ed.init(`${wName}.tmr.index`, DataType.INT32, [idx.length], Int32Array.from(idx));
    const c2 = ed.init(`${wName}.tmr.copy2`, w.dataType, [idx.length], vals);
    const c3 = ed.init(`${wName}.tmr.copy3`, w.dataType, [idx.length], vals.slice());
    const e = ed.atStart();
    const flat = e.op('Reshape', [wName, e.int64s('shape_flat', [1], [-1])]);
    const a = e.op('Gather', [flat, index], { axis: A.i(0) });
    let voted: string, base = flat, replaces = wName;
    if (plain) {
      voted = bitwiseVote(e, a, c2, c3, idx.length, opts.exactBudget === undefined ? undefined : opts.exactBudget);
    } else {
      const codec = wordCodec(site.weight);
      if (codec.bits === 8) {
        // integer words: the bitwise majority of every protected word, exact
        voted = codec.values(e, majorityWord(e, codec.words(e, a), codec.words(e, c2), codec.words(e, c3), 8));
      } else {
        // 16-bit floats: voted on their float32 values (exact), word by word where all three differ
        const f32 = (x: string): string => e.op('Cast', [x], { to: A.i(DataType.FLOAT) });
        voted = bitwiseVote(e, f32(a), f32(c2), f32(c3), idx.length, opts.exactBudget, FLOAT_SPECS[codec.format as 'float16']);
        // a native float16 layer reads float16: the voted values go back to their words (exact)
        if (codec.reads === DataType.FLOAT16) voted = e.op('Cast', [voted], { to: A.i(DataType.FLOAT16) });
        else base = f32(flat);
      }
      replaces = codec.replaces;
    }
    const merged = e.op('ScatterElements', [base, index, voted], { axis: A.i(0) });
    const out = e.op('Reshape', [merged, e.int64s('shape', [w.dims.length], w.dims)], {}, { out: ed.fresh(`${wName}.voted`) });
    for (const n of ed.graph.nodes) n.inputs = n.inputs.map((x) => (x === replaces ? out : x));
    triples.push({ weight: wName, index, copies: [c2, c3] });
    stages.push({ kind: 'same', input: wName, output: out });
  });
  return { model: { ...model, graph: dropUnread(ed.finish()) }, layers, stages, triples, indices };
}

// ── the same vote in JavaScript, on stored words ──

/** Bitwise majority (a & b) | (a & c) | (b & c) of three 32-bit words, as an unsigned word. */
export function majority32(a: number, b: number, c: number): number {
  return ((a & b) | (a & c) | (b & c)) >>> 0;
}

/**
 * Resolves the three stored copies of every protected weight of a tmr-weights model by bitwise
 * majority on their 32-bit words — exactly what SPEC §4.3 prescribes, NaN payloads included.
 * `params` overrides stored tensors (e.g. faulted copies from a campaign trial); missing ones are
 * read from the model. Returns, for each protected weight tensor, the voted full tensor (what the
 * layer computes with). The inputs are not modified.
 */
export function voteWeights(model: Model, params: ReadonlyMap<string, Float32Array> = new Map()): Map<string, Float32Array> {
  const info = hardenedInfo(model);
  if (!info || !info.weights) throw new FlipguardError('The model is not a tmr-weights hardened model (no weight triples in its flipguard.hardened metadata); harden it with method tmr-weights first.');
  const get = (n: string): Float32Array => {
    const p = params.get(n);
    if (p) return p;
    const t = model.graph.initializers.get(n);
    if (!t || t.dataType !== DataType.FLOAT) throw new FlipguardError(`The tmr-weights model has no float32 tensor "${n}"; the model was edited after hardening.`);
    return t.data as Float32Array;
  };
  const out = new Map<string, Float32Array>();
  for (const t of info.weights) {
    const w = new Float32Array(get(t.weight));
    const idxT = model.graph.initializers.get(t.index);
    if (!idxT) throw new FlipguardError(`The tmr-weights model has no index tensor "${t.index}"; the model was edited after hardening.`);
    const idx = idxT.data as Int32Array;
    const u = new Uint32Array(w.buffer);
    const b = get(t.copies[0]), c = get(t.copies[1]);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length), uc = new Uint32Array(c.buffer, c.byteOffset, c.length);
    for (let j = 0; j < idx.length; j++) u[idx[j]] = majority32(u[idx[j]], ub[j], uc[j]);
    out.set(t.weight, w);
  }
  return out;
}
