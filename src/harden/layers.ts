/**
 * The conv and dense layers hardening works on, and where each one's pre-activation output is
 * (the value the EDAC stage, the voters and interval profiling attach to): the Conv or Gemm
 * output including its bias, or for a MatMul dense layer the output of the bias Add that follows
 * it (the plain MatMul output when there is none). Always before batch norm and activation.
 *
 * Also: widening a layer by appended copies of some of its output channels, which is how every
 * channel-level redundancy is stored (one wider weight tensor; see `widenLayer`).
 */
import { FlipguardError } from '../errors.js';
import { consumers } from '../graph/builder.js';
import { inferShapes } from '../graph/shapes.js';
import type { Model, Node } from '../graph/types.js';
import { DataType } from '../graph/types.js';
import { computeLayers, type ComputeLayer } from '../analysis/scores.js';
import type { GraphEditor } from './graph-edit.js';

export interface LayerSite {
  layer: ComputeLayer;
  /** Node name used in scores, reports and tensor names. */
  name: string;
  /** Index of the layer node in the graph's node list. */
  index: number;
  kind: 'conv' | 'dense';
  /** Output channels (conv) or units (dense). */
  channels: number;
  /** Weight layout: output channel is the first axis ('rows': Conv, Gemm transB=1) or the last ('cols': Gemm transB=0, MatMul). */
  orient: 'rows' | 'cols';
  /** Index in the node list of the node producing the pre-activation value. */
  tapIndex: number;
  /** The pre-activation value's name. */
  tap: string;
  /** Where the bias tensor enters: node index and input slot (none when the layer has no bias or a scalar one). */
  bias?: { nodeIndex: number; slot: number; name: string };
  /** Per-image shape of the tap at batch 1 (e.g. [1, C, H, W] or [1, C]). */
  shape: number[];
  isOutput: boolean;
}

function layerLabel(n: Node, i: number): string {
  return n.name || n.outputs[0] || `${n.opType}_${i}`;
}

/**
 * The conv/dense layers of `model` (computeLayers order) with their pre-activation taps.
 * Throws a FlipguardError for the cases hardening cannot handle (named in the message).
 */
export function layerSites(model: Model, opts: { requireUngrouped?: boolean } = {}): LayerSite[] {
  const g = model.graph;
  const cons = consumers(g);
  const index = new Map<Node, number>();
  g.nodes.forEach((n, i) => index.set(n, i));
  const shapes = inferShapes(model, { batch: 1 });
  const sites: LayerSite[] = [];
  for (const layer of computeLayers(model)) {
    const n = layer.node;
    const i = index.get(n)!;
    const name = layerLabel(n, i);
    let orient: 'rows' | 'cols' = 'rows';
    let tapIndex = i;
    let bias: LayerSite['bias'];
    if (n.opType === 'Conv') {
      const group = n.attributes.group?.type === 'int' ? n.attributes.group.value : 1;
      if (opts.requireUngrouped && group !== 1) {
        throw new FlipguardError(`Layer "${name}" is a grouped convolution (group ${group}); channel duplication and neuron TMR support only group = 1 convolutions — use tmr-weights for this model.`);
      }
      if (n.inputs[2]) bias = { nodeIndex: i, slot: 2, name: n.inputs[2] };
    } else if (n.opType === 'Gemm') {
      const transB = n.attributes.transB?.type === 'int' ? n.attributes.transB.value : 0;
      orient = transB ? 'rows' : 'cols';
      if (n.inputs[2]) bias = { nodeIndex: i, slot: 2, name: n.inputs[2] };
    } else {
      orient = 'cols';
      const outs = cons.get(n.outputs[0]) ?? [];
      const add = outs.find((c) => c.opType === 'Add' && g.initializers.has(c.inputs[1]));
      if (add) {
        if (outs.length !== 1) throw new FlipguardError(`The MatMul layer "${name}" feeds more than its bias Add; flipguard cannot place a hardening stage after it — re-export the model with Gemm layers.`);
        tapIndex = index.get(add)!;
        bias = { nodeIndex: tapIndex, slot: 1, name: add.inputs[1] };
      }
    }
    if (bias) {
      const t = g.initializers.get(bias.name);
      if (!t || t.data.length === 1) bias = undefined; // a scalar bias broadcasts to any width
      else if (t.data.length !== layer.outChannels) {
        throw new FlipguardError(`The bias "${bias.name}" of layer "${name}" has ${t.data.length} values for ${layer.outChannels} outputs; flipguard can only harden layers with one bias per output channel.`);
      }
    }
    const tap = g.nodes[tapIndex].outputs[0];
    const shape = shapes.get(tap);
    if (!shape) throw new FlipguardError(`No shape is known for the output of layer "${name}"; check the model with "flipguard info".`);
    sites.push({ layer, name, index: i, kind: layer.kind, channels: layer.outChannels, orient, tapIndex, tap, bias, shape: [...shape], isOutput: layer.isOutput });
  }
  return sites;
}

