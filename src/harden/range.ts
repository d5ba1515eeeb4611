/**
 * Range restriction placed for speed (SPEC §4.1 "Placement" and "Saturation mode"): the `ranger`
 * check moved from the conv output to behind the layer's batch norm ('after-bn') or behind its
 * batch norm and ReLU ('after-act'), so that onnxruntime still fuses Conv + BatchNormalization
 * (+ ReLU, + Clip) into one kernel.
 *
 * The detection intervals are profiled on the conv output (paper A). Per channel c they are carried
 * through the batch norm y = s·x + t (s = γ/√(σ² + ε), t = β − μ·s) — [L, U] → [s·L + t, s·U + t],
 * bounds swapped when s < 0 — and, for 'after-act', through the ReLU (both bounds → max(0, ·)).
 * The replacement value follows too: "→ 0" before the batch norm is "→ t" behind it (and
 * "→ max(0, t)" behind the ReLU). The mapping is done in float64 and rounded outward to float32
 * with a relative slack of 2^-20 (about 1e-6) so that onnxruntime's fused float32 arithmetic cannot
 * push a value that was inside its interval by an ulp across the bound.
 *
 * Modes (for the out-of-range values):
 * - 'zero' (paper A, case E): `Where(L ≤ y ≤ U, y, fill)`; a NaN fails both comparisons and is
 *   replaced too. Behind the ReLU the lower comparison is dropped when every lower bound is 0
 *   (the ReLU already guarantees it).
 *   'after-bn' zeroing whose batch-norm output is read only by a ReLU moves behind that ReLU
 *   (issue 14) on every layer where, for each channel, the fill t ≤ 0 or the lower bound L > 0:
 *   then ReLU(Where(L ≤ y ≤ U, y, t)) = Where(L ≤ r ≤ U, r, max(0, t)) with r = ReLU(y), for every
 *   y including NaN and ±Inf — a value below L ≤ 0 gives ReLU 0 = max(0, t) either way, a value
 *   below L > 0 leaves r < L, an upper bound < 0 fails every r ≥ 0 and gives 0 as ReLU(y ≤ U)
 *   does. Same outputs, but onnxruntime keeps Conv+BN+ReLU fused, and with every L ≤ 0 the stage
 *   is one compare and one Where. A channel with t > 0 and L ≤ 0 needs the check in front of the
 *   ReLU (a value below L must become t, which r no longer tells from a clean negative y): on
 *   trained batch norms about half the channels have t > 0, so this applies to layers without
 *   batch norm (fill 0: LeNet-5, AlexNet's convs 3–5, the dense layers), not to VGG/ResNet convs.
 * - 'saturate' (Ranger): clamped to the nearest bound. With per-layer bounds (`bounds: 'layer'`:
 *   one [min L, max U] per layer, as the Ranger tool does) this is one `Clip`, which onnxruntime
 *   fuses into the conv; per-channel bounds are `Max(y, L)` and `Min(·, U)` with [1, C, 1, 1]
 *   constants (Max dropped when it cannot change anything: every lower bound 0 behind a ReLU).
 *
 * Exactness: saturation commutes with every non-decreasing map (f(clamp(x, L, U)) =
 * clamp(f(x), f(L), f(U))), so 'saturate' gives the same values in every placement (up to float32
 * rounding of the mapped bounds). 'zero' behind the batch norm is exact the same way (equality of
 * the selections, "→ t"), but behind a ReLU it no longer sees values below the lower bound (the
 * ReLU has already made them 0) and replaces with max(0, t) — a different method, whose protection
 * is measured (bench/RESULTS.md) rather than assumed.
 *
 * NaN: 'zero' replaces a NaN by the fill value in every placement (it fails both comparisons).
 * 'saturate' behind the batch norm follows the Ranger tool (a clamp): onnxruntime's Clip, Max and Min
 * propagate NaN, so a NaN stays NaN (test/harden-placement.test.ts records it); the campaign's DUE
 * rate shows what that costs. (At the paper placement, saturation keeps EDAC's NaN → 0 first.)
 *
 * Bounds, fill values are float32 initializers (`<layer>.range.lower`, `.upper`, `.fill`), so faults
 * reach them, as paper A's fault model asks for the interval bounds. On a native float16 model they
 * are float16 words (outward16: a wider slack for float16 batch-norm rounding), read as float32 by
 * the check, which computes in float32 (stages.ts float32Stage).
 */
