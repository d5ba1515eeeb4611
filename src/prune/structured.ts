/**
 * Structured pruning (SPEC §5, paper A §IV): removes whole output channels of conv layers and
 * whole neurons of hidden dense layers, and slices everything that reads them so that the result
 * is a smaller ONNX graph (fewer parameters, fewer MACs) that computes what the original computes
 * with those channels deleted.
 *
 * How channels are followed through the graph. Every conv / dense layer's output defines a
 * "channel space". Walking the graph in order, each value's channel axis (axis 1: C of NCHW, F of
 * [N, F]) is described as a list of segments, each one a run of channels of one space (or of
 * channels that are not prunable, e.g. the image's colour channels), with an `inner` multiplier
 * for flattened maps (after Flatten of [N, C, H, W], channel c of a segment occupies positions
 * c·H·W … c·H·W + H·W − 1: channel-major flatten). From that description, pruning slices:
 *
 * - the pruned layer's weight rows (Conv dim 0; Gemm rows with transB = 1, columns otherwise;
 *   MatMul columns) and bias;
 * - every BatchNormalization reading the channels (scale, bias, mean, variance);
 * - every consumer's input channels: Conv weight dim 1 (group 1); depthwise Conv (group = C_in =
 *   C_out) follows its input's channels (weight dim 0, bias and `group` shrink); grouped Conv
 *   (see below); Gemm / MatMul input columns, all H·W positions of a removed channel after Flatten;
 * - constants broadcast against the channels in Add/Sub/Mul/Div (e.g. a per-channel bias), and an
 *   explicit flatten size in a Reshape's shape initializer.
 *
 * Channels pass unchanged through Relu, LeakyRelu, Sigmoid, Tanh, Clip, Cast, Identity, Dropout,
 * MaxPool, AveragePool, GlobalAveragePool, Pad (no padding of the channel axis), Squeeze /
 * Unsqueeze of other axes, Flatten (axis 1) and Reshape to [N, −1] (or to the same shape); a
 * Shape whose result is only used for the batch size (Gather of index 0) is allowed.
 *
 * Residual connections (ResNet). Two channel spaces that meet in an elementwise Add (Sub, Mul,
 * Div) must keep the same channels. Such spaces form a group (a whole ResNet stage's residual
 * stream: the stem or projection conv plus every block's last conv). With `residual: 'group'`
 * (default) a group is pruned as one: its channel count is reduced by ⌊p·C⌋ and the channels kept
 * are those with the highest combined score, where each member's scores are divided by their mean
 * absolute value and then summed (`groupScore: 'sum'`, default) or maximised (`'max'`). With
 * `residual: 'skip'` groups of more than one layer are left alone and listed in `skipped`. The
 * blocks' inner convs (`layerN.M.conv1`) are ordinary single-layer groups either way.
 *
 * Concatenation (DenseNet). Concat along axis 1 joins the segment lists, so every layer feeding a
 * Concat is pruned independently and the consumers of the concatenation (the next batch norms and
 * convs) drop the matching offsets.
 *
 * Grouped convolutions (ResNeXt, RegNet; group G, neither 1 nor depthwise) keep G: output group j
 * reads input group j only, so a grouped conv's own channels are removed in equal numbers from
 * each of its G output groups, and the layer feeding it loses equal numbers from each of the G
 * input groups (weight dim 1 is sliced per group). A channel space with such constraints is split
 * into L equal blocks (L = the lcm of the G's involved; ⌊p·C/L⌋ channels, the lowest-scored, go
 * from each block, every block keeps at least one); a space whose size L does not divide, or
 * that reaches a grouped conv mixed with other channels (after a Concat), is not pruned.
 *
 * Layers that cannot be pruned safely — their channels reach an op not listed above (Softmax over
 * channels, Transpose, Slice, Split, Gather, a Reshape that is not a flatten, …),
 * a computed (not stored) weight or bias, or an Add whose partner is not prunable — are skipped and
 * reported (`skipUnprunable: true`, default), or, with `skipUnprunable: false`, make pruning throw
 * a FlipguardError naming the layer (only when the layer would actually lose channels). The output
 * layer (whose channels reach a graph output) is never pruned and is listed in `skipped`; naming
 * it in `layers` is an error.
 */
import { check, FlipguardError } from '../errors.js';
import { opSet } from '../graph/ops/index.js';
import { A, attrInt, attrInts, consumers, copyGraph, readInitializersDirectly } from '../graph/builder.js';
import { numel } from '../graph/dtype.js';
import { analyzeShapes } from '../graph/shapes.js';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../graph/types.js';
import { computeLayers, nodeLabel } from '../graph/layers.js';
import { checkRatio, layerScores, topIndices, type Scores } from '../analysis/scores.js';
import { NameScope } from '../graph/editor.js';

export interface PruneChannelsOptions {
  /**
   * Importance per output channel (conv) or neuron (dense) of each layer, higher = keep (e.g.
   * paper A's Eq. (1) vulnerability, or `l1Scores`). Layers are matched by label (graph/layers.ts: node name, or output name of an unnamed node).
   */
  scores: Scores;
  /** Fraction p_conv ∈ [0, 1] of output channels removed from every conv layer (⌊p·C⌋ channels, keeping minKeep). */
  conv: number;
  /** Fraction p_fc ∈ [0, 1] of neurons removed from every hidden dense layer (never the output layer; keeping minKeep). */
  fc: number;
  /** Channels every layer keeps at least (whole number ≥ 1; default 1). */
  minKeep?: number;
  /**
   * Prune only these layers (labels, graph/layers.ts; a residual group is pruned when any of its members is
   * named). Default: every prunable conv and hidden dense layer. Naming an unknown layer, a layer
   * that is not conv/dense, or the output layer throws a FlipguardError.
   */
  layers?: string[];
  /** Residual groups (channels meeting at an Add): 'group' prunes them as one (default); 'skip' leaves them. */
  residual?: 'group' | 'skip';
  /** How a residual group combines its members' (mean-|s|-normalised) scores: 'sum' (default) or 'max'. */
  groupScore?: 'sum' | 'max';
  /**
   * true (default): layers whose channels cannot be sliced safely are skipped and listed in
   * `skipped`. false: such a layer throws a FlipguardError naming it (when it would lose channels).
   */
  skipUnprunable?: boolean;
}