/** Spatial elements per channel of the layer output (H·W for conv, 1 for dense). */
export function spatial(site: LayerSite): number {
  return site.shape.slice(2).reduce((a, b) => a * b, 1);
}

/** Whether initializer `name` is read by more than one node input. */
function shared(nodes: readonly Node[], name: string): boolean {
  let uses = 0;
  for (const n of nodes) for (const i of n.inputs) if (i === name) uses++;
  return uses > 1;
}

/**
 * Widens the layer of `site` by appending copies of its output channels: `copies` lists the groups
 * of channels to append, in order (e.g. [dup] for duplication, [tri, tri] for triplication). The
 * weight and bias become ONE wider float32 tensor each, original channels first (unchanged, at
 * the same positions), copies after, so that
 * - fault-free, the layer computes every original channel exactly as before and each copy
 *   bit-identically to its original (same op, same kernel, same inputs — verified in
 *   test/harden.test.ts), and
 * - every stored word is its own fault target: original and copies are hit independently.
 * The tensors keep their names (so `conv1.weight` is still conv1's weight, now with C + Σ|group|
 * output channels) unless another node shares them, in which case the wider copy gets a fresh name.
 * Returns the new channel count.
 */
export function widenLayer(ed: GraphEditor, site: LayerSite, copies: readonly (readonly number[])[]): number {
  const g = ed.graph;
  const node = g.nodes[site.index];
  const wName = node.inputs[1];
  const w = g.initializers.get(wName)!;
  if (w.dataType !== DataType.FLOAT) throw new FlipguardError(`The weight "${wName}" of layer "${site.name}" is not float32; flipguard hardens float32 models only.`);
  const C = site.channels;
  const extra = copies.reduce((s, c) => s + c.length, 0);
  const src = w.data as Float32Array;
  const per = src.length / C;
  const total = C + extra;
  const data = new Float32Array(total * per);
  const order: number[] = [];
  for (let c = 0; c < C; c++) order.push(c);
  for (const grp of copies) order.push(...grp);
  if (site.orient === 'rows') {
    order.forEach((c, j) => data.set(src.subarray(c * per, (c + 1) * per), j * per));
  } else {
    // [in, C] → [in, C + extra]: row r holds one input's weights to every output channel
    const rows = per;
    for (let r = 0; r < rows; r++) order.forEach((c, j) => { data[r * total + j] = src[r * C + c]; });
  }
  const dims = [...w.dims];
  if (site.orient === 'rows') dims[0] = total; else dims[dims.length - 1] = total;
  const newW = shared(g.nodes, wName) ? ed.fresh(`${wName}.wide`) : wName;
  ed.setInit({ ...w, name: newW, dims, data });
  node.inputs[1] = newW;
  if (site.bias) {
    const bNode = g.nodes[site.bias.nodeIndex];
    const b = g.initializers.get(site.bias.name)!;
    const bs = b.data as Float32Array;
    const bd = new Float32Array(total);
    order.forEach((c, j) => { bd[j] = bs[c]; });
    const bdims = [...b.dims];
    bdims[bdims.length - 1] = total;
    const newB = shared(g.nodes, site.bias.name) ? ed.fresh(`${site.bias.name}.wide`) : site.bias.name;
    ed.setInit({ ...b, name: newB, dims: bdims, data: bd });
    bNode.inputs[site.bias.slot] = newB;
  }
  // IR < 4 files also list initializers as graph inputs, with their old shape: drop those entries
  if (g.initializerInputs) {
    const changed = new Set([wName, site.bias?.name]);
    g.initializerInputs = g.initializerInputs.filter((v) => !changed.has(v.name));
  }
  return total;
}

/**
 * Renames the layer's pre-activation value to a fresh `<tap>.wide` name (what the widened layer
 * now produces) and returns both names: the hardening stage reads `wide` and writes `out` (the
 * original name), so every consumer — and a graph output of that name — is unchanged.
 */
export function retap(ed: GraphEditor, site: LayerSite): { wide: string; out: string } {
  const g = ed.graph;
  const tapNode = g.nodes[site.tapIndex];
  const out = tapNode.outputs[0];
  const wide = ed.fresh(`${out}.wide`);
  tapNode.outputs[0] = wide;
  // shapes recorded for values that change width are no longer right: drop them
  const mm = g.nodes[site.index].outputs[0];
  g.valueInfo = g.valueInfo.filter((v) => v.name !== out && v.name !== mm);
  return { wide, out };
}