import { A, consumers, producers, attrFloat, attrInt } from '../graph/builder.js';
import { storedParam } from '../graph/stored.js';
import { FlipguardError, opt } from '../errors.js';
import { DataType, type Graph, type Model, type Node } from '../graph/types.js';
import { float32Stage } from './stages.js';
import { finiteClip, guardParam, fusedZero } from './fused-check.js';
import { decodeTensor, float16Toward, float16ToNumber, numberToFloat16 } from '../graph/dtype.js';
import { GraphEditor } from './graph-edit.js';
import { layerSites, widenSite, type LayerSite } from './layers.js';
import { widenParam } from './formats.js';
import type { StageRecord } from './common.js';
import type { ChannelLayerReport, TransformResult } from './edac.js';
import type { Intervals } from './profile.js';

/** What happens to an out-of-interval value: replaced by 0 (paper A) or clamped to the bound (Ranger). */
export type RangeMode = 'zero' | 'saturate';
/** Where the check sits: at the conv output (paper A), behind the batch norm, or behind batch norm and ReLU. */
export type Placement = 'paper' | 'after-bn' | 'after-act';
/** One interval per output channel (paper A) or one per layer (Ranger). */
export type RangeBounds = 'channel' | 'layer';

export const RANGE_MODES: readonly RangeMode[] = ['zero', 'saturate'];
export const PLACEMENTS: readonly Placement[] = ['paper', 'after-bn', 'after-act'];
export const RANGE_BOUNDS: readonly RangeBounds[] = ['channel', 'layer'];
/** How the zeroing check is built: compare + Where (NaN → fill) or fused into onnxruntime's NCHWc kernels (NaN passes; fused-check.ts). */
export type RangeCheck = 'exact' | 'fused';
export const RANGE_CHECKS: readonly RangeCheck[] = ['exact', 'fused'];

/** An inference-mode BatchNormalization reading the layer's tap, as per-channel s and t (float64). */
export interface AffineBn {
  node: Node;
  s: Float64Array;
  t: Float64Array;
  /** |s·μ| + |β| per channel: with |s·x| the size of the terms float32 batch-norm arithmetic rounds (t itself may cancel to ≈ 0). */
  k: Float64Array;
}

/** The n values of a float32 or float16 (native model) initializer, or undefined. */
function floats(g: Graph, name: string | undefined, n: number): Float32Array | Float64Array | undefined {
  const t = name ? g.initializers.get(name) : undefined;
  if (!t || t.data.length !== n) return undefined;
  return t.dataType === DataType.FLOAT ? (t.data as Float32Array) : t.dataType === DataType.FLOAT16 ? decodeTensor(t.dataType, t.data) : undefined;
}

/** The batch norm that is the only reader of `value` (with C-channel initializer parameters), as y = s·x + t. */
export function affineBatchNorm(g: Graph, readers: Map<string, Node[]>, value: string, C: number): AffineBn | undefined {
  const r = readers.get(value) ?? [];
  if (r.length !== 1 || r[0].opType !== 'BatchNormalization' || r[0].inputs[0] !== value) return undefined;
  const bn = r[0];
  if (attrInt(bn, 'training_mode', 0) !== 0 || bn.outputs.filter(Boolean).length !== 1) return undefined;
  const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map((n) => floats(g, n, C));
  if (!gamma || !beta || !mean || !variance) return undefined;
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  const s = new Float64Array(C), t = new Float64Array(C), k = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
    t[c] = beta[c] - mean[c] * s[c];
    k[c] = Math.abs(mean[c] * s[c]) + Math.abs(beta[c]);
  }
  return { node: bn, s, t, k };
}

