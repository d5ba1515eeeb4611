/**
 * Paper A's baseline: selective channel triplication + voter (SPEC §4.2).
 *
 * Per conv/dense layer the top k = max(1, ⌊r·C⌋) channels (every channel of the output layer by
 * default, as for EDAC, so the two compare at equal ratios) are stored and computed three times:
 * ONE widened weight [C + 2k, …] holds the original filters in place followed by two copies of the
 * k filters (ascending channel order) — independent stored words, bit-identical fault-free outputs.
 * A voter right after the layer (before batch norm and activation):
 *   a = Y[:, P], b = Y[:, C:C+k], c = Y[:, C+k:C+2k], each NaN → 0;
 *   v = the value at least two copies share (Equal), else min(a, b, c) (option `allDiffer: 'median'`);
 *   the other channels: NaN → 0 (as the EDAC layer does for every channel; `nanToZero: false`
 *   passes them through untouched); Concat + one Gather restore channel order.
 */
import { FlipguardError } from '../errors.js';
import type { Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor } from './graph-edit.js';
import { layerSites, widenSite } from './layers.js';
import { placeChannels } from './side-by-side.js';
import { channelStage, nanToZero, vote3, type AllDiffer } from './stages.js';
import { protectedCount, siteScores, topIndices, type StageRecord } from './common.js';
import type { ChannelLayerReport, TransformResult } from './edac.js';

export interface TmrChannelOptions {
  ratio: number;
  /** Channel ranking (unit 'channel' for conv, 'neuron'/'channel' for dense); needed when r > 0. */
  scores?: Scores;
  /** Triplicate every channel of the output layer (default true). */
  protectOutput?: boolean;
  /** Voter output when all three copies differ (default 'min', paper A). */
  allDiffer?: AllDiffer;
  /** Map NaN → 0 in the unprotected channels too (default true). */
  nanToZero?: boolean;
  /** Reorder each layer's channels so the protected ones sit side by side (side-by-side.ts; default false). */
  sideBySide?: boolean;
}

export function tmrChannelsTransform(model: Model, opts: TmrChannelOptions): TransformResult {
  const allDiffer = opts.allDiffer ?? 'min';
  if (allDiffer !== 'min' && allDiffer !== 'median') throw new FlipguardError(`The voter option allDiffer "${String(allDiffer)}" is unknown; use min or median.`);
  const protectOutput = opts.protectOutput ?? true;
  const nanAll = opts.nanToZero ?? true;
  const chosen = layerSites(model).map((site) => {
    const C = site.channels;
    const k = site.isOutput && protectOutput ? C : protectedCount(opts.ratio, C);
    if (k === C) return Array.from({ length: C }, (_, i) => i);
    if (k === 0) return [];
    if (!opts.scores) throw new FlipguardError(`tmr-channels with ratio ${opts.ratio} needs channel scores to choose the channels to triplicate; pass scores (e.g. from flipguard rank).`);
    return topIndices(siteScores(opts.scores, site, site.kind === 'conv' ? ['channel'] : ['neuron', 'channel'], C, 'tmr-channels'), k);
  });
  const placed = placeChannels(model, chosen, opts.sideBySide);
  const ed = new GraphEditor(placed.model);
  const zero = ed.atStart().scalar(0, 'harden.zero');
  const layers: ChannelLayerReport[] = [];
  const stages: StageRecord[] = [];
  for (const [i, site] of placed.sites.entries()) {
    const C = site.channels;
    const tri = placed.channels[i];
    layers.push({ name: site.name, kind: site.kind, channels: C, protected: tri.length, indices: chosen[i], copies: 2 });
    if (!tri.length && !nanAll) continue;
    const { wide, out } = widenSite(ed, site, tri.length ? [tri, tri] : []);
    channelStage(ed.after(ed.graph.nodes[site.tapIndex]), {
      wide, out, C, prot: tri, copies: 2, label: `${site.name}.tmr`, dtype: site.dtype,
      merge: (e, a, [b, c]) => vote3(e, nanToZero(e, a, zero), nanToZero(e, b, zero), nanToZero(e, c, zero), allDiffer),
      rest: nanAll ? (e, x) => nanToZero(e, x, zero) : undefined,
    });
    stages.push({ kind: 'channels', input: wide, output: out, channels: C });
  }
  return { model: { ...placed.model, graph: ed.finish() }, layers, stages, ...placed.report };
}
