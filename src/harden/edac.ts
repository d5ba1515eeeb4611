/**
 * Paper A: selective channel duplication + EDAC layer (SPEC §4.1), and its two variants —
 * EDAC without intervals on the non-duplicated channels (§III-C) and intervals only / range
 * restriction (ratio 0, every channel case E).
 *
 * Graph, per conv/dense layer with C output channels and d duplicated channels P (top-d by the
 * ranking; every channel of the output layer):
 *
 *   Conv/Gemm with ONE widened weight [C + d, …] (and bias [C + d]): rows 0…C−1 are the original
 *   filters, unchanged and in place; rows C…C+d−1 are copies of the filters P (ascending). The
 *   widened tensor keeps the original name, so `conv1.weight` is still conv1's weight (a shared
 *   tensor gets a fresh `.wide` name). Every copy is its own stored words: a fault hits the
 *   original or the copy, never both. Fault-free, a copy is bit-identical to its original (same
 *   node, same kernel, same inputs) and the original channels are bit-identical to the unhardened
 *   layer's (verified for every zoo architecture in test/harden.test.ts).
 *     → Y [N, C+d, H, W]
 *   EDAC stage (stages.ts): a = Y[:, P] (Gather), b = Y[:, C:C+d] (Slice), both NaN → 0, merged
 *   elementwise by cases A–D on [N, d, H, W]; the other C−d channels get case E (NaN → 0 and
 *   outside [L, U] → 0) on [N, C−d, H, W]; Concat + one Gather restore channel order → the layer's
 *   original output name, so batch norm, activation and the next layer are unchanged.
 *   L and U are float32 initializers `<layer>.edac.lower` / `.upper` shaped [1, C, 1, 1] (conv) or
 *   [1, C] (dense): ordinary parameters, so faults reach them. On a native float16 model they are
 *   float16 words rounded outward, cast to float32 for the stage (stages.ts float32Stage).
 *
 * Options for the cases the paper's text lost (our choices, SPEC §4.1):
 * - `bothInside` (case C, a ≠ b both inside [L, U]): 'min' (default), 'mean', 'original'.
 *   In edac-nointervals it resolves every a ≠ b.
 * - `bothOutside` (case D): 'zero' (default), 'clip' (a clamped to [L, U]), 'original' (a).
 * - `outside` (case E): 'zero' (default, the paper), 'clip' (clamp to [L, U]).
 * - `margin` ≥ 0: widens every interval by margin·(U − L) on each side (default 0, the paper).
 */
import { FlipguardError } from '../errors.js';
import { DataType, type Model, type TensorData } from '../graph/types.js';
import { float16Toward } from '../graph/dtype.js';
import { A } from '../graph/builder.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor } from './graph-edit.js';
import { layerSites, widenSite, type LayerSite } from './layers.js';
import { placeChannels } from './side-by-side.js';
import { channelStage, mergeDuplicate, nanToZero, rangeRestrict, type BothInside, type BothOutside, type OutsideRule } from './stages.js';
import { protectedCount, siteScores, topIndices, type StageRecord } from './common.js';
import type { Intervals } from './profile.js';

export interface EdacOptions {
  /** Hardening ratio r in [0, 1]: d = max(1, ⌊r·C⌋) duplicated channels per layer (0 when r = 0). */
  ratio: number;
  /** Channel ranking (unit 'channel' for conv, 'neuron' or 'channel' for dense); needed when r > 0. */
  scores?: Scores;
  /** Detection intervals (profileIntervals on the training split); needed unless `intervals: false`. */
  intervals?: Intervals;
  /** Use detection intervals (default true); false = the edac-nointervals variant. */
  useIntervals?: boolean;
  /** Duplicate every channel of the output layer (default true, paper A). */
  protectOutput?: boolean;
  bothInside?: BothInside;
  bothOutside?: BothOutside;
  outside?: OutsideRule;
  /** Relative widening of every interval on each side (default 0). */
  margin?: number;
  /** Name used in error messages. */
  method?: string;
  /** Reorder each layer's channels so the protected ones sit side by side (side-by-side.ts; default false). */
  sideBySide?: boolean;
}

export interface ChannelLayerReport {
  name: string;
  kind: 'conv' | 'dense';
  /** Output channels (units) of the layer. */
  channels: number;
  /** Channels with redundant copies. */
  protected: number;
  /** Their indices, ascending. */
  indices: number[];
  /** Redundant copies per protected channel (1 = duplication, 2 = triplication). */
  copies: number;
}

export interface TransformResult {
  model: Model;
  layers: ChannelLayerReport[];
  stages: StageRecord[];
  /** Layers whose channels were reordered (sideBySide), with the new order (order[j] = original channel at j). */
  reordered?: Record<string, number[]>;
}

const RULES = {
  bothInside: ['min', 'mean', 'original'],
  bothOutside: ['zero', 'clip', 'original'],
  outside: ['zero', 'clip'],
} as const;

function checkRule<K extends keyof typeof RULES>(key: K, v: unknown): void {
  if (v !== undefined && !(RULES[key] as readonly unknown[]).includes(v)) {
    throw new FlipguardError(`The EDAC option ${key} "${String(v)}" is unknown; use one of ${RULES[key].join(', ')}.`);
  }
}

/**
 * Bounds [1, C, 1, 1] / [1, C] for a layer, checked and widened by `margin`, in the layer's element
 * type: float32, or float16 words rounded outward (lower down, upper up) for a float16 layer, so
 * that no value inside the interval falls outside its stored bounds.
 */