/**
 * `x` rounded to float32 and moved outward (down for 'lo', up for 'hi') by 2^-20 of `size`: the
 * magnitude of the terms that float32 arithmetic rounded to get x (default |x|). Behind a batch
 * norm that is |s·v| + |s·μ| + |β|, not |s·v + t|: the sum can cancel to near 0 while the rounding
 * error of onnxruntime's float32 batch norm stays a few ulps of its terms.
 */
function outward(x: number, dir: 'lo' | 'hi', size = Math.abs(x)): number {
  const slack = Math.max(size, Math.abs(x)) * 2 ** -20;
  return Math.fround(dir === 'lo' ? x - slack : x + slack);
}

/**
 * The bounds of a float16 layer (native float16 model) as float16 words: moved outward by 2^-8 of
 * the rounded terms' size — float16 batch-norm arithmetic rounds to 2^-11 of its terms, a few
 * times — then rounded outward to float16, so no fault-free value crosses its bound.
 */
function outward16(x: number, dir: 'lo' | 'hi', size = Math.abs(x)): number {
  const slack = Math.max(size, Math.abs(x)) * 2 ** -8;
  return float16Toward(dir === 'lo' ? x - slack : x + slack, dir === 'lo' ? 'down' : 'up');
}

/** The interval [l, u] of a channel carried through batch norm channel c, with the rounding size of each bound. */
function throughBn(bn: AffineBn, c: number, l: number, u: number): { lo: number; hi: number; loSize: number; hiSize: number } {
  const a = bn.s[c] * l + bn.t[c], b = bn.s[c] * u + bn.t[c];
  const sa = Math.abs(bn.s[c] * l) + bn.k[c], sb = Math.abs(bn.s[c] * u) + bn.k[c];
  return a <= b ? { lo: a, hi: b, loSize: sa, hiSize: sb } : { lo: b, hi: a, loSize: sb, hiSize: sa };
}

/** Carries per-channel bounds (in place) through the batch norm; the sizes of their rounding and the fill ("→ 0" becomes "→ t") with them. */
function carryThroughBn(bn: AffineBn, lo: Float64Array, hi: Float64Array, loSize: Float64Array, hiSize: Float64Array, fill: Float64Array): void {
  for (let c = 0; c < lo.length; c++) {
    const m = throughBn(bn, c, lo[c], hi[c]);
    lo[c] = m.lo; hi[c] = m.hi; loSize[c] = m.loSize; hiSize[c] = m.hiSize; fill[c] = bn.t[c];
  }
}

/** A layer's group as a channel method widens it behind the conv (widenGroup). */
export interface WidenedGroup {
  /** The group's widened output [N, C + copies, …] (behind the batch norm / ReLU when they were widened too). */
  wide: string;
  /** The name the stage must produce (the group's original output). */
  out: string;
  /** The last node of the widened group: the stage goes right after it. */
  anchor: Node;
  /** The widened batch norm, as y = s·x + t of the original C channels. */
  bn?: AffineBn;
  /** Whether the ReLU behind it now reads the widened values too. */
  relu: boolean;
}

/**
 * Widens a layer for a channel method (layers.ts widenSite) and, for 'after-bn' / 'after-act',
 * the batch norm that alone reads it (+ the ReLU that alone reads that): the copies get their own
 * batch-norm parameters (γ, β, μ, σ² of the protected channels appended, stored words of their
 * own, so a fault in one is caught by the comparison) and run through the same BatchNormalization
 * (+ Relu) node, so onnxruntime fuses Conv+BN(+ReLU) over all C + copies channels and the stage
 * sits behind the fused kernel. Fault-free, a copy stays bit-identical to its original (same
 * kernel, same folded weights). 'paper', or a layer without such a batch norm / ReLU: the stage
 * stays where it was (the conv output).
 */
