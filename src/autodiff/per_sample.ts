/**
 * Per-sample squared weight-gradient norms per output channel, in one graph for a whole batch.
 *
 * For image n, seed s (a gradient row on the logits, e.g. e_t − e_k for paper A's Eq. 1) and output
 * channel i of a Conv/Gemm/MatMul layer, the graph computes
 *
 *     Q[n, s, i] = Σ_{w ∈ W_i} ( ∂⟨seed_s, logits(x_n)⟩ / ∂w )²
 *
 * where W_i is the filter producing channel i (a Conv's [C_in/group, k…] slice; a Gemm/MatMul
 * weight row or column for output neuron i). Bias terms are included only with `includeBias`.
 *
 * How: the forward pass runs once on the N images; the backward pass (w.r.t. the layers' outputs
 * only, never the weights) runs on N·S rows, one per (image, seed), reading forward values gathered
 * to the rows. Each row's weight gradient is then contracted without summing over rows: for a dense
 * layer by the closed form Σ_j (dy_i·a_j)² = dy_i²·Σ_j a_j²; for a Conv by one of three methods
 * (see convNorms), the input's receptive fields and their Gram matrix being computed once per image.
 * Squares and channel sums happen in-graph; nothing is summed over images or seeds.
 */
import { FlipguardError } from '../errors.js';
import { A, attrFloat, attrInt } from '../graph/builder.js';
import { DataType, type Model, type Node, type ValueInfo } from '../graph/types.js';
import { analyzeForGradient } from './analysis.js';
import type { Emitter } from './emitter.js';
import { perSampleConvWeightGrad, windowOf } from './geometry.js';
import { buildGradient, type NodeOverride, type OverrideContext } from './gradient.js';

/**
 * Seeds on the logits, per image:
 * - `'predicted-margins'`: S = K seeds e_t − e_k, t = argmax of the image's logits (first on ties),
 *   k = 0…K−1 (the seed for k = t is zero, so its row is 0);
 * - `'label-margins'`: the same with t = the image's label (input `labels`, int64 [batch]);
 * - `'classes'`: S = K seeds e_k (gradients of each logit);
 * - `{ count: S }`: S seeds fed as input `seeds`, float32 [batch, S, K].
 */
export type SeedMode = 'predicted-margins' | 'label-margins' | 'classes' | { count: number };

export interface PerSampleOptions {
  /** Names of Conv, Gemm or MatMul nodes whose weights (an initializer) are measured. */
  layers: string[];
  /** Images per run N; the graph is built for exactly this many (it has N·S backward rows). */
  batch: number;
  seedFromLogits: SeedMode;
  /** The logits value; default the model's first output. */
  logits?: string;
  /** Add each channel's bias gradient² to its sum (default false: weights only). */
  includeBias?: boolean;
  /**
   * How Conv layers' per-sample gradients are contracted: 'group', 'patches', 'gram' or 'auto'
   * (default: the cheapest by convCosts). Results agree to float32 rounding.
   */
  convMethod?: ConvMethod;
}

export interface PerSampleGraph {
  model: Model;
  /** The data input, [batch, …image]. */
  input: string;
  /** int64 [batch] input, for 'label-margins'. */
  labelsInput?: string;
  /** float32 [batch, S, K] input, for custom seeds. */
  seedInput?: string;
  /** S, seeds per image. */
  seedsPerImage: number;
  /** K, the logits' size. */
  classes: number;
  /** Output holding the logits, [batch, K]. */
  logitsOutput: string;
  /** Per layer: output holding Q, [batch, S, channels]. */
  outputs: Map<string, string>;
  /** Output channels of each layer. */
  channels: Map<string, number>;
  batch: number;
}