/** What pruning did to one layer. Channel indices refer to the original layer, ascending. */
export interface RemovedChannels {
  layer: string;
  op: string;
  kind: 'conv' | 'dense';
  /** Output channels (conv) or neurons (dense) before pruning. */
  channels: number;
  kept: number[];
  removed: number[];
  /** All layers pruned together with this one (a residual group), when more than one. */
  group?: string[];
}

export interface SkippedLayer {
  layer: string;
  /** One sentence: why the layer was not pruned. */
  reason: string;
  group?: string[];
}

export interface PruneChannelsResult {
  /** The pruned model (a new Model; the input is not modified). */
  model: Model;
  /** Every conv / dense layer considered for pruning, in graph order (removed may be empty). */
  removed: RemovedChannels[];
  /** Conv / dense layers left unpruned, with the reason. */
  skipped: SkippedLayer[];
}

/** A set of layers whose output channels must be pruned identically. */
export interface ChannelGroup {
  /** Node names, in graph order. */
  layers: string[];
  kind: 'conv' | 'dense' | 'mixed';
  channels: number;
  /** 'prunable'; 'output' (reaches a graph output); 'unprunable' (see reason). */
  status: 'prunable' | 'output' | 'unprunable';
  reason?: string;
  /** Equal blocks the channels are pruned in (grouped convs read or produce them); absent: 1. */
  blocks?: number;
}

// ───────────────────────────── channel analysis ─────────────────────────────

/** A run of `size` channels of one space (null: channels that are not prunable), each `inner` positions long. */
interface Seg { space: number | null; size: number; inner: number }
type Desc = Seg[];

interface Space { id: number; node: Node; kind: 'conv' | 'dense'; channels: number }

type Edit =
  | { kind: 'conv'; space: number; input: string }
  | { kind: 'depthwise'; input: string }
  | { kind: 'grouped'; space: number; input: string; group: number }
  | { kind: 'gemm'; space: number; input: string; transB: boolean; outChannels: number }
  | { kind: 'matmul'; space: number; input: string }
  | { kind: 'bn'; input: string }
  | { kind: 'broadcast'; output: string; consts: { idx: number; axis: number }[] }
  | { kind: 'reshape'; output: string; shape: string; values: number[] };

// Channel propagation kinds, read from the op registry (graph/ops/<Op>.ts, field `channels`)
const UNARY = opSet((r) => r.channels === 'elementwise');
const POOL = opSet((r) => r.channels === 'pool');
const BINARY = opSet((r) => r.channels === 'binary');
const REDUCE = opSet((r) => r.channels === 'reduce');

function hasSpace(d: Desc | undefined): d is Desc {
  return !!d && d.some((s) => s.space !== null);
}

class ChannelAnalysis {
  readonly spaces: Space[] = [];
  private readonly parent: number[] = [];
  /** Reasons a space cannot be pruned, by space id. */
  readonly blocked = new Map<number, string[]>();
  readonly outputs = new Set<number>();
  readonly descs = new Map<string, Desc>();
  readonly edits = new Map<Node, Edit>();
  readonly depthwise: Node[] = [];
  /** Per space: the group counts of grouped convs it feeds or is (its channels go in equal blocks). */
  readonly blocks = new Map<number, number[]>();
  readonly shapes: Map<string, number[]>;
  readonly values: Map<string, number[]>;
  private readonly g: Graph;
  private readonly cons: Map<string, Node[]>;

  constructor(readonly model: Model) {
    this.g = model.graph;
    const a = analyzeShapes(model, { batch: 2 });
    this.shapes = a.shapes;
    this.values = a.values;
    this.cons = consumers(this.g);
    for (const n of this.g.nodes) this.visit(n);
    for (const o of this.g.outputs) for (const s of this.descs.get(o.name) ?? []) if (s.space !== null) this.outputs.add(s.space);
    // also what `computeLayers` calls output layers (through Softmax, LogSoftmax, …)
    const outLayers = new Set(computeLayers(model).filter((l) => l.isOutput).map((l) => l.node));
    for (const s of this.spaces) if (outLayers.has(s.node)) this.outputs.add(s.id);
  }

  root(i: number): number {
    while (this.parent[i] !== i) { this.parent[i] = this.parent[this.parent[i]]; i = this.parent[i]; }
    return i;
  }

  private union(a: number, b: number): void {
    const ra = this.root(a), rb = this.root(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }

  private newSpace(node: Node, kind: 'conv' | 'dense', channels: number): number {
    const id = this.spaces.length;
    this.spaces.push({ id, node, kind, channels });
    this.parent.push(id);
    return id;
  }

  private block(space: number, reason: string): void {
    const l = this.blocked.get(space);
    if (l) { if (!l.includes(reason)) l.push(reason); } else this.blocked.set(space, [reason]);
  }