export function widenGroup(ed: GraphEditor, site: LayerSite, copies: readonly (readonly number[])[], placement: Placement): WidenedGroup {
  const g = ed.graph;
  const readers = consumers(g);
  const C = site.channels;
  const isOutput = (v: string): boolean => g.outputs.some((o) => o.name === v);
  // a float16 layer (native float16 model) keeps the conv-output placement: its batch norm rounds
  // to float16, for which the bounds carried here (float32 slack) are not made
  const paper = placement === 'paper' || site.dtype === DataType.FLOAT16;
  const bn = paper || isOutput(site.tap) ? undefined : affineBatchNorm(g, readers, site.tap, C);
  const { wide, out } = widenSite(ed, site, copies);
  let group: WidenedGroup = { wide, out, anchor: g.nodes[site.tapIndex], relu: false };
  const order = [...Array.from({ length: C }, (_, c) => c), ...copies.flat()];
  /** `node` reads the widened values and writes widened ones; its old output is what the stage must produce now. */
  const extend = (node: Node): void => {
    node.inputs[0] = group.wide;
    const o = node.outputs[0];
    node.outputs[0] = ed.fresh(`${o}.wide`);
    g.valueInfo = g.valueInfo.filter((v) => v.name !== o);
    group = { ...group, wide: node.outputs[0], out: o, anchor: node };
  };
  if (bn) {
    const prod = producers(g);
    const params = bn.node.inputs.slice(1, 5);
    params.forEach((name, i) => widenParam(ed, bn.node, i + 1, storedParam(g, name, prod)!, 0, order));
    if (g.initializerInputs) g.initializerInputs = g.initializerInputs.filter((v) => !params.includes(v.name));
    extend(bn.node);
    group.bn = bn;
  }
  const relu = placement === 'after-act' && !paper ? soleRelu(g, consumers(g), group.out) : undefined;
  if (relu) { extend(relu); group.relu = true; }
  return group;
}

/**
 * Per-channel detection bounds profiled at the conv output (paper A) and its "→ 0" fill, carried
 * through a widened group's batch norm (+ ReLU): float32 [L, U] rounded outward as for ranger,
 * and the fill (t, or max(0, t) behind the ReLU). Without either, the bounds as given and fill 0.
 */
export function groupBounds(group: Pick<WidenedGroup, 'bn' | 'relu'>, lower: Float32Array, upper: Float32Array): { lower: Float32Array; upper: Float32Array; fill: Float32Array } {
  const C = lower.length;
  const lo = Float64Array.from(lower), hi = Float64Array.from(upper), fill = new Float64Array(C);
  const loSize = new Float64Array(C), hiSize = new Float64Array(C);
  if (!group.bn && !group.relu) return { lower, upper, fill: new Float32Array(C) };
  if (group.bn) carryThroughBn(group.bn, lo, hi, loSize, hiSize, fill);
  if (group.relu) for (let c = 0; c < C; c++) { lo[c] = Math.max(0, lo[c]); hi[c] = Math.max(0, hi[c]); fill[c] = Math.max(0, fill[c]); }
  return {
    lower: Float32Array.from(lo, (x, c) => outward(x, 'lo', loSize[c])),
    upper: Float32Array.from(hi, (x, c) => outward(x, 'hi', hiSize[c])),
    fill: Float32Array.from(fill),
  };
}

/** The group's "→ 0" fill without intervals (edac-nointervals, tmr-channels: NaN → fill): t behind the batch norm, max(0, t) behind the ReLU. */
export function groupFill(group: Pick<WidenedGroup, 'bn' | 'relu'>, C: number): Float32Array {
  return groupBounds(group, new Float32Array(C), new Float32Array(C)).fill;
}

/** The stage's fill value: the scalar `zero` when every channel's is 0, else a float32 initializer (faults reach it, as the bounds). */
export function stageFill(ed: GraphEditor, name: string, dims: number[], fill: Float32Array, zero: string): string {
  return fill.every((x) => x === 0) ? zero : ed.init(name, DataType.FLOAT, dims, fill);
}