/** The per-sample graph (see the module comment). Throws a FlipguardError for unknown or unsupported layers. */
export function perSampleGradGraph(model: Model, opts: PerSampleOptions): PerSampleGraph {
  const n = opts.batch;
  if (!Number.isInteger(n) || n < 1) throw new FlipguardError(`The per-sample batch must be a whole number ≥ 1, got ${n}.`);
  const g = model.graph;
  if (g.inputs.length !== 1) throw new FlipguardError(`Per-sample gradients need a model with exactly one data input, but it has ${g.inputs.length}; use a single-input classifier.`);
  const input = g.inputs[0];
  const logits = opts.logits ?? g.outputs[0]?.name;
  if (!logits) throw new FlipguardError('The model has no outputs to read logits from; pass opts.logits.');
  const imageShape = (input.shape ?? []).slice(1);
  if (!imageShape.every((d) => typeof d === 'number' && d > 0)) throw new FlipguardError(`The model input "${input.name}" has free image dimensions; per-sample gradients need fixed image sizes.`);
  const dims = (b: number) => ({ [input.name]: [b, ...(imageShape as number[])] });
  const base = analyzeForGradient(model, n, dims(n));
  // values with a batch axis first: their first size follows the batch
  const other = analyzeForGradient(model, n + 1, dims(n + 1));
  const batchValues = new Set([...base.shapes].filter(([k, v]) => v.length > 0 && other.shapes.get(k)?.[0] !== v[0]).map(([k]) => k));
  const ls = base.shapes.get(logits);
  if (!ls || ls.length !== 2) throw new FlipguardError(`The logits "${logits}" must have shape [batch, classes]; got [${(ls ?? []).join(', ')}].`);
  const classes = ls[1];
  const mode = opts.seedFromLogits;
  const s = typeof mode === 'object' ? mode.count : classes;
  if (typeof mode === 'object' && (!Number.isInteger(s) || s < 1)) throw new FlipguardError(`The seed count must be a whole number ≥ 1, got ${s}.`);
  if (typeof mode !== 'object' && !['predicted-margins', 'label-margins', 'classes'].includes(mode)) {
    throw new FlipguardError(`Unknown seed mode "${String(mode)}"; use predicted-margins, label-margins, classes or { count }.`);
  }
  const rows = n * s;

  const layerNodes: Node[] = opts.layers.map((name) => {
    const node = g.nodes.find((x) => x.name === name);
    if (!node) throw new FlipguardError(`No node named "${name}" in the model; pass Conv, Gemm or MatMul node names as layers.`);
    if (!['Conv', 'Gemm', 'MatMul'].includes(node.opType)) throw new FlipguardError(`Layer "${name}" is a ${node.opType}; per-sample norms are for Conv, Gemm and MatMul layers.`);
    if (!g.initializers.has(node.inputs[1])) throw new FlipguardError(`Layer "${name}" takes its weights "${node.inputs[1]}" from a computed value, not a parameter; pass layers with stored weights.`);
    // Gemm is 2-D; MatMul may act on every position of a channels-last tensor [N, …, K] (ConvNeXt)
    const inRank = base.shapes.get(node.inputs[0])?.length ?? 0;
    if (node.opType !== 'Conv' && (base.shapes.get(node.inputs[1])?.length !== 2 || (node.opType === 'Gemm' ? inRank !== 2 : inRank < 2))) {
      throw new FlipguardError(`Layer "${name}" (${node.opType}) is not a dense layer with a 2-D weight; per-sample norms support 2-D Gemm and MatMul with a 2-D weight only.`);
    }
    if (!batchValues.has(node.inputs[0]) || !batchValues.has(node.outputs[0])) throw new FlipguardError(`Layer "${name}" does not act per image (its input or output has no batch axis first); pass layers inside the per-image network.`);
    return node;
  });

  const used = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((x) => x.outputs)]);
  const unique = (b: string) => { let name = b; for (let i = 1; used.has(name); i++) name = `${b}_${i}`; used.add(name); return name; };
  let labelsInput: string | undefined;
  let seedInput: string | undefined;
  const extraInputs: ValueInfo[] = [];
  if (mode === 'label-margins') { labelsInput = unique('labels'); extraInputs.push({ name: labelsInput, elemType: DataType.INT64, shape: [n] }); }
  if (typeof mode === 'object') { seedInput = unique('seeds'); extraInputs.push({ name: seedInput, elemType: DataType.FLOAT, shape: [n, s, classes] }); }
  const rowImage = unique('per_sample_row_image');
  const rowImages = Array.from({ length: rows }, (_, r) => Math.floor(r / s));
  const fixed: Model = {
    ...model,
    graph: {
      ...g, inputs: [{ ...input, shape: [n, ...imageShape] }], outputs: [{ name: logits, elemType: DataType.FLOAT }],
      initializers: new Map([...g.initializers, [rowImage, { name: rowImage, dataType: DataType.INT64, dims: [rows], data: BigInt64Array.from(rowImages, BigInt) }]]),
    },
  };

  const outputs = new Map<string, string>();
  const channels = new Map<string, number>();
  const logitsOutput = unique(`${logits}_per_image`);
  const wrt = [...new Set(layerNodes.map((x) => x.outputs[0]))];
  const res = buildGradient(fixed, { wrt, batch: n }, {
    output: logits,
    override: rowsOverride(rowImage, rowImages, batchValues),
    seed: (e, target) => {
      for (const v of extraInputs) e.b.input(v.name, v.shape!, v.elemType);
      const eye = () => e.reshape(e.op('Expand', [e.floats(identity(classes), [1, classes, classes]), e.ints([n, classes, classes])]), [rows, classes]);
      if (mode === 'classes') return eye();
      if (typeof mode === 'object') return e.reshape(seedInput!, [rows, classes]);
      const t = mode === 'predicted-margins' ? e.op('ArgMax', [target], { axis: A.i(1), keepdims: A.i(0), select_last_index: A.i(0) }) : labelsInput!;
      const onehot = e.op('OneHot', [e.op('Gather', [t, rowImage], { axis: A.i(0) }), e.ints([classes], []), e.floats([0, 1])], { axis: A.i(-1) });
      return e.sub(onehot, eye());
    },
    finish: (e, grads, shapes) => {
      const outs: ValueInfo[] = [];
      e.b.node('Identity', [logits], {}, { name: 'post/logits', outputs: [logitsOutput] });
      outs.push({ name: logitsOutput, elemType: DataType.FLOAT, shape: [n, classes] });
      const ctx: NormContext = { e, shapes, n, s, rowImage, bias: opts.includeBias ?? false };
      for (const node of layerNodes) {
        e.prefix = `post/${node.name}/`;
        // a layer output with no gradient (not on a path to the logits): zeros, one row per (image, seed)
        const dy = grads.get(node.outputs[0]) ?? e.zerosLike(e.op('Gather', [node.outputs[0], rowImage], { axis: A.i(0) }));
        const ys = shapes.get(node.outputs[0])!;
        const shared = node.opType === 'MatMul' && ys.length > 2;
        const q = node.opType === 'Conv' ? convNorms(ctx, node, dy, opts.convMethod ?? 'auto') : shared ? sharedDenseNorms(ctx, node, dy) : denseNorms(ctx, node, dy);
        // output channels: axis 1 of a conv or 2-D dense output, the last axis of a channels-last MatMul
        const m = shared ? ys[ys.length - 1] : ys[1];
        const out = unique(`${node.name}_sq_grad_norms`);
        e.b.node('Reshape', [q, e.ints([n, s, m])], {}, { name: `post/${node.name}/out`, outputs: [out] });
        outputs.set(node.name, out);
        channels.set(node.name, m);
        outs.push({ name: out, elemType: DataType.FLOAT, shape: [n, s, m] });
      }
      return outs;
    },
  });
  return { model: res.model, input: input.name, labelsInput, seedInput, seedsPerImage: s, classes, logitsOutput, outputs, channels, batch: n };
}