  private blockDesc(d: Desc | undefined, reason: string): void {
    for (const s of d ?? []) if (s.space !== null) this.block(s.space, reason);
  }

  private shape(v: string): number[] {
    return this.shapes.get(v) ?? [];
  }

  /** The channel description of value `v` (fixed channels when no space reaches it). */
  desc(v: string): Desc | undefined {
    const d = this.descs.get(v);
    if (d) return d;
    const s = this.shapes.get(v);
    return s && s.length >= 2 ? [{ space: null, size: s[1], inner: 1 }] : undefined;
  }

  private init(v: string | undefined): Tensor | undefined {
    return v ? this.g.initializers.get(v) : undefined;
  }

  /** Blocks every space reaching any input of `n` with a reason naming `n`. */
  private blockInputs(n: Node, why?: string): void {
    const reason = why ?? `its channels reach ${n.opType} node "${nodeLabel(n)}", which pruning cannot slice`;
    for (const i of n.inputs) if (i) this.blockDesc(this.descs.get(i), reason);
  }

  private visit(n: Node): void {
    const x = n.inputs[0];
    const dx = x ? this.descs.get(x) : undefined;
    const tracked = hasSpace(dx);
    const out = n.outputs[0];
    const op = n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}.${n.opType}`;
    switch (op) {
      case 'Conv': return this.conv(n, x, dx);
      case 'Gemm': return this.gemm(n, x, dx);
      case 'MatMul': return this.matmul(n, x, dx);
      case 'BatchNormalization': {
        if (!tracked) return;
        const ok = [1, 2, 3, 4].every((i) => { const t = this.init(n.inputs[i]); return t && t.dims.length === 1; });
        if (!ok) return this.blockInputs(n, `batch norm "${nodeLabel(n)}" has statistics that are not stored per-channel tensors`);
        if (n.outputs.filter(Boolean).length > 1) return this.blockInputs(n, `batch norm "${nodeLabel(n)}" is in training mode`);
        this.descs.set(out, dx);
        this.edits.set(n, { kind: 'bn', input: x });
        return;
      }
      case 'Flatten': {
        if (!tracked) return;
        const xs = this.shape(x);
        let axis = attrInt(n, 'axis', 1);
        if (axis < 0) axis += xs.length;
        if (axis !== 1) return this.blockInputs(n, `Flatten "${nodeLabel(n)}" flattens at axis ${axis}, not 1`);
        const m = numel(xs.slice(2));
        this.descs.set(out, dx.map((s) => ({ ...s, inner: s.inner * m })));
        return;
      }
      case 'Reshape': return this.reshape(n, x, dx);
      case 'Concat': {
        const ins = n.inputs.filter(Boolean);
        const ds = ins.map((v) => this.descs.get(v));
        if (!ds.some(hasSpace)) return;
        const os = this.shape(out);
        let axis = attrInt(n, 'axis', 1);
        if (axis < 0) axis += os.length;
        if (axis !== 1) return this.blockInputs(n, `Concat "${nodeLabel(n)}" joins along axis ${axis}, not the channel axis`);
        const joined: Desc = [];
        for (const v of ins) for (const s of this.desc(v) ?? []) joined.push(s);
        this.descs.set(out, joined);
        return;
      }
      case 'Squeeze': case 'Unsqueeze': {
        if (!tracked) return;
        const xs = this.shape(x), os = this.shape(out);
        const axes = attrInts(n, 'axes') ?? (n.inputs[1] ? this.values.get(n.inputs[1]) : undefined);
        const rank = op === 'Squeeze' ? xs.length : os.length;
        const norm = axes?.map((a) => (a < 0 ? a + rank : a));
        if (!norm || norm.some((a) => a <= 1) || os.length < 2 || os[0] !== xs[0] || os[1] !== xs[1]) {
          return this.blockInputs(n, `${op} "${nodeLabel(n)}" may change the channel axis`);
        }
        this.descs.set(out, dx);
        return;
      }
      case 'Pad': {
        if (!tracked) return;
        const rank = this.shape(x).length;
        const pads = attrInts(n, 'pads') ?? (n.inputs[1] ? this.values.get(n.inputs[1]) : undefined);
        if (!pads || pads.length !== 2 * rank || pads[1] !== 0 || pads[rank + 1] !== 0 || n.inputs[3]) {
          return this.blockInputs(n, `Pad "${nodeLabel(n)}" may pad the channel axis`);
        }
        this.descs.set(out, dx);
        return;
      }
      case 'Shape': {
        if (!tracked) return;
        const start = attrInt(n, 'start', 0), end = n.attributes.end ? attrInt(n, 'end', 0) : undefined;
        if (start === 0 && end === 1) return;
        const users = this.cons.get(out) ?? [];
        const batchOnly = users.length > 0 && users.every((u) => u.opType === 'Gather' && u.inputs[0] === out && attrInt(u, 'axis', 0) === 0
          && (this.values.get(u.inputs[1])?.every((v) => v === 0) ?? false));
        if (!batchOnly) this.blockInputs(n, `Shape "${nodeLabel(n)}" reads the channel count`);
        return;
      }
      default:
        if (UNARY.has(op) || POOL.has(op)) {
          if (!tracked) return;
          if (POOL.has(op) && this.shape(x).length < 3) return this.blockInputs(n);
          if (op === 'MaxPool' && n.outputs[1]) return this.blockInputs(n, `MaxPool "${nodeLabel(n)}" returns indices`);
          if (op === 'Clip' && n.inputs.slice(1).some((v) => v && numel(this.shape(v)) !== 1)) return this.blockInputs(n);
          for (const o of n.outputs) if (o) this.descs.set(o, dx);
          return;
        }
        if (BINARY.has(op)) return this.binary(n);
        if (REDUCE.has(op)) {
          // over spatial axes only (AdaptiveAvgPool exported as ReduceMean): per channel, like a pool
          if (!tracked) return;
          const rank = this.shape(x).length;
          const axes = attrInts(n, 'axes') ?? (n.inputs[1] ? this.values.get(n.inputs[1]) : undefined);
          if (!axes || !axes.length || axes.some((a) => (a < 0 ? a + rank : a) < 2)) return this.blockInputs(n, `${op} "${nodeLabel(n)}" reduces over the channel or batch axis`);
          this.descs.set(out, dx);
          return;
        }
        this.blockInputs(n);
    }
  }

  private conv(n: Node, x: string, dx: Desc | undefined): void {
    const out = n.outputs[0];
    const w = this.init(n.inputs[1]);
    if (!w || w.dims.length < 3) {
      this.blockDesc(dx, `its channels reach Conv "${nodeLabel(n)}", whose weight is computed rather than stored`);
      return;
    }
    const group = attrInt(n, 'group', 1);
    const cin = this.shape(x)[1];
    const cout = w.dims[0];
    const biasStored = !n.inputs[2] || !!this.init(n.inputs[2]);
    if (group === 1) {
      const sp = this.newSpace(n, 'conv', cout);
      if (!biasStored) this.block(sp, `its bias is computed rather than stored`);
      this.edits.set(n, { kind: 'conv', space: sp, input: x });
      this.descs.set(out, [{ space: sp, size: cout, inner: 1 }]);
    } else if (group === cin && cout === cin && w.dims[1] === 1) {
      // depthwise: output channel c reads input channel c only, so it follows its input's channels
      this.depthwise.push(n);
      if (!biasStored) this.blockDesc(dx, `its channels reach depthwise Conv "${nodeLabel(n)}", whose bias is computed`);
      else if (hasSpace(dx)) { this.descs.set(out, dx); this.edits.set(n, { kind: 'depthwise', input: x }); }
    } else {
      const sp = this.newSpace(n, 'conv', cout);
      this.descs.set(out, [{ space: sp, size: cout, inner: 1 }]);
      if (!(group > 1 && cin % group === 0 && cout % group === 0 && w.dims[1] === cin / group)) {
        this.blockDesc(dx, `its channels reach Conv "${nodeLabel(n)}", whose group ${group} does not divide its channels`);
        this.block(sp, `its group ${group} does not divide its channels`);
        return;
      }
      if (!biasStored) this.block(sp, `its bias is computed rather than stored`);
      this.addBlocks(sp, group);
      if (hasSpace(dx)) {
        // input group j feeds output group j: the input's space must lose equally in every group
        if (dx.length !== 1 || dx[0].inner !== 1) this.blockDesc(dx, `its channels reach grouped Conv "${nodeLabel(n)}" (group ${group}) together with other channels`);
        else this.addBlocks(dx[0].space!, group);
      }
      this.edits.set(n, { kind: 'grouped', space: sp, input: x, group });
    }
  }

  private addBlocks(space: number, group: number): void {
    const l = this.blocks.get(space);
    if (l) l.push(group); else this.blocks.set(space, [group]);
  }

  private gemm(n: Node, x: string, dx: Desc | undefined): void {
    const out = n.outputs[0];
    const w = this.init(n.inputs[1]);
    const transA = attrInt(n, 'transA', 0), transB = attrInt(n, 'transB', 0) !== 0;
    if (!w || w.dims.length !== 2 || transA) {
      this.blockInputs(n, `its channels reach Gemm "${nodeLabel(n)}", whose weight is computed or whose input is transposed`);
      return;
    }
    const cout = transB ? w.dims[0] : w.dims[1];
    const sp = this.newSpace(n, 'dense', cout);
    if (n.inputs[2]) {
      const c = this.init(n.inputs[2]);
      if (!c) this.block(sp, 'its bias is computed rather than stored');
      else if (c.dims.length > 2 || (c.dims.length === 2 && c.dims[0] !== 1)) this.block(sp, `its bias has shape [${c.dims.join(', ')}]`);
    }
    this.edits.set(n, { kind: 'gemm', space: sp, input: x, transB, outChannels: cout });
    this.descs.set(out, [{ space: sp, size: cout, inner: 1 }]);
  }

  private matmul(n: Node, x: string, _dx: Desc | undefined): void {
    const w = this.init(n.inputs[1]);
    if (!w || w.dims.length !== 2 || this.shape(x).length !== 2) {
      this.blockInputs(n, `its channels reach MatMul "${nodeLabel(n)}", which is not a dense layer with a stored 2-D weight`);
      return;
    }
    const sp = this.newSpace(n, 'dense', w.dims[1]);
    this.edits.set(n, { kind: 'matmul', space: sp, input: x });
    this.descs.set(n.outputs[0], [{ space: sp, size: w.dims[1], inner: 1 }]);
  }

  private reshape(n: Node, x: string, dx: Desc | undefined): void {
    if (!hasSpace(dx)) return;
    const out = n.outputs[0];
    const xs = this.shape(x), os = this.shape(out);
    const values = n.inputs[1] ? this.values.get(n.inputs[1]) : undefined;
    const same = xs.length === os.length && xs.every((d, i) => d === os[i]);
    const flat = os.length === 2 && xs.length >= 2 && os[0] === xs[0] && os[1] === numel(xs.slice(1));
    if (!values || (!same && !flat)) {
      this.blockInputs(n, `Reshape "${nodeLabel(n)}" is not a flatten to [N, −1]`);
      return;
    }
    const explicit = values.length >= 2 && values[1] > 0;
    if (explicit && !this.init(n.inputs[1])) {
      this.blockInputs(n, `Reshape "${nodeLabel(n)}" computes an explicit channel count at run time`);
      return;
    }
    const m = same ? 1 : numel(xs.slice(2));
    this.descs.set(out, dx.map((s) => ({ ...s, inner: s.inner * m })));
    if (explicit) this.edits.set(n, { kind: 'reshape', output: out, shape: n.inputs[1], values });
  }

  private binary(n: Node): void {
    const out = n.outputs[0];
    const os = this.shape(out);
    const ins = n.inputs.map((v, idx) => ({ v, idx, d: this.descs.get(v), s: this.shape(v) }));
    const tracked = ins.filter((i) => hasSpace(i.d));
    if (!tracked.length) return;
    const r = os.length;
    const why = `its channels meet other values at ${n.opType} "${nodeLabel(n)}" in a way pruning cannot follow`;
    if (r < 2 || tracked.some((i) => i.s.length !== r || i.s[1] !== os[1])) return this.blockInputs(n, why);
    const consts: { idx: number; axis: number }[] = [];
    for (const o of ins) {
      if (hasSpace(o.d)) continue;
      const k = 1 - (r - o.s.length);
      if (k < 0 || o.s[k] === 1) continue; // broadcast along the channel axis: nothing to slice
      if (this.init(o.v) && o.s[k] === os[1]) { consts.push({ idx: o.idx, axis: k }); continue; }
      return this.blockInputs(n, `its channels are combined at ${n.opType} "${nodeLabel(n)}" with channels that are not prunable`);
    }
    if (tracked.length === 2 && tracked[0].v !== tracked[1].v) {
      const a = tracked[0].d!, b = tracked[1].d!;
      const aligned = a.length === b.length && a.every((s, i) => s.size === b[i].size && s.inner === b[i].inner);
      if (!aligned) return this.blockInputs(n, why);
      a.forEach((s, i) => {
        const t = b[i];
        if (s.space !== null && t.space !== null) this.union(s.space, t.space);
        else if (s.space !== null || t.space !== null) {
          this.block((s.space ?? t.space)!, `its channels are added at ${n.opType} "${nodeLabel(n)}" to channels that are not prunable`);
        }
      });
    }
    this.descs.set(out, tracked[0].d!);
    if (consts.length) this.edits.set(n, { kind: 'broadcast', output: out, consts });
  }

  /** Groups of spaces pruned together, in graph order of their first member. */
  groups(): { root: number; members: Space[] }[] {
    const by = new Map<number, Space[]>();
    for (const s of this.spaces) {
      const r = this.root(s.id);
      const l = by.get(r);
      if (l) l.push(s); else by.set(r, [s]);
    }
    return [...by.entries()].map(([root, members]) => ({ root, members }));
  }
}

const gcd = (x: number, y: number): number => (y ? gcd(y, x % y) : x);

function groupInfo(a: ChannelAnalysis, members: Space[]): ChannelGroup {
  const kinds = new Set(members.map((m) => m.kind));
  const kind = kinds.size === 1 ? members[0].kind : 'mixed';
  const reasons = members.flatMap((m) => a.blocked.get(m.id) ?? []);
  const layers = members.map((m) => nodeLabel(m.node));
  const channels = members[0].channels;
  const blocks = members.flatMap((m) => a.blocks.get(m.id) ?? []).reduce((l, gr) => (l / gcd(l, gr)) * gr, 1);
  const b = blocks > 1 ? { blocks } : {};
  if (members.some((m) => a.outputs.has(m.id))) return { layers, kind, channels, status: 'output', reason: 'it produces the model\'s output (the output layer is never pruned)', ...b };
  if (kind === 'mixed') reasons.push('its channels are shared by conv and dense layers');
  if (channels % blocks !== 0) reasons.push(`grouped convs split its ${channels} channels into ${blocks} groups, which do not divide them`);
  if (reasons.length) return { layers, kind, channels, status: 'unprunable', reason: [...new Set(reasons)].join('; '), ...b };
  return { layers, kind, channels, status: 'prunable', ...b };
}

/**
 * The conv and dense layers of `model` grouped by which must keep the same channels (residual
 * groups have more than one layer), with whether each group can be pruned and why not.
 */
export function channelGroups(model: Model): ChannelGroup[] {
  const a = new ChannelAnalysis({ ...model, graph: readInitializersDirectly(model.graph) });
  return a.groups().map((gr) => groupInfo(a, gr.members));
}

// ───────────────────────────── slicing ─────────────────────────────

/** A copy of `t` keeping, along `axis`, only the indices `keep` (in that order). */
export function sliceAxis(t: Tensor, axis: number, keep: readonly number[]): Tensor {
  const dims = t.dims;
  const outer = numel(dims.slice(0, axis));
  const n = dims[axis];
  const inner = numel(dims.slice(axis + 1));
  const src = t.data;
  const Ctor = src.constructor as new (len: number) => typeof src;
  const dst = new Ctor(outer * keep.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < keep.length; j++) {
      const from = (o * n + keep[j]) * inner;
      (dst as Float32Array).set((src as Float32Array).subarray(from, from + inner), (o * keep.length + j) * inner);
    }
  }
  const nd = [...dims];
  nd[axis] = keep.length;
  return { name: t.name, dataType: t.dataType, dims: nd, data: dst };
}

/**
 * A grouped conv weight [C_out, C_in/G, …] keeping, for output group j, the input channels of
 * `keep` (positions in the full input, ascending) that lie in input group j — the same number in
 * every group (pruning removes equally per block).
 */
function slicePerGroup(w: Tensor, group: number, keep: readonly number[]): Tensor {
  const [cout, cinG] = w.dims;
  const local: number[][] = Array.from({ length: group }, () => []);
  for (const c of keep) local[Math.floor(c / cinG)].push(c % cinG);
  const k = local[0].length;
  if (local.some((l) => l.length !== k)) throw new Error(`internal: unequal input channels kept per group (${local.map((l) => l.length).join(', ')})`);
  const inner = numel(w.dims.slice(2));
  const src = w.data as Float32Array;
  const dst = new (src.constructor as Float32ArrayConstructor)(cout * k * inner);
  const outG = cout / group;
  for (let o = 0; o < cout; o++) {
    const l = local[Math.floor(o / outG)];
    for (let j = 0; j < k; j++) dst.set(src.subarray((o * cinG + l[j]) * inner, (o * cinG + l[j] + 1) * inner), (o * k + j) * inner);
  }
  return { name: w.name, dataType: w.dataType, dims: [cout, k, ...w.dims.slice(2)], data: dst };
}

/** Number of channels removed from a layer of `c` channels at ratio `p` (⌊p·c⌋, keeping `minKeep`). */
export function channelsToRemove(c: number, p: number, minKeep = 1): number {
  return Math.max(0, Math.min(Math.floor(p * c + 1e-9), c - minKeep));
}

/**
 * Removes the least important ⌊p·C⌋ output channels of every conv layer (p = `conv`) and neurons
 * of every hidden dense layer (p = `fc`), slicing every tensor that reads them (see the module
 * comment for what is followed, and how residual and concat structures are handled). Ties in the
 * scores keep the lower channel index and NaN scores rank lowest (analysis/scores.ts rankKey, the
 * rule hardening uses). Ratio 0 returns a model with identical initializers.
 *
 * Throws a FlipguardError for a ratio outside [0, 1] (checkRatio), a `minKeep` that is not a whole
 * number ≥ 1, scores naming a layer the model does not have or holding infinite values, `layers` naming an
 * unknown, non-conv/dense or output layer, and (with `skipUnprunable: false`) a layer that would
 * lose channels but cannot be sliced safely.
 */
export function pruneChannels(model: Model, opts: PruneChannelsOptions): PruneChannelsResult {
  const pConv = checkRatio(opts.conv, 'conv');
  const pFc = checkRatio(opts.fc, 'fc');
  const minKeep = opts.minKeep ?? 1;
  check(Number.isInteger(minKeep) && minKeep >= 1, `minKeep must be a whole number ≥ 1, got ${minKeep}.`);
  const residual = opts.residual ?? 'group';
  check(residual === 'group' || residual === 'skip', `The residual option must be "group" or "skip", got "${String(residual)}".`);
  const groupScore = opts.groupScore ?? 'sum';
  check(groupScore === 'sum' || groupScore === 'max', `The groupScore option must be "sum" or "max", got "${String(groupScore)}".`);
  const skipUnprunable = opts.skipUnprunable ?? true;
  const scores = opts.scores;
  check(scores && Array.isArray(scores.layers), 'Pruning needs scores per layer ({method, layers: [{name, scores}]}); compute them with "flipguard rank" or l1Scores.');

  const g = model.graph;
  const nodeNames = new Set(g.nodes.map((n, i) => nodeLabel(n, i)));
  for (const l of scores.layers) {
    check(nodeNames.has(l.name), () => `The ${scores.method} scores name layer "${l.name}", which this model does not have; compute the scores for this model.`);
    check(l.unit !== 'weight', () => `The ${scores.method} scores for layer "${l.name}" are per weight; pruning needs one score per output channel or neuron.`);
  }

  // PyTorch feeds deduplicated (e.g. all-zero) biases through Identity: slice the stored tensors
  const direct = { ...model, graph: readInitializersDirectly(g) };
  const a = new ChannelAnalysis(direct);
  const groups = a.groups();
  const layerNames = new Map<string, Space>();
  for (const s of a.spaces) layerNames.set(nodeLabel(s.node), s);

  let requested: Set<string> | undefined;
  if (opts.layers) {
    requested = new Set(opts.layers);
    for (const name of requested) {
      const s = layerNames.get(name);
      if (!s) {
        const dw = a.depthwise.find((n) => nodeLabel(n) === name);
        if (dw) throw new FlipguardError(`Layer "${name}" is a depthwise conv, whose channels follow its input's; prune the layer that feeds it instead.`);
        throw new FlipguardError(`No conv or dense layer named "${name}" to prune; the model's layers are ${[...layerNames.keys()].join(', ')}.`);
      }
      if (a.outputs.has(s.id)) throw new FlipguardError(`Layer "${name}" produces the model's output; the output layer cannot be pruned (it would change the number of classes) — remove it from the layers to prune.`);
    }
  }

  const keep = new Map<number, number[]>(); // root space → kept channels
  const removed: RemovedChannels[] = [];
  const skipped: SkippedLayer[] = [];
  /** `{ group }` for a residual group of several layers, else nothing (no undefined keys: reports are JSON). */
  const groupOf = (members: Space[]): { group?: string[] } => (members.length > 1 ? { group: members.map((m) => nodeLabel(m.node)) } : {});

  for (const { root, members } of groups) {
    const names = members.map((m) => nodeLabel(m.node));
    const info = groupInfo(a, members);
    if (requested && !names.some((nm) => requested!.has(nm))) continue;
    const c = info.channels;
    const p = info.kind === 'dense' ? pFc : pConv;
    // grouped convs: the same number from each of `blocks` equal blocks, each keeping at least one
    const blocks = info.blocks ?? 1;
    const size = c / blocks;
    const perBlock = blocks > 1 ? channelsToRemove(size, p, Math.max(1, Math.ceil(minKeep / blocks))) : 0;
    const r = blocks > 1 ? perBlock * blocks : channelsToRemove(c, p, minKeep);
    if (info.status === 'output') {
      for (const nm of names) skipped.push({ layer: nm, reason: info.reason!, ...groupOf(members) });
      continue;
    }
    if (info.status === 'unprunable') {
      if (!skipUnprunable && r > 0) {
        throw new FlipguardError(`Layer "${names[0]}" cannot be pruned safely: ${info.reason}; leave it out with the layers option or allow skipping (skipUnprunable: true).`);
      }
      for (const nm of names) skipped.push({ layer: nm, reason: `it cannot be pruned safely: ${info.reason}`, ...groupOf(members) });
      continue;
    }
    if (members.length > 1 && residual === 'skip') {
      for (const nm of names) skipped.push({ layer: nm, reason: `its channels are tied by residual additions to ${names.filter((x) => x !== nm).join(', ')} (residual: 'skip')`, group: names });
      continue;
    }
    let kept = Array.from({ length: c }, (_, i) => i);
    if (r > 0) {
      const per = members.map((m) => {
        const s = layerScores(scores, nodeLabel(m.node), c);
        // NaN is allowed and ranks lowest (rankKey); ±∞ would void a residual group's normalisation
        check(s.every((v) => typeof v === 'number' && v !== Infinity && v !== -Infinity), () => `The ${scores.method} scores for layer "${nodeLabel(m.node)}" contain values that are not numbers or are infinite; recompute them.`);
        return s;
      });
      let combined: number[];
      if (per.length === 1) combined = per[0];
      else {
        const norm = per.map((s) => {
          // mean |s| over the scores that are numbers (a NaN member score makes the channel's combined score NaN: lowest)
          const known = s.filter((v) => !Number.isNaN(v));
          const mean = known.reduce((acc, v) => acc + Math.abs(v), 0) / (known.length || 1);
          return mean > 0 ? s.map((v) => v / mean) : s;
        });
        combined = Array.from({ length: c }, (_, i) => (groupScore === 'max' ? Math.max(...norm.map((s) => s[i])) : norm.reduce((acc, s) => acc + s[i], 0)));
      }
      kept = [];
      for (let o = 0; o < c; o += size) for (const i of topIndices(combined.slice(o, o + size), size - r / blocks)) kept.push(o + i);
      kept.sort((x, y) => x - y);
      keep.set(root, kept);
    }
    const keptSet = new Set(kept);
    const gone = Array.from({ length: c }, (_, i) => i).filter((i) => !keptSet.has(i));
    for (const m of members) {
      removed.push({ layer: nodeLabel(m.node), op: m.node.opType, kind: m.kind, channels: c, kept: [...kept], removed: [...gone], ...groupOf(members) });
    }
  }
  for (const n of a.depthwise) skipped.push({ layer: nodeLabel(n), reason: 'it is a depthwise conv: its channels follow the layer feeding it' });

  const order = new Map<string, number>();
  g.nodes.forEach((n, i) => order.set(nodeLabel(n), i));
  removed.sort((x, y) => order.get(x.layer)! - order.get(y.layer)!);
  skipped.sort((x, y) => (order.get(x.layer) ?? 0) - (order.get(y.layer) ?? 0));

  return { model: keep.size ? rewrite(direct, a, keep) : model, removed, skipped };
}