export interface RangeOptions {
  intervals: Intervals;
  mode?: RangeMode;
  /** 'after-bn' or 'after-act' ('paper' is edacTransform's case E). */
  placement: Exclude<Placement, 'paper'>;
  bounds?: RangeBounds;
  /** Relative widening of every interval on each side, before the mapping (default 0). */
  margin?: number;
  /**
   * 'after-bn' zeroing: move the check behind the ReLU on layers where that gives the same outputs
   * (default true; false keeps it in front of the ReLU everywhere — for tests comparing the two).
   */
  exactBehindRelu?: boolean;
  /**
   * 'zero' on float conv layers: 'exact' (default) — `Where(L ≤ y ≤ U, y, fill)`, NaN → fill — or 'fused'
   * — the same for every finite value from ops onnxruntime keeps fused in its NCHWc layout, a NaN
   * passing through (fused-check.ts). Dense layers, native float16 and int8 layers always use 'exact'.
   */
  check?: RangeCheck;
}

/** The ReLU that is the only reader of `value` (which is no graph output), if there is one. */
function soleRelu(g: Graph, readers: Map<string, Node[]>, value: string): Node | undefined {
  const r = readers.get(value) ?? [];
  if (r.length !== 1 || r[0].opType !== 'Relu' || g.outputs.some((o) => o.name === value)) return undefined;
  return r[0];
}