/**
 * The backward pass over more rows than the forward pass, as a node override: row r belongs to
 * forward image rowImage[r] (`index`: an int64 [rows] value holding rowImage), and every rule sees
 * the forward values with a batch axis first (`batchValues`) gathered to the rows.
 */
function rowsOverride(index: string, rowImage: readonly number[], batchValues: ReadonlySet<string>): NodeOverride {
  const rows = rowImage.length;
  const gathered = new Map<string, string>();
  const rowsOf = (c: OverrideContext, v: string, make: () => string, type: number): string => {
    let t = gathered.get(v);
    if (!t) {
      const prefix = c.e.prefix;
      c.e.prefix = 'grad/rows/';
      t = c.declare(make(), [rows, ...c.shape(v).slice(1)], type);
      c.e.prefix = prefix;
      gathered.set(v, t);
    }
    return t;
  };
  const toRows = (c: OverrideContext, v: string): string =>
    !v || !batchValues.has(v) ? v : rowsOf(c, v, () => c.e.op('Gather', [v, index], { axis: A.i(0) }), c.type(v));
  // MaxPool indices are flat offsets into the whole batch: row r of image i needs + (r − i)·(C·H·W…)
  const rowIndices = (c: OverrideContext, n: Node): string => {
    const idx = n.outputs[1];
    if (!idx || attrInt(n, 'storage_order', 0) !== 0) return '';
    const per = c.shape(n.inputs[0]).slice(1).reduce((p, q) => p * q, 1);
    const rank = c.shape(idx).length;
    const offsets = rowImage.map((img, r) => (r - img) * per);
    return rowsOf(c, idx, () => c.e.add(c.e.op('Gather', [idx, index], { axis: A.i(0) }), c.e.ints(offsets, [rows, ...new Array<number>(rank - 1).fill(1)])), DataType.INT64);
  };
  return {
    backward(c) {
      const n = c.node;
      const outputs = n.outputs.map((o, i) => (n.opType === 'MaxPool' && i === 1 ? rowIndices(c, n) : toRows(c, o)));
      // requireRules is on: every node the sweep visits has a rule
      return c.rule!.backward({ ...c, node: { ...n, inputs: n.inputs.map((v) => toRows(c, v)), outputs } });
    },
  };
}

