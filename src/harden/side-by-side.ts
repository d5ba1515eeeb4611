/**
 * Protected channels side by side (issue 14): before a channel method widens a layer, the layer's
 * output channels are reordered so that its k protected channels are the last k — [C − k others |
 * k protected] — and everything reading them follows (batch norm parameters, the next layers'
 * input channels: prune/structured.ts `permuteChannels`, exact up to the consumers' summation
 * order). The widened output is then [others | protected | copies…]: the stage reads the
 * protected channels and their copies as ONE contiguous Slice, the others as another, and a
 * Concat of the two results is already in the layer's (new) channel order — no Gather of the
 * protected channels, none of the others, no Gather restoring the order (stages.ts).
 *
 * Layers that cannot be reordered on their own (the output layer, residual-group members, layers
 * feeding a depthwise conv or an op channels cannot be followed through) keep their order and the
 * Gather-based stage.
 */
import { permuteChannels } from '../prune/structured.js';
import type { Model } from '../graph/types.js';
import { layerSites, type LayerSite } from './layers.js';
import type { Intervals } from './profile.js';

export interface SideBySide {
  model: Model;
  /** Per site: the new channel order (order[j] = original channel now at j), or undefined when not reordered. */
  orders: (number[] | undefined)[];
  /** Per site: the protected channels in the model's new numbering (the last k when reordered). */
  placed: number[][];
}

/** Reorders every layer of `sites` whose `chosen` channels (0 < k < C) can be moved to the end; see the module comment. */
export function sideBySide(model: Model, sites: readonly LayerSite[], chosen: readonly number[][]): SideBySide {
  const want = new Map<string, number[]>();
  sites.forEach((s, i) => {
    const k = chosen[i].length;
    if (k === 0 || k === s.channels) return;
    const p = new Set(chosen[i]);
    const others = Array.from({ length: s.channels }, (_, c) => c).filter((c) => !p.has(c));
    want.set(s.name, [...others, ...chosen[i]]);
  });
  const { model: m, permuted } = permuteChannels(model, want);
  const done = new Set(permuted);
  const orders = sites.map((s) => (done.has(s.name) ? want.get(s.name) : undefined));
  const placed = sites.map((s, i) => (orders[i] ? Array.from({ length: chosen[i].length }, (_, j) => s.channels - chosen[i].length + j) : [...chosen[i]]));
  return { model: m, orders, placed };
}

/** `intervals` with the channels of every reordered layer in its new order. */
export function reorderedIntervals(intervals: Intervals, sites: readonly LayerSite[], orders: readonly (number[] | undefined)[]): Intervals {
  const out: Intervals = new Map(intervals);
  sites.forEach((s, i) => {
    const o = orders[i], v = intervals.get(s.name);
    if (!o || !v || v.lower.length !== o.length || v.upper.length !== o.length) return;
    out.set(s.name, { lower: Float32Array.from(o, (c) => v.lower[c]), upper: Float32Array.from(o, (c) => v.upper[c]) });
  });
  return out;
}

/** What a channel transform works on: the (reordered, when `enabled`) model, its sites, the protected channels in its numbering. */
export interface PlacedChannels {
  model: Model;
  sites: LayerSite[];
  /** Per site: protected channels in the model's numbering. */
  channels: number[][];
  /** The given intervals in the model's channel numbering. */
  intervals: (iv: Intervals) => Intervals;
  /** For the transform result: `reordered` layers and their orders (nothing when none was reordered). */
  report: { reordered?: Record<string, number[]> };
}

/** `chosen` protected channels per site of `model` (layerSites order), placed side by side when `enabled`. */
export function placeChannels(model: Model, chosen: readonly number[][], enabled = false): PlacedChannels {
  if (!enabled) return { model, sites: layerSites(model), channels: chosen.map((c) => [...c]), intervals: (iv) => iv, report: {} };
  const before = layerSites(model);
  const s = sideBySide(model, before, chosen);
  const sites = layerSites(s.model);
  const reordered: Record<string, number[]> = {};
  sites.forEach((site, i) => { if (s.orders[i]) reordered[site.name] = s.orders[i]!; });
  return {
    model: s.model, sites, channels: s.placed,
    intervals: (iv) => reorderedIntervals(iv, sites, s.orders),
    report: Object.keys(reordered).length ? { reordered } : {},
  };
}

/** Intervals profiled on a reordered model (`orders` by layer, as in HardenReport.reordered) back in the original channel numbering. */
export function intervalsInOriginalOrder(intervals: Intervals, orders: Readonly<Record<string, number[]>>): Intervals {
  const out: Intervals = new Map(intervals);
  for (const [name, o] of Object.entries(orders)) {
    const v = intervals.get(name);
    if (!v) continue;
    const lower = new Float32Array(o.length), upper = new Float32Array(o.length);
    o.forEach((c, j) => { lower[c] = v.lower[j]; upper[c] = v.upper[j]; });
    out.set(name, { lower, upper });
  }
  return out;
}