/** Range restriction behind the batch norm (+ ReLU) of every conv/dense layer; see the module comment. */
export function rangeTransform(model: Model, opts: RangeOptions): TransformResult {
  const mode = opts.mode ?? 'zero';
  const bounds = opts.bounds ?? 'channel';
  const margin = opts.margin ?? 0;
  if (!RANGE_MODES.includes(mode)) throw new FlipguardError(`The ${opt('mode')} "${String(mode)}" is unknown; use zero or saturate.`);
  if (!RANGE_BOUNDS.includes(bounds)) throw new FlipguardError(`The ${opt('bounds')} "${String(bounds)}" is unknown; use channel or layer.`);
  if (opts.check !== undefined && !RANGE_CHECKS.includes(opts.check)) throw new FlipguardError(`The ${opt('check')} "${String(opts.check)}" is unknown; use ${RANGE_CHECKS.join(' or ')}.`);
  if (opts.check === 'fused' && mode !== 'zero') throw new FlipguardError(`The fused range check builds the zeroing mode; saturation with per-layer bounds is already one fused Clip, so use ${opt('check')} exact with saturate.`);
  if (opts.placement !== 'after-bn' && opts.placement !== 'after-act') throw new FlipguardError(`The ${opt('placement')} "${String(opts.placement)}" is unknown here; use after-bn or after-act (paper is the EDAC stage's own).`);
  const sites = layerSites(model);
  const ed = new GraphEditor(model);
  const g = ed.graph;
  const readers = consumers(g);
  const layers: ChannelLayerReport[] = [];
  const stages: StageRecord[] = [];
  for (const site of sites) {
    const C = site.channels;
    layers.push({ name: site.name, kind: site.kind, channels: C, protected: 0, indices: [], copies: 1 });
    const iv = opts.intervals.get(site.name);
    if (!iv || iv.lower.length !== C || iv.upper.length !== C) {
      throw new FlipguardError(`The detection intervals for layer "${site.name}" are missing or do not have ${C} channels; profile them for this model (profileIntervals on the training split).`);
    }
    const lo = new Float64Array(C), hi = new Float64Array(C), fill = new Float64Array(C);
    const loSize = new Float64Array(C), hiSize = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const l = iv.lower[c], u = iv.upper[c];
      if (!(l <= u)) throw new FlipguardError(`The detection interval of channel ${c} of layer "${site.name}" is [${l}, ${u}], which is empty or NaN; re-profile the intervals on data the model runs cleanly on.`);
      const w = (u - l) * margin;
      lo[c] = l - w; hi[c] = u + w;
    }
    // walk the layer's group: tap → batch norm → ReLU
    let value = site.tap;
    const bn = affineBatchNorm(g, readers, value, C);
    if (bn) {
      carryThroughBn(bn, lo, hi, loSize, hiSize, fill);
      value = bn.node.outputs[0];
    }
    let afterRelu = false;
    const relu = soleRelu(g, readers, value);
    // zeroing behind the batch norm moves behind the ReLU where that is the same method (see the
    // module comment): every channel's fill ≤ 0 or lower bound > 0
    const sameBehindRelu = (): boolean => {
      if (site.dtype === DataType.FLOAT16) return false; // float16 bounds round differently: not decided here
      const Lf = Array.from(lo, (x, c) => outward(x, 'lo', loSize[c]));
      const Lmin = Math.min(...Lf);
      return Lf.every((l, c) => Math.fround(fill[c]) <= 0 || (bounds === 'layer' ? Lmin : l) > 0);
    };
    const act = opts.placement === 'after-act';
    if (relu && (act || (mode === 'zero' && opts.exactBehindRelu !== false && sameBehindRelu()))) {
      // (moved from after-bn, an upper bound < 0 stays: every ReLU output then fails it and gets the fill 0, as before)
      for (let c = 0; c < C; c++) { lo[c] = Math.max(0, lo[c]); hi[c] = act ? Math.max(0, hi[c]) : hi[c]; fill[c] = Math.max(0, fill[c]); }
      value = relu.outputs[0];
      afterRelu = true;
    }
    // QDQ model: behind the activation's QuantizeLinear → DequantizeLinear, in the dequantized
    // domain, so onnxruntime still fuses the layer into its integer kernel (QLinearConv)
    const qdq = opts.placement === 'after-act' ? dequantizedValue(g, readers, value) : undefined;
    if (qdq) {
      for (let c = 0; c < C; c++) {
        lo[c] = qdq.bound(lo[c], 'lo', mode); hi[c] = qdq.bound(hi[c], 'hi', mode); fill[c] = qdq.map(fill[c]);
        loSize[c] = 0; hiSize[c] = 0;
      }
      value = qdq.value;
    }
    const anchor = g.nodes.find((n) => n.outputs.includes(value))!;
    const shape = [1, C, ...site.shape.slice(2).map(() => 1)];
    const perLayer = bounds === 'layer';
    // a float16 layer (native float16 model) stores float16 bounds and fill, read as float32 by the
    // float32 stage (stages.ts float32Stage)
    const half = site.dtype === DataType.FLOAT16;
    const Lc = Array.from(lo, (x, c) => (half ? float16ToNumber(outward16(x, 'lo', loSize[c])) : outward(x, 'lo', loSize[c])));
    const Uc = Array.from(hi, (x, c) => (half ? float16ToNumber(outward16(x, 'hi', hiSize[c])) : outward(x, 'hi', hiSize[c])));
    const L = perLayer ? [Math.min(...Lc)] : Lc;
    const U = perLayer ? [Math.max(...Uc)] : Uc;
    const dims = perLayer ? [] : shape;
    const stored = (name: string, d: number[], v: ArrayLike<number>): string => {
      const t = ed.init(name, site.dtype, d, half ? Uint16Array.from(v, numberToFloat16) : Float32Array.from(v, Math.fround));
      return half ? ed.atStart().op('Cast', [t], { to: A.i(DataType.FLOAT) }) : t;
    };
    // behind a ReLU every value is ≥ 0: a lower bound of 0 checks nothing (and is not stored)
    const needLower = !(afterRelu && L.every((x) => x <= 0));
    const stageIn = ed.fresh(`${value}.unchecked`);
    anchor.outputs[anchor.outputs.indexOf(value)] = stageIn;
    const e = ed.after(anchor);
    // (not on int8 layers: a guard between the weight's DequantizeLinear and the conv would stop
    // onnxruntime fusing them into its integer kernel; they keep the exact check)
    if (opts.check === 'fused' && mode === 'zero' && !half && !qdq && site.shape.length === 4 && site.weight.via?.opType !== 'DequantizeLinear') {
      const perChannel = (v: number[]): number[] => (perLayer ? new Array<number>(C).fill(v[0]) : v);
      // the layer's conv weight, bias and batch-norm parameters are read through a guard folded at
      // load (fused-check.ts guardParam): the fused check cannot remove a NaN, so none may arise
      const conv = g.nodes.find((n) => n.opType === 'Conv' && n.inputs[1] === site.weight.value);
      if (conv) for (let i = 1; i < conv.inputs.length; i++) if (conv.inputs[i]) conv.inputs[i] = guardParam(ed, conv.inputs[i]);
      if (bn) for (let i = 1; i <= 4; i++) bn.node.inputs[i] = guardParam(ed, bn.node.inputs[i], i === 4 ? 'variance' : 'value');
      // behind the ReLU (turned into the finite Clip), or in front of a ReLU that alone reads the
      // check: that ReLU is absorbed into the check's last conv (fused-check.ts)
      const behindRelu = anchor.opType === 'Relu';
      const absorbed = behindRelu ? undefined : soleRelu(g, consumers(g), value);
      let result = value;
      if (absorbed) {
        result = absorbed.outputs[0];
        g.nodes.splice(g.nodes.indexOf(absorbed), 1);
      }
      fusedZero(ed, e, finiteClip(e, anchor, stageIn), result, {
        name: site.name, channels: C, lower: needLower ? perChannel(L) : undefined, upper: perChannel(U), fill,
        relu: behindRelu || absorbed !== undefined,
      });
      stages.push({ kind: 'same', input: stageIn, output: result });
      continue;
    }
    const Lt = needLower ? stored(`${site.name}.range.lower`, dims, L) : '';
    const Ut = stored(`${site.name}.range.upper`, dims, U);
    // QDQ: the checked values (grid points: bounds and fill are) are quantized again with the same
    // scale and zero point — exact — so the next layer still reads a DequantizeLinear and keeps its integer kernel
    const out = qdq ? ed.fresh(`${value}.checked`) : value;
    float32Stage(e, site.dtype, stageIn, out, (x, o) => {
      if (mode === 'saturate') {
        if (perLayer) e.op('Clip', [x, needLower ? Lt : '', Ut], {}, { out: o });
        else e.op('Min', [needLower ? e.max(x, Lt) : x, Ut], {}, { out: o });
      } else {
        const allZero = fill.every((v) => v === 0);
        const F = allZero ? e.scalar(0, 'harden.zero') : stored(`${site.name}.range.fill`, shape, fill);
        const inside = needLower ? e.and(e.ge(x, Lt), e.ge(Ut, x)) : e.ge(Ut, x);
        e.where(inside, x, F, o);
      }
    });
    if (qdq) e.op('DequantizeLinear', [e.op('QuantizeLinear', [out, ...qdq.params]), ...qdq.params], {}, { out: value });
    // value infos recorded for the renamed value stay true (same shape), nothing to drop
    stages.push({ kind: 'same', input: stageIn, output: value });
  }
  return { model: { ...model, graph: ed.finish() }, layers, stages };
}