/** What the per-layer contractions need: shapes (forward values at N images), N, S and the row → image index. */
interface NormContext {
  e: Emitter;
  shapes: ReadonlyMap<string, number[]>;
  n: number;
  s: number;
  rowImage: string;
  bias: boolean;
}

function identity(k: number): number[] {
  const out = new Array<number>(k * k).fill(0);
  for (let i = 0; i < k; i++) out[i * k + i] = 1;
  return out;
}

/**
 * [N·S·M]: Σ over the filter of each row's weight gradient², for a Conv layer; dy is [N·S, M, out…].
 * Three ways:
 * - `group`: one Conv with group = rows·group (perSampleConvWeightGrad) forms every row's weight
 *   gradient (rows·M·C/g·K values) from the input gathered to the rows; then squares and sums;
 * - `patches`: the receptive fields P ([N, C·K, out], im2col, once per image) times the image's S
 *   output gradients, one batched MatMul per image, then squares and sums — also rows·M·C/g·K values;
 * - `gram`: never forms the gradient: Σ_w (dy_m·Pᵀ)_w² = dy_m·(PᵀP)·dy_mᵀ with the Gram matrix PᵀP
 *   of the image's output positions ([N, out, out]) — cheap when out is small (deep layers).
 * `auto` picks the cheapest by convCosts.
 */
function convNorms(c: NormContext, node: Node, dy: string, method: ConvMethod): string {
  const { e, shapes, n, s } = c;
  const [x, w, b] = node.inputs;
  const xs = shapes.get(x)!;
  const ys = shapes.get(node.outputs[0])!;
  const ws = shapes.get(w)!;
  const group = attrInt(node, 'group', 1);
  const win = windowOf(node, xs, ys, ws.slice(2), false);
  const taps = win.kernel.reduce((p, q) => p * q, 1);
  const out = win.outSpatial.reduce((p, q) => p * q, 1);
  const m = ys[1];
  const cg = xs[1] / group;
  const f = cg * taps;
  const chosen = method === 'auto' ? cheapestConvMethod(convCosts(m, f, out, taps, group, s)) : method;
  let q: string;
  if (chosen === 'group') {
    const xr = e.op('Gather', [x, c.rowImage], { axis: A.i(0) });
    const r = perSampleConvWeightGrad(e, xr, [n * s, ...xs.slice(1)], dy, group, n * s, win);
    // [C/g, rows·M, K…] → sum over the taps (contiguous), then over the channels (leading axis)
    const perChannel = e.reduce('ReduceSumSquare', e.reshape(r, [cg, n * s * m, taps]), [2], false);
    q = e.reduceSum(perChannel, [0], false);
  } else {
    const p4 = e.reshape(im2col(e, x, xs, win), [n, group, f, out]);
    // dy rows (n, s) → [N, g, S·M/g, out]
    let d4 = e.reshape(dy, [n, s, group, m / group, out]);
    d4 = e.reshape(group === 1 ? d4 : e.transpose(d4, [0, 2, 1, 3, 4]), [n, group, s * (m / group), out]);
    let perGroup: string;
    if (chosen === 'patches') {
      perGroup = e.reduce('ReduceSumSquare', e.op('MatMul', [d4, e.transpose(p4, [0, 1, 3, 2])]), [3], false);
    } else {
      const gram = e.op('MatMul', [e.transpose(p4, [0, 1, 3, 2]), p4]);
      perGroup = e.reduceSum(e.mul(e.op('MatMul', [d4, gram]), d4), [3], false);
    }
    // [N, g, S·M/g] → rows (n, s), channels (g, j)
    q = group === 1 ? perGroup : e.transpose(e.reshape(perGroup, [n, group, s, m / group]), [0, 2, 1, 3]);
    q = e.reshape(q, [-1]);
  }
  if (c.bias && b) {
    const perRow = e.reduceSum(dy, win.kernel.map((_, i) => i + 2), false);
    q = e.add(q, e.reshape(e.mul(perRow, perRow), [-1]));
  }
  return q;
}

/**
 * [N·S·M]: Σ_k (Σ_p x[p, k]·dy[p, m])² per row and output channel m, for a MatMul with a 2-D weight
 * [K, M] applied at every position p of a channels-last input [N, …, K] (a 1×1 convolution over P
 * positions); dy is [N·S, …, M]. The positions play the role of a conv's output positions in the
 * `patches` method of convNorms.
 */