function boundTensors(site: LayerSite, intervals: Intervals, margin: number, method: string): { lower: TensorData; upper: TensorData; dims: number[] } {
  const iv = intervals.get(site.name);
  if (!iv) throw new FlipguardError(`The detection intervals have no entry for layer "${site.name}"; profile them for this model (profileIntervals on the training split).`);
  const C = site.channels;
  if (iv.lower.length !== C || iv.upper.length !== C) {
    throw new FlipguardError(`The detection intervals for layer "${site.name}" have ${iv.lower.length} channels but the layer has ${C}; the intervals were profiled for another model.`);
  }
  const lower = new Float32Array(C), upper = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const l = iv.lower[c], u = iv.upper[c];
    if (!(l <= u)) throw new FlipguardError(`The detection interval of channel ${c} of layer "${site.name}" is [${l}, ${u}], which is empty or NaN; re-profile the intervals on data the model runs cleanly on (${method}).`);
    const w = (u - l) * margin;
    lower[c] = l - w;
    upper[c] = u + w;
  }
  const dims = [1, C, ...site.shape.slice(2).map(() => 1)];
  if (site.dtype === DataType.FLOAT16) return { lower: Uint16Array.from(lower, (x) => float16Toward(x, 'down')), upper: Uint16Array.from(upper, (x) => float16Toward(x, 'up')), dims };
  return { lower, upper, dims };
}

/**
 * Duplication + EDAC (or a variant, by the options): returns a new model; `model` is not mutated.
 * See the module comment for the graph and the options.
 */
export function edacTransform(model: Model, opts: EdacOptions): TransformResult {
  const method = opts.method ?? 'edac';
  const useIntervals = opts.useIntervals ?? true;
  const margin = opts.margin ?? 0;
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0) throw new FlipguardError(`The interval margin must be a number ≥ 0, got ${String(margin)}.`);
  checkRule('bothInside', opts.bothInside);
  checkRule('bothOutside', opts.bothOutside);
  checkRule('outside', opts.outside);
  const bothInside = opts.bothInside ?? 'min';
  const bothOutside = opts.bothOutside ?? 'zero';
  const outside = opts.outside ?? 'zero';
  const protectOutput = opts.protectOutput ?? true;
  if (useIntervals && !opts.intervals) throw new FlipguardError(`${method} needs detection intervals: pass intervals, or training data to profile them from.`);

  const chosen = layerSites(model).map((site) => {
    const C = site.channels;
    const d = site.isOutput && protectOutput ? C : protectedCount(opts.ratio, C);
    if (d === C) return Array.from({ length: C }, (_, i) => i);
    if (d === 0) return [];
    if (!opts.scores) throw new FlipguardError(`${method} with ratio ${opts.ratio} needs channel scores to choose the channels to duplicate; pass scores (e.g. from flipguard rank).`);
    return topIndices(siteScores(opts.scores, site, site.kind === 'conv' ? ['channel'] : ['neuron', 'channel'], C, method), d);
  });
  const placed = placeChannels(model, chosen, opts.sideBySide);
  const sites = placed.sites;
  const intervals = useIntervals ? placed.intervals(opts.intervals!) : undefined;
  const ed = new GraphEditor(placed.model);
  const zero = ed.atStart().scalar(0, 'harden.zero');
  const layers: ChannelLayerReport[] = [];
  const stages: StageRecord[] = [];
  sites.forEach((site, i) => {
    const C = site.channels;
    const dup = placed.channels[i];
    layers.push({ name: site.name, kind: site.kind, channels: C, protected: dup.length, indices: chosen[i], copies: 1 });

    let L: string | undefined, U: string | undefined;
    if (intervals) {
      const b = boundTensors(site, intervals, margin, method);
      // float16 bounds (native float16 layer) are read as float32 by the float32 stage (exact)
      const stored = (name: string, data: TensorData): string => {
        const t = ed.init(name, site.dtype, b.dims, data);
        return site.dtype === DataType.FLOAT16 ? ed.atStart().op('Cast', [t], { to: A.i(DataType.FLOAT) }) : t;
      };
      L = stored(`${site.name}.edac.lower`, b.lower);
      U = stored(`${site.name}.edac.upper`, b.upper);
    }
    const { wide, out } = widenSite(ed, site, dup.length ? [dup] : []);
    const e = ed.after(ed.graph.nodes[site.tapIndex]);
    const sub = (t: string, index: string | undefined): string => (index ? e.op('Gather', [t, index], { axis: { type: 'int', value: 1 } }) : t);
    channelStage(e, {
      wide, out, C, prot: dup, copies: 1, label: `${site.name}.edac`, dtype: site.dtype,
      merge: (em, a0, [b0], index) => {
        const a = nanToZero(em, a0, zero), b = nanToZero(em, b0, zero);
        const bounds = L && U ? { L: sub(L, index), U: sub(U, index) } : undefined;
        return mergeDuplicate(em, a, b, zero, { bounds, bothInside, bothOutside });
      },
      rest: (em, x, index) => (L && U ? rangeRestrict(em, x, sub(L, index), sub(U, index), zero, outside) : nanToZero(em, x, zero)),
    });
    stages.push({ kind: 'channels', input: wide, output: out, channels: C });
  });
  return { model: { ...placed.model, graph: ed.finish() }, layers, stages, ...placed.report };
}