/**
 * When `value` is read only by a per-tensor QuantizeLinear (uint8/int8) whose output is read only
 * by a DequantizeLinear with the same scale and zero point (what `quantize` writes on activations),
 * that DequantizeLinear's output, the quantization parameters, and the maps of bounds and values
 * into it: every dequantized value is a grid point (q − z)·s, so a bound becomes the midpoint next
 * to its grid point (for saturation the grid point itself, which is then a value), rounded outward (⌊x/s⌋ for a lower bound, ⌈x/s⌉ for an upper one: never tighter than the
 * quantized value of the bound, however onnxruntime rounds a tie) — exact for every value inside
 * an interval, and far from any grid value, so no comparison is near a rounding edge.
 */
export function dequantizedValue(g: Graph, readers: Map<string, Node[]>, value: string): { value: string; params: string[]; bound: (x: number, side: 'lo' | 'hi', mode: RangeMode) => number; map: (x: number) => number } | undefined {
  const r = readers.get(value) ?? [];
  if (r.length !== 1 || r[0].opType !== 'QuantizeLinear' || r[0].inputs[0] !== value) return undefined;
  const q = r[0];
  const d = readers.get(q.outputs[0]) ?? [];
  if (d.length !== 1 || d[0].opType !== 'DequantizeLinear' || d[0].inputs[0] !== q.outputs[0]) return undefined;
  const scale = g.initializers.get(q.inputs[1]);
  const zp = q.inputs[2] ? g.initializers.get(q.inputs[2]) : undefined;
  if (!scale || scale.data.length !== 1 || (q.inputs[2] && (!zp || zp.data.length !== 1))) return undefined;
  if (d[0].inputs[1] !== q.inputs[1] || (d[0].inputs[2] ?? '') !== (q.inputs[2] ?? '')) return undefined;
  const s = Number(scale.data[0]);
  const z = zp ? Number(zp.data[0]) : 0;
  const [qmin, qmax] = zp?.dataType === DataType.INT8 ? [-128, 127] : [0, 255];
  const clamp = (k: number): number => Math.min(qmax, Math.max(qmin, k));
  const grid = (k: number): number => Math.fround((clamp(k) - z) * s);
  return {
    value: d[0].outputs[0],
    params: q.inputs.slice(1).filter(Boolean),
    bound: (x, side, mode) => {
      if (!Number.isFinite(x)) return x;
      const k = clamp((side === 'lo' ? Math.floor(x / s) : Math.ceil(x / s)) + z);
      // saturation clamps to the bound: a grid point, so that quantizing it again is exact
      return mode === 'saturate' ? grid(k) : (k - z + (side === 'lo' ? -0.5 : 0.5)) * s;
    },
    map: (x) => {
      const v = x / s;
      const f = Math.floor(v);
      const k = v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v); // half to even, as QuantizeLinear
      return grid(k + z);
    },
  };
}