/**
 * Reorders the output channels of layers: `orders` maps a layer (node name) to the new order of
 * its C channels (order[j] = the channel now at position j, a permutation of 0…C−1). Everything
 * that reads them follows exactly as in pruning (batch norms, consumers' input channels, constants
 * broadcast against them, flattened dense inputs), so the model computes the same function with
 * those values permuted. (A consumer conv then sums its input channels in another order: outputs
 * agree to float rounding, not bit for bit.) Only layers pruning could slice on their own are
 * reordered — not the output layer, not a member of a residual group, not a layer whose channels
 * reach an op channels cannot be followed through or a depthwise conv (whose own channels would move
 * too); the others are left as they are and not listed in `permuted`.
 */
export function permuteChannels(model: Model, orders: ReadonlyMap<string, readonly number[]>): { model: Model; permuted: string[] } {
  const a = new ChannelAnalysis(model);
  const intoDepthwise = new Set<number>();
  for (const n of a.depthwise) {
    const e = a.edits.get(n);
    for (const sg of (e?.kind === 'depthwise' ? a.desc(e.input) : undefined) ?? []) if (sg.space !== null) intoDepthwise.add(a.root(sg.space));
  }
  const keep = new Map<number, number[]>();
  const permuted: string[] = [];
  for (const { root, members } of a.groups()) {
    const order = members.length === 1 ? orders.get(nodeLabel(members[0].node)) : undefined;
    if (!order || groupInfo(a, members).status !== 'prunable' || intoDepthwise.has(root)) continue;
    const c = members[0].channels;
    check(order.length === c && new Set(order).size === c && order.every((i) => Number.isInteger(i) && i >= 0 && i < c),
      () => `The channel order for layer "${nodeLabel(members[0].node)}" must be a permutation of 0…${c - 1}.`);
    if (order.every((i, j) => i === j)) continue;
    keep.set(root, [...order]);
    permuted.push(nodeLabel(members[0].node));
  }
  return { model: keep.size ? rewrite(model, a, keep, 'permuted') : model, permuted };
}

