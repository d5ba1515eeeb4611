/**
 * Paper C: selective TMR of critical neurons (SPEC §4.4). A neuron is one element (channel, row,
 * col) of a conv layer's pre-activation output map, or one unit of a dense layer.
 *
 * The top q% neurons by the scores (unit 'neuron': C·H·W per conv layer in (c, h, w) row-major
 * order, C per dense layer; global ranking by default, `perLayer` to take q% of each layer) are
 * computed three times; the two extra computations use replica weights — copies of the filter
 * weights and bias of the protected neurons' channels. Graph per layer, with P the k channels that
 * hold at least one protected neuron:
 *
 *   ONE widened weight [C + 2k, …] (original filters in place, then two copies of the filters P)
 *   → Y [N, C+2k, H, W]; a = Y[:, P], b, c = the two replica slices, each NaN → 0;
 *   v = value shared by ≥ 2 copies, else the median (option allDiffer: 'min');
 *   m = Where(mask, v, a) with a constant bool mask [1, k, H, W] true at the protected positions
 *   (dropped when every position of those channels is protected, e.g. dense layers);
 *   unprotected channels pass through; Concat + one Gather restore channel order.
 *
 * Cost, stated honestly: onnxruntime has no op to evaluate a convolution at a scattered set of
 * output positions exactly like the Conv kernel does, so the replica convolution computes whole
 * channels P (bit-identical to the original channel, which the vote needs fault-free) and the mask
 * keeps the vote only at protected positions. The report gives both counts:
 * - `graphReplicaMacs` = 2·k·H·W·(Cin·kh·kw): what the graph computes (countModel agrees; for a
 *   grouped conv k counts the whole groups holding P, which the copy conv computes — layers.ts);
 * - `protectedNeuronMacs` = 2·(protected neurons)·(Cin·kh·kw): paper C's cost model, what a
 *   per-neuron implementation would compute.
 * For dense layers both are equal (each channel is one neuron).
 * Replica weights = 2·k·(filter size + 1 if biased) parameters.
 */
import { FlipguardError } from '../errors.js';
import { DataType, type Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor } from './graph-edit.js';
import { copiedChannels, layerSites, spatial, widenSite } from './layers.js';
import { channelStage, nanToZero, vote3, type AllDiffer } from './stages.js';
import { chooseUnits, type StageRecord } from './common.js';

export interface TmrNeuronOptions {
  /** Share q in [0, 1] of neurons to protect. */
  ratio: number;
  /** Neuron scores (unit 'neuron'), e.g. paper C's criticality; required when q > 0. */
  scores?: Scores;
  /** Take q of each layer's neurons (default false: global top-q over all layers). */
  perLayer?: boolean;
  /** Voter output when all three copies differ (default 'median', paper C). */
  allDiffer?: AllDiffer;
}

export interface NeuronLayerReport {
  name: string;
  kind: 'conv' | 'dense';
  channels: number;
  /** Neurons of the layer (C·H·W or C). */
  neurons: number;
  /** Protected neurons. */
  protected: number;
  /** Channels with replica filters. */
  replicatedChannels: number;
  /** MACs per image the replica computation adds in the graph. */
  graphReplicaMacs: number;
  /** MACs per image of recomputing only the protected neurons twice. */
  protectedNeuronMacs: number;
  /** Extra parameters (replica weights and biases). */
  replicaParameters: number;
}

export interface NeuronTransformResult {
  model: Model;
  layers: NeuronLayerReport[];
  stages: StageRecord[];
  /** Protected neuron indices per layer (flat (c, h, w) order), ascending. */
  indices: Map<string, number[]>;
}

export function tmrNeuronsTransform(model: Model, opts: TmrNeuronOptions): NeuronTransformResult {
  const allDiffer = opts.allDiffer ?? 'median';
  if (allDiffer !== 'min' && allDiffer !== 'median') throw new FlipguardError(`The voter option allDiffer "${String(allDiffer)}" is unknown; use median or min.`);
  const sites = layerSites(model);
  const counts = sites.map((s) => s.channels * spatial(s));
  const chosen = chooseUnits(sites, counts, opts, 'neuron', 'tmr-neurons', "neuron scores (unit 'neuron', one per output element)");

  const ed = new GraphEditor(model);
  const zero = ed.atStart().scalar(0, 'harden.zero');
  const layers: NeuronLayerReport[] = [];
  const stages: StageRecord[] = [];
  const indices = new Map<string, number[]>();
  sites.forEach((site, si) => {
    const C = site.channels;
    const hw = spatial(site);
    const neurons = chosen[si];
    indices.set(site.name, neurons);
    const chanSet = new Set<number>();
    for (const n of neurons) chanSet.add(Math.floor(n / hw));
    const P = [...chanSet].sort((a, b) => a - b);
    const w = site.weight.tensor;
    const per = w.data.length / C;
    const computed = copiedChannels(site, P);
    layers.push({
      name: site.name, kind: site.kind, channels: C, neurons: counts[si], protected: neurons.length, replicatedChannels: P.length,
      graphReplicaMacs: 2 * computed * hw * per, protectedNeuronMacs: 2 * neurons.length * per,
      replicaParameters: 2 * computed * (per + (site.bias ? 1 : 0)),
    });
    if (!P.length) return;
    const { wide, out } = widenSite(ed, site, [P, P]);
    const k = P.length;
    let mask: string | undefined;
    if (neurons.length < k * hw) {
      const slot = new Map<number, number>();
      P.forEach((c, j) => slot.set(c, j));
      const m = new Uint8Array(k * hw);
      for (const n of neurons) m[slot.get(Math.floor(n / hw))! * hw + (n % hw)] = 1;
      mask = ed.init(`${site.name}.tmr.mask`, DataType.BOOL, [1, k, ...site.shape.slice(2)], m);
    }
    channelStage(ed.after(ed.graph.nodes[site.tapIndex]), {
      wide, out, C, prot: P, copies: 2, label: `${site.name}.tmr`,
      merge: (e, a, [b, c]) => {
        const v = vote3(e, nanToZero(e, a, zero), nanToZero(e, b, zero), nanToZero(e, c, zero), allDiffer);
        return mask ? e.where(mask, v, a) : v;
      },
    });
    stages.push({ kind: 'channels', input: wide, output: out, channels: C });
  });
  return { model: { ...model, graph: ed.finish() }, layers, stages, indices };
}