function sharedDenseNorms(c: NormContext, node: Node, dy: string): string {
  const { e, shapes, n, s } = c;
  const xs = shapes.get(node.inputs[0])!;
  const ys = shapes.get(node.outputs[0])!;
  const k = xs[xs.length - 1];
  const m = ys[ys.length - 1];
  const p = xs.slice(1, -1).reduce((a, b) => a * b, 1);
  const x3 = e.reshape(node.inputs[0], [n, p, k]);
  const d3 = e.transpose(e.reshape(dy, [n, s * p, m]), [0, 2, 1]);
  // [N, S·P, M] → [N, S, P, M] → [N, S, M, P] → [N, S·M, P]
  const d4 = e.reshape(e.transpose(e.reshape(d3, [n, m, s, p]), [0, 2, 1, 3]), [n, s * m, p]);
  const perRow = e.reduce('ReduceSumSquare', e.op('MatMul', [d4, x3]), [2], false);
  return e.reshape(perRow, [-1]);
}

/** How per-sample Conv weight gradients are formed (see convNorms). */
export type ConvMethod = 'auto' | 'patches' | 'group' | 'gram';

/**
 * Relative cost per image of each method for a layer with m output channels, f = C/g·K filter
 * size, out output positions, K taps, g groups and S seeds per image: multiply-adds weighted by how
 * fast onnxruntime's CPU kernels ran them (measured per layer on LeNet-5, VGG-11 and ResNet-20 at
 * MNIST/CIFAR sizes): the group-Conv method runs at about half GEMM speed, the one-hot im2col Conv
 * at about a quarter.
 */
export function convCosts(m: number, f: number, out: number, taps: number, g: number, s: number): Record<'group' | 'patches' | 'gram', number> {
  const im2col = 4 * g * f * out * taps;
  return {
    group: 2 * s * m * f * out,
    patches: im2col + s * m * f * out,
    gram: im2col + g * out * out * f + s * m * out * out,
  };
}

function cheapestConvMethod(c: Record<'group' | 'patches' | 'gram', number>): 'group' | 'patches' | 'gram' {
  return (Object.keys(c) as ('group' | 'patches' | 'gram')[]).reduce((a, k) => (c[k] < c[a] ? k : a));
}

/**
 * The receptive fields of a convolution's input, [N, C·K, out] (K kernel taps, out output
 * positions; channel-major, tap-minor, as the weights are laid out): patches[n, c·K + k, o] =
 * x_padded[n, c, o·stride + k·dilation]. Computed as a depthwise Conv with one-hot kernels, which
 * handles strides, pads and dilations as the layer does.
 */
function im2col(e: Emitter, x: string, xs: readonly number[], w: ReturnType<typeof windowOf>): string {
  const c = xs[1];
  const taps = w.kernel.reduce((p, q) => p * q, 1);
  const onehot = new Array<number>(c * taps * taps).fill(0);
  for (let ch = 0; ch < c; ch++) for (let k = 0; k < taps; k++) onehot[(ch * taps + k) * taps + k] = 1;
  const kernels = e.floats(onehot, [c * taps, 1, ...w.kernel]);
  const patches = e.op('Conv', [x, kernels], {
    group: A.i(c), strides: A.is(w.strides), dilations: A.is(w.dilations), pads: A.is([...w.padsBegin, ...w.padsEnd]), kernel_shape: A.is(w.kernel),
  });
  return e.reshape(patches, [xs[0], c * taps, -1]);
}

/** [N·S·M]: dy_i²·Σ_j a_j² (·alpha²), plus beta²·dy_i² with a per-channel bias, for a dense layer; dy is [N·S, M]. */
function denseNorms(c: NormContext, node: Node, dy: string): string {
  const { e, shapes, n, s } = c;
  const [a, , bias] = node.inputs;
  const isGemm = node.opType === 'Gemm';
  const alpha = isGemm ? attrFloat(node, 'alpha', 1) : 1;
  const beta = isGemm ? attrFloat(node, 'beta', 1) : 1;
  const m = shapes.get(node.outputs[0])![1];
  const rowsA = isGemm && attrInt(node, 'transA', 0) ? e.transpose(a, [1, 0]) : a;
  const asq = e.reshape(e.reduce('ReduceSumSquare', rowsA, [1], false), [n, 1, 1]);
  const dsq = e.reshape(e.mul(dy, dy), [n, s, m]);
  let q = e.scale(e.mul(dsq, asq), alpha * alpha);
  // a per-channel bias (C of M elements) has per-row gradient beta·dy_i
  if (c.bias && isGemm && bias && shapes.get(bias)!.reduce((p, v) => p * v, 1) === m) q = e.add(q, e.scale(dsq, beta * beta));
  return e.reshape(q, [-1]);
}