/** Applies the kept-channel sets (or channel orders) to a copy of the model; a shared tensor gets a fresh `<name>.<suffix>`. */
function rewrite(model: Model, a: ChannelAnalysis, keep: Map<number, number[]>, suffix = 'pruned'): Model {
  const src = model.graph;
  const g = copyGraph(src);
  const spaceKeep = (sp: number) => keep.get(a.root(sp));
  /** Kept positions along the channel axis of a value (undefined: unchanged). */
  const positions = (v: string): number[] | undefined => {
    const d = a.desc(v);
    if (!d || !d.some((s) => s.space !== null && spaceKeep(s.space))) return undefined;
    const out: number[] = [];
    let off = 0;
    for (const s of d) {
      const k = s.space !== null ? spaceKeep(s.space) : undefined;
      if (k) for (const c of k) for (let i = 0; i < s.inner; i++) out.push(off + c * s.inner + i);
      else for (let i = 0; i < s.size * s.inner; i++) out.push(off + i);
      off += s.size * s.inner;
    }
    return out;
  };

  const uses = new Map<string, number>();
  for (const n of src.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  const protectedNames = new Set([...src.outputs.map((o) => o.name), ...src.inputs.map((i) => i.name)]);
  const taken = new NameScope([...src.initializers.keys(), ...src.nodes.flatMap((n) => n.outputs)]);
  const replaced = new Set<string>();
  const changed = new Map<string, number[]>(); // initializer name → new dims
  const fresh = (base: string) => taken.variant(`${base}.${suffix}`, (k) => `_${k + 1}`);

  const tensorOf = (node: Node, idx: number): Tensor => g.initializers.get(node.inputs[idx])!;
  const put = (node: Node, idx: number, t: Tensor) => {
    const name = node.inputs[idx];
    if ((uses.get(name) ?? 0) > 1 || protectedNames.has(name)) {
      const nm = fresh(name);
      node.inputs[idx] = nm;
      g.initializers.set(nm, { ...t, name: nm });
      replaced.add(name);
      changed.set(nm, t.dims);
    } else {
      g.initializers.set(name, { ...t, name });
      changed.set(name, t.dims);
    }
  };
  const slice = (node: Node, idx: number, axis: number, k: number[] | undefined) => {
    if (!k || !node.inputs[idx]) return;
    put(node, idx, sliceAxis(tensorOf(node, idx), axis, k));
  };

  src.nodes.forEach((orig, i) => {
    const e = a.edits.get(orig);
    if (!e) return;
    const n = g.nodes[i];
    switch (e.kind) {
      case 'conv': {
        const ko = spaceKeep(e.space), ki = positions(e.input);
        slice(n, 1, 0, ko); slice(n, 1, 1, ki); slice(n, 2, 0, ko);
        break;
      }
      case 'depthwise': {
        const ki = positions(e.input);
        if (!ki) break;
        slice(n, 1, 0, ki); slice(n, 2, 0, ki);
        n.attributes.group = A.i(ki.length);
        break;
      }
      case 'grouped': {
        const ko = spaceKeep(e.space), ki = positions(e.input);
        slice(n, 1, 0, ko); slice(n, 2, 0, ko);
        if (ki) put(n, 1, slicePerGroup(tensorOf(n, 1), e.group, ki));
        break;
      }
      case 'gemm': {
        const ko = spaceKeep(e.space), ki = positions(e.input);
        if (e.transB) { slice(n, 1, 0, ko); slice(n, 1, 1, ki); } else { slice(n, 1, 0, ki); slice(n, 1, 1, ko); }
        if (ko && n.inputs[2]) {
          const c = tensorOf(n, 2);
          if (c.dims.length >= 1 && c.dims[c.dims.length - 1] === e.outChannels) slice(n, 2, c.dims.length - 1, ko);
        }
        break;
      }
      case 'matmul': {
        slice(n, 1, 0, positions(e.input)); slice(n, 1, 1, spaceKeep(e.space));
        break;
      }
      case 'bn': {
        const ki = positions(e.input);
        for (let j = 1; j <= 4; j++) slice(n, j, 0, ki);
        break;
      }
      case 'broadcast': {
        const k = positions(e.output);
        for (const c of e.consts) slice(n, c.idx, c.axis, k);
        break;
      }
      case 'reshape': {
        const k = positions(e.output);
        if (!k) break;
        const t = tensorOf(n, 1);
        const vals = [...e.values];
        vals[1] = k.length;
        const data = t.dataType === DataType.INT64 ? BigInt64Array.from(vals.map((v) => BigInt(v))) : Int32Array.from(vals);
        put(n, 1, { name: t.name, dataType: t.dataType, dims: [...t.dims], data });
        break;
      }
    }
  });

  const stillUsed = new Set<string>(g.nodes.flatMap((n) => n.inputs));
  for (const nm of replaced) if (!stillUsed.has(nm) && !protectedNames.has(nm)) g.initializers.delete(nm);
  // value_info for values whose channel count changed is stale: drop it
  const resized = new Set<string>();
  for (const v of g.valueInfo) if (positions(v.name)) resized.add(v.name);
  g.valueInfo = g.valueInfo.filter((v) => !resized.has(v.name));
  if (g.initializerInputs) {
    g.initializerInputs = g.initializerInputs
      .filter((v) => g.initializers.has(v.name))
      .map((v) => (changed.has(v.name) ? { ...v, shape: [...changed.get(v.name)!] } : v));
  }
  return { ...model, graph: g };
}