/** The intervals with every layer's channels collapsed to one [min L, max U] (Ranger's per-layer bounds). */
export function layerIntervals(iv: Intervals): Intervals {
  const m: Intervals = new Map();
  for (const [k, v] of iv) {
    const l = Math.min(...v.lower), u = Math.max(...v.upper);
    m.set(k, { lower: new Float32Array(v.lower.length).fill(l), upper: new Float32Array(v.upper.length).fill(u) });
  }
  return m;
}

/** Intervals profiled on the unfolded conv outputs, carried through each folded batch norm (rounded outward, as above). */
export function foldedIntervals(model: Model, iv: Intervals, folded: readonly { layer: string; batchNorm: string }[]): Intervals {
  const g = model.graph;
  const readers = consumers(g);
  const out: Intervals = new Map(iv);
  const sites = new Map(layerSites(model).map((s) => [s.name, s]));
  for (const f of folded) {
    const site = sites.get(f.layer);
    const v = iv.get(f.layer);
    if (!site || !v) continue;
    const bn = affineBatchNorm(g, readers, site.tap, site.channels);
    if (!bn) continue;
    const lower = new Float32Array(v.lower.length), upper = new Float32Array(v.upper.length);
    for (let c = 0; c < lower.length; c++) {
      const m = throughBn(bn, c, v.lower[c], v.upper[c]);
      lower[c] = outward(m.lo, 'lo', m.loSize); upper[c] = outward(m.hi, 'hi', m.hiSize);
    }
    out.set(f.layer, { lower, upper });
  }
  return out;
}
