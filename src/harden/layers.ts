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
import { A, attrInt, consumers, producers } from '../graph/builder.js';
import { storedParam, type StoredParam } from '../graph/stored.js';
import { checkStored, storedCopy, widenParam } from './formats.js';
import { inferShapes } from '../graph/shapes.js';
import type { Attribute, Model, Node } from '../graph/types.js';
import { DataType } from '../graph/types.js';
import { computeLayers, type ComputeLayer } from '../graph/layers.js';
import type { Emitter, GraphEditor } from './graph-edit.js';

export interface LayerSite {
  layer: ComputeLayer;
  /** The layer's label (graph/layers.ts), used in scores, reports and tensor names. */
  name: string;
  /** Index of the layer node in the graph's node list. */
  index: number;
  kind: 'conv' | 'dense';
  /** Output channels (conv) or units (dense). */
  channels: number;
  /** Conv `group` attribute (1 for dense layers and ordinary convs; C_in for depthwise). */
  group: number;
  /** Weight layout: output channel is the first axis ('rows': Conv, Gemm transB=1) or the last ('cols': Gemm transB=0, MatMul). */
  orient: 'rows' | 'cols';
  /** Index in the node list of the node producing the pre-activation value. */
  tapIndex: number;
  /** The pre-activation value's name. */
  tap: string;
  /** The weight as stored (float32, or converted from its format where it is read: harden/formats.ts). */
  weight: StoredParam;
  /** Where the bias enters: node index and input slot, its stored initializer's name and form (none when the layer has no bias or a scalar one). */
  bias?: { nodeIndex: number; slot: number; name: string; param: StoredParam };
  /**
   * Element type of the layer's output (its tap): DataType.FLOAT16 when it reads a float16 weight
   * directly (a native float16 model), else DataType.FLOAT (float32, and float16/bfloat16/int8
   * weights converted where they are read). A float16 layer's stage computes in float32 between
   * exact Casts (stages.ts float32Stage); its stored bounds and fills are float16 words.
   */
  dtype: number;
  /** Per-image shape of the tap at batch 1 (e.g. [1, C, H, W] or [1, C]). */
  shape: number[];
  isOutput: boolean;
}

/**
 * The conv/dense layers of `model` (computeLayers order) with their pre-activation taps.
 * Throws a FlipguardError for the cases hardening cannot handle (named in the message).
 */
export function layerSites(model: Model): LayerSite[] {
  const g = model.graph;
  const cons = consumers(g);
  const index = new Map<Node, number>();
  g.nodes.forEach((n, i) => index.set(n, i));
  const shapes = inferShapes(model, { batch: 1 });
  const prod = producers(g);
  const sites: LayerSite[] = [];
  for (const layer of computeLayers(model, { stored: true })) {
    const n = layer.node;
    const i = index.get(n)!;
    const name = layer.label;
    const weight = storedParam(g, n.inputs[1], prod)!;
    checkStored(weight, `weight of layer "${name}"`);
    let orient: 'rows' | 'cols' = 'rows';
    let tapIndex = i;
    let bias: Omit<NonNullable<LayerSite['bias']>, 'param'> | LayerSite['bias'];
    let group = 1;
    if (n.opType === 'Conv') {
      group = attrInt(n, 'group', 1);
      if (!Number.isInteger(group) || group < 1 || layer.outChannels % group !== 0) {
        throw new FlipguardError(`Layer "${name}" has group ${group}, which does not divide its ${layer.outChannels} output channels; the model is not a valid ONNX model — re-export it.`);
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
      const param = storedParam(g, bias.name, prod);
      if (!param) throw new FlipguardError(`The bias "${bias.name}" of layer "${name}" is computed in the graph rather than stored; flipguard can only harden layers whose bias is a stored tensor — re-export the model with constant folding.`);
      checkStored(param, `bias of layer "${name}"`);
      bias = { ...bias, name: param.tensor.name, param };
      const t = param.tensor;
      if (t.data.length === 1) bias = undefined; // a scalar bias broadcasts to any width
      else if (t.data.length !== layer.outChannels) {
        throw new FlipguardError(`The bias "${bias.name}" of layer "${name}" has ${t.data.length} values for ${layer.outChannels} outputs; flipguard can only harden layers with one bias per output channel.`);
      }
    }
    const tap = g.nodes[tapIndex].outputs[0];
    const shape = shapes.get(tap);
    if (!shape) throw new FlipguardError(`No shape is known for the output of layer "${name}"; check the model with "flipguard info".`);
    const dtype = !weight.via && weight.tensor.dataType === DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT;
    sites.push({ layer, name, index: i, kind: layer.kind, channels: layer.outChannels, group, orient, tapIndex, tap, weight, bias: bias as LayerSite['bias'], dtype, shape: [...shape], isOutput: layer.isOutput });
  }
  return sites;
}

/** Spatial elements per channel of the layer output (H·W for conv, 1 for dense). */
export function spatial(site: LayerSite): number {
  return site.shape.slice(2).reduce((a, b) => a * b, 1);
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
  if (site.group !== 1) throw new Error(`harden: widenLayer on grouped conv ${site.name}; use widenSite`);
  const g = ed.graph;
  const node = g.nodes[site.index];
  const C = site.channels;
  const order: number[] = [];
  for (let c = 0; c < C; c++) order.push(c);
  for (const grp of copies) order.push(...grp);
  const wDims = site.weight.tensor.dims;
  // rows: [C, …]; cols: [in, C] (row r holds one input's weights to every output channel)
  widenParam(ed, node, 1, site.weight, site.orient === 'rows' ? 0 : wDims.length - 1, order);
  if (site.bias) {
    // a bias reached through Identity is someone else's tensor too: widenParam never edits it in place
    widenParam(ed, g.nodes[site.bias.nodeIndex], site.bias.slot, site.bias.param, site.bias.param.tensor.dims.length - 1, order);
  }
  // IR < 4 files also list initializers as graph inputs, with their old shape: drop those entries
  if (g.initializerInputs) {
    const changed = new Set([site.weight.tensor.name, site.bias?.name]);
    g.initializerInputs = g.initializerInputs.filter((v) => !changed.has(v.name));
  }
  return order.length;
}

/**
 * Adds the copies of a grouped conv's output channels (group g > 1, depthwise included) as ONE
 * extra Conv beside the original, which stays untouched. Each copied channel brings its whole
 * group: with m = C/g output channels and n = C_in/g input channels per group, and Q_i the groups
 * holding the channels of copy list i (ascending),
 *
 *   Xc = Gather(X, input channels q·n … q·n + n − 1 of every q in Q_1, Q_2, …)   [N, Σ|Q_i|·n, H, W]
 *   Yc = Conv(Xc, filters of those groups, their bias) with group = Σ|Q_i|        [N, Σ|Q_i|·m, H', W']
 *   wide = Concat(Y, Gather(Yc, position of each copied channel))                [N, C + E, H', W']
 *
 * Why whole groups: every group of the copy conv then has exactly the original's shape (m filters
 * of n·kh·kw weights over the same input slice, same strides, pads, dilations), so onnxruntime runs
 * the same kernel with the same blocking and each copy is bit-identical to its original fault-free.
 * (A copy conv with one filter per group, i.e. only the copies asked for, gave logits that differ
 * in the last bits on the group-2 block of test/harden-grouped.test.ts: onnxruntime blocks the
 * sums differently when a group has fewer filters.) Widening the grouped conv itself would put the appended channels
 * into the last group, reading the wrong inputs. Cost: |Q|·m·n·kh·kw MACs per position and
 * parameters per copy — the copies asked for plus the other channels of their groups; for a
 * depthwise conv (m = n = 1) exactly one filter and one input channel per copy.
 *
 * The copies' weights and bias are new float32 initializers `<weight>.copies` / `<bias>.copies`
 * (their own stored words, so faults reach them). The nodes are tagged COPY_TAG, not HARDEN_TAG:
 * they are redundant layer computation, which counting tools keep (MACs), not a stage.
 * Returns the name of `wide`.
 */
function addGroupedCopies(ed: GraphEditor, site: LayerSite, copies: readonly (readonly number[])[], y: string): string {
  const g = ed.graph;
  const node = g.nodes[site.index];
  const w = site.weight.tensor;
  const C = site.channels;
  const m = C / site.group;
  const n = w.dims[1];
  const groups: number[] = []; // group of the original conv behind each group of the copy conv
  const pick: number[] = []; // channel of Yc holding each copy, in copy order
  for (const list of copies) {
    const qs = [...new Set(list.map((c) => Math.floor(c / m)))].sort((a, b) => a - b);
    const at = new Map(qs.map((q, j) => [q, groups.length + j]));
    for (const c of list) pick.push(at.get(Math.floor(c / m))! * m + (c % m));
    groups.push(...qs);
  }
  const channels = groups.flatMap((q) => Array.from({ length: m }, (_, i) => q * m + i));
  const e = ed.after(node);
  const tag = { docString: COPY_TAG };
  // the copies' stored words in the weight's own format (harden/formats.ts)
  const inputs = [storedCopy(ed, e, site.weight, 0, channels, `${w.name}.copies`, COPY_TAG)];
  if (site.bias) inputs.push(storedCopy(ed, e, site.bias.param, 0, channels, `${site.bias.name}.copies`, COPY_TAG));
  const inIdx = groups.flatMap((q) => Array.from({ length: n }, (_, i) => q * n + i));
  const { f32, back, wide } = float32Copies(ed, e, site);
  const x = back(e.op('Gather', [f32(node.inputs[0]), e.indexInit(`${site.name}.copy_input`, inIdx)], { axis: A.i(1) }, tag));
  let yc = f32(e.op('Conv', [x, ...inputs], { ...node.attributes, group: A.i(groups.length) }, { name: `${site.name}.copies`, ...tag }));
  if (pick.length !== groups.length * m || pick.some((p, i) => p !== i)) {
    yc = e.op('Gather', [yc, e.indexInit(`${site.name}.copy_pick`, pick)], { axis: A.i(1) }, tag);
  }
  return wide([f32(y), yc]);
}

/**
 * Adds the copies of an ungrouped layer whose outputs depend on how many channels it computes, so
 * that widening it would change its originals' last bits (copiesApart):
 * - a conv with one output position per image (H'·W' = 1, e.g. the last inception stages of
 *   GoogLeNet on 32×32 input): onnxruntime computes it as one matrix-vector product per image, and
 *   there the sum for an output channel depends on where the channel sits in the kernel's blocks of
 *   rows and on the total channel count (measured: a 832 → 250 1×1-output conv, 2 to 4 of 1000
 *   values differ, and a copy appended at the end differs from its original);
 * - a dense layer (Gemm, MatMul) whose weight onnxruntime computes at run time — a float16 or
 *   bfloat16 weight read through Cast, or a native float16 one, which onnxruntime casts itself: its
 *   matrix product then takes its blocks along the inputs (K) by the number of outputs (N), and a
 *   wider product sums the originals in other blocks (measured: shufflenet_v2's 1024 → 10 fc read
 *   through Cast, widened to 30 outputs, changes 35 of 40 logits). A float32 weight stored as it is
 *   is packed once when the session loads, with blocks that do not depend on N: widened in place.
 * So each copy list gets its own node of exactly the original's shape (C output channels), whose
 * output channels P_i hold the copies and the others zeros, and the copies are gathered from its
 * output:
 *
 *   W_i = Gather(Concat(<weight>.copies_i, 0), position of each channel in P_i, else the 0)   (bias likewise)
 *   Yc_i = layer(X, W_i, b_i);  wide = Concat(Y, Gather(Yc_i, P_i) for each i)
 *
 * Same shape, same kernel, same positions: each copy is bit-identical to its original. Stored
 * parameters are only the copies (`<weight>.copies`, with |P_i| channels: faults reach them); the
 * zeros are computed. The cost is the layer's MACs once per copy list (one position per image, or
 * a dense layer: small next to the convs). Returns the name of `wide`.
 */
function addApartCopies(ed: GraphEditor, site: LayerSite, copies: readonly (readonly number[])[], y: string): string {
  const g = ed.graph;
  const node = g.nodes[site.index];
  const tapNode = g.nodes[site.tapIndex];
  const C = site.channels;
  const e = ed.after(tapNode);
  const tag = { docString: COPY_TAG };
  // zeros of the layer's element type (ConstantOfShape's default fill is float32)
  const fill: Record<string, Attribute> = site.dtype === DataType.FLOAT16 ? { value: A.t({ name: '', dataType: DataType.FLOAT16, dims: [1], data: new Uint16Array(1) }) } : {};
  /** `p` with only its channels `list` along `axis` (stored as `name`), the others zeros: `p`'s shape. */
  const apart = (p: StoredParam, axis: number, list: readonly number[], name: string): string => {
    const stored = storedCopy(ed, e, p, axis, list, name, COPY_TAG);
    const dims = [...p.tensor.dims];
    dims[axis] = 1;
    const zero = e.op('ConstantOfShape', [e.indexInit(`${site.name}.copy_shape`, dims)], fill, tag);
    const at = new Map(list.map((c, j) => [c, j]));
    const index = e.indexInit(`${site.name}.copy_rows`, Array.from({ length: C }, (_, c) => at.get(c) ?? list.length));
    return e.op('Gather', [e.op('Concat', [stored, zero], { axis: A.i(axis) }, tag), index], { axis: A.i(axis) }, tag);
  };
  const { f32, wide } = float32Copies(ed, e, site);
  const parts = [f32(y)];
  copies.forEach((list, i) => {
    const inputs = [...node.inputs];
    inputs[1] = apart(site.weight, site.orient === 'rows' ? 0 : site.weight.tensor.dims.length - 1, list, `${site.weight.tensor.name}.copies`);
    const bias = site.bias && apart(site.bias.param, site.bias.param.tensor.dims.length - 1, list, `${site.bias.name}.copies`);
    if (bias && site.bias!.nodeIndex === site.index) inputs[site.bias!.slot] = bias;
    let yc = e.op(node.opType, inputs, { ...node.attributes }, { name: `${site.name}.copies${copies.length > 1 ? i + 1 : ''}`, ...tag });
    // a MatMul layer's bias Add, the same way round
    if (bias && site.bias!.nodeIndex !== site.index) yc = e.op('Add', tapNode.inputs.map((v, s) => (s === site.bias!.slot ? bias : v === node.outputs[0] ? yc : v)), {}, tag);
    parts.push(e.op('Gather', [f32(yc), e.indexInit(`${site.name}.copy_pick`, list)], { axis: A.i(1) }, tag));
  });
  return wide(parts);
}

/**
 * For a float16 layer (native float16 model): `f32` casts a value to float32 and `back` to float16,
 * so the Gathers and Concats that assemble copies run on float32 values as the hardening stages do
 * (stages.ts float32Stage: onnxruntime then keeps the layer's own float32 arithmetic instead of
 * rounding its output at a float16 Gather); `wide` concatenates the parts along the channels into
 * a fresh `<tap>.wide` of the layer's type. Identities for a float32 layer.
 */
function float32Copies(ed: GraphEditor, e: Emitter, site: LayerSite): { f32: (v: string) => string; back: (v: string) => string; wide: (parts: string[]) => string } {
  const tag = { docString: COPY_TAG };
  const half = site.dtype === DataType.FLOAT16;
  const cast = (v: string, to: number, out?: string): string => e.op('Cast', [v], { to: A.i(to) }, { ...(out ? { out } : {}), ...tag });
  return {
    f32: (v) => (half ? cast(v, DataType.FLOAT) : v),
    back: (v) => (half ? cast(v, DataType.FLOAT16) : v),
    wide: (parts) => {
      const out = ed.fresh(`${site.tap}.wide`);
      return half ? cast(e.op('Concat', parts, { axis: A.i(1) }, tag), DataType.FLOAT16, out) : e.op('Concat', parts, { axis: A.i(1) }, { out, ...tag });
    },
  };
}

/**
 * Output channels the copy computation of `site` really computes for the copy list `list`:
 * |list| for an ungrouped layer, the whole groups holding them for a grouped conv (see
 * addGroupedCopies). For replica MAC and parameter accounting.
 */
export function copiedChannels(site: LayerSite, list: readonly number[]): number {
  if (site.group === 1) return copiesApart(site) ? site.channels : list.length;
  const m = site.channels / site.group;
  return new Set(list.map((c) => Math.floor(c / m))).size * m;
}

/** Doc string of the nodes that compute copies of a grouped conv's channels (see addGroupedCopies). */
export const COPY_TAG = 'flipguard.harden.copy';

/**
 * Gives the layer of `site` appended copies of its output channels (`copies` as for widenLayer)
 * and re-taps its output: returns `wide` [N, C + Σ|copies|, …] (originals first, then the copies
 * in order) and `out`, the layer's original output name, which the hardening stage must produce.
 * Ungrouped layers are widened in place (widenLayer), except those whose outputs depend on their
 * width (copiesApart: convs with a 1×1 output map, dense layers with a float16 weight cast at run time),
 * which get same-shape copy layers (addApartCopies); grouped convs get a copy conv beside them
 * (addGroupedCopies). With no copies, `wide` is the layer's own output, renamed.
 */
export function widenSite(ed: GraphEditor, site: LayerSite, copies: readonly (readonly number[])[]): { wide: string; out: string } {
  const order = copies.flat();
  if (!order.length || (site.group === 1 && !copiesApart(site))) {
    if (order.length) widenLayer(ed, site, copies);
    return retap(ed, site);
  }
  const { wide: y, out } = retap(ed, site);
  return { wide: site.group === 1 ? addApartCopies(ed, site, copies, y) : addGroupedCopies(ed, site, copies, y), out };
}

/**
 * Whether the copies of ungrouped layer `site` are computed beside it by layers of its own shape
 * (addApartCopies): a conv with one output position per image, or a dense layer whose float16 or
 * bfloat16 weight onnxruntime casts at run time (read through Cast, or native float16). (Integer
 * weights read through DequantizeLinear stay widened: onnxruntime fuses them into integer kernels,
 * which requantize.ts keeps.)
 */
function copiesApart(site: LayerSite): boolean {
  if (site.kind === 'conv') return spatial(site) === 1;
  return site.weight.via?.opType === 'Cast' || site.dtype === DataType.FLOAT16;
}

/**
 * Renames the layer's pre-activation value to a fresh `<tap>.wide` name (what the widened layer
 * now produces) and returns both names: the hardening stage reads `wide` and writes `out` (the
 * original name), so every consumer — and a graph output of that name — is unchanged.
 */
function retap(ed: GraphEditor, site: LayerSite): { wide: string; out: string } {
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
