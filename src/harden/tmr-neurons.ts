/**
 * Paper C: selective TMR of critical neurons (SPEC §4.4). A neuron is one element (channel, row,
 * col) of a conv layer's pre-activation output map, or one unit of a dense layer.
 *
 * The top q% neurons by the scores (unit 'neuron': C·H·W per conv layer in (c, h, w) row-major
 * order, C per dense layer; global ranking by default, `perLayer` to take q% of each layer) are
 * computed three times; the two extra computations use replica weights — copies of the filter
 * weights and bias of the protected neurons' channels (2·k·(filter size + 1 if biased)
 * parameters for the k channels P holding at least one protected neuron).
 *
 * Two constructions:
 *
 * 1. Conv layers where only some positions of P are protected (the usual case; a 2-D Conv with
 *    explicit pads) and this is the cheaper way: ONLY the protected neurons are recomputed (issue 14 — computing whole channels
 *    P triplicated almost every layer, since 15% of the neurons touch nearly every channel).
 *    With m = the most protected positions of one channel of P, X the conv input [N, Cin, H, W]:
 *
 *      Xt = Transpose(X) → [Cin·H·W, N] (+ one zero row where a patch reaches the padding)
 *      G  = Gather(Xt, patch index [k, Cin/g·kh·kw, m]) → [k, Cin/g·kh·kw, m·N]   (im2col of the
 *           protected positions only; a channel with fewer than m repeats its first position)
 *      R  = MatMul(replicas [k, 2, Cin/g·kh·kw], G) + replica bias [k, 2, 1]     → b, c
 *
 *    This is not onnxruntime's Conv kernel, so b and c may differ from the original a by float
 *    rounding. The voter therefore keeps a whenever it lies within τ of b or of c, where τ is a
 *    bound on the rounding of two evaluations of the same dot product in any order,
 *    τ = (K + 2)·2⁻²²·(‖w‖₁·max|X| + |bias|) (+ an underflow term; K = Cin/g·kh·kw, ‖w‖₁ from
 *    replica 1, max|X| per image): fault-free, a always agrees and every output is the
 *    original's, bit for bit. Otherwise the exact voter below runs on (a, b, c): a fault in the
 *    original weights (|a − b| > τ unless it moves the neuron by less than a few ulps of its
 *    terms) gives the replicas' value, which equals the fault-free one to float rounding. The voted values are scattered back (ScatterElements) into the conv output.
 *    Cost: 2·k·m·K MACs per image (≈ paper C's 2·(protected neurons)·K, plus the padding to m),
 *    one pass over X for the transpose and one for max|X|.
 *
 * 1b. Conv layers where construction 1 would cost more (small input patches, few channels — a cost
 *    model per layer, `positionsCheaper`; option replicas 'auto', the default) or does not apply:
 *    the layer is widened by two copies of the filters P (exact copies, as in 2), and the exact
 *    voter runs only at the protected positions: a, b, c gathered from the widened output at
 *    [3, n] flat indices, the votes scattered into its first C channels. Bit-exact, also when
 *    correcting.
 *
 * 2. Dense layers, convs with every position of P protected, and option replicas 'channels':
 *    ONE widened weight [C + 2k, …] (original filters in place, then two copies of the filters P)
 *    → Y [N, C+2k, H, W]; a = Y[:, P], b, c = the two replica slices, each NaN → 0;
 *    v = value shared by ≥ 2 copies, else the median (option allDiffer: 'min');
 *    m = Where(mask, v, a) with a constant bool mask [1, k, H, W] true at the protected positions;
 *    unprotected channels pass through; Concat + one Gather restore channel order. The replica
 *    convolution computes whole channels P (bit-identical to the original channel).
 *
 * The report gives both counts:
 * - `graphReplicaMacs`: what the graph computes (countModel agrees; for construction 2 on a
 *   grouped conv k counts the whole groups holding P, which the copy conv computes — layers.ts);
 * - `protectedNeuronMacs` = 2·(protected neurons)·(Cin/g·kh·kw): paper C's cost model.
 * For dense layers both are equal (each channel is one neuron).
 */
import { FlipguardError } from '../errors.js';
import { A, attrInts, attrString } from '../graph/builder.js';
import { inferShapes } from '../graph/shapes.js';
import { DataType, defaultOpset, type Model } from '../graph/types.js';
import type { Scores } from '../analysis/scores.js';
import { GraphEditor, type Emitter } from './graph-edit.js';
import { COPY_TAG, copiedChannels, layerSites, spatial, widenSite, type LayerSite } from './layers.js';
import { channelStage, float32Stage, nanToZero, vote3, type AllDiffer } from './stages.js';
import { chooseUnits, type StageRecord } from './common.js';

/**
 * How tmr-neurons recomputes a conv layer's protected neurons: 'auto' (default) picks per layer the
 * cheaper of construction 1 (protected positions only) and 1b (whole channels, vote only at the
 * protected positions); 'positions' takes 1 wherever it applies; 'channels' is construction 2
 * (whole channels, masked vote over them — the construction before issue 14's rework).
 */
export type NeuronReplicas = 'auto' | 'positions' | 'channels';

export interface TmrNeuronOptions {
  /** Share q in [0, 1] of neurons to protect. */
  ratio: number;
  /** Neuron scores (unit 'neuron'), e.g. paper C's criticality; required when q > 0. */
  scores?: Scores;
  /** Take q of each layer's neurons (default false: global top-q over all layers). */
  perLayer?: boolean;
  /** Voter output when all three copies differ (default 'median', paper C). */
  allDiffer?: AllDiffer;
  /** See NeuronReplicas (default 'auto'). */
  replicas?: NeuronReplicas;
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
  const replicas = opts.replicas ?? 'auto';
  if (replicas !== 'auto' && replicas !== 'positions' && replicas !== 'channels') throw new FlipguardError(`The tmr-neurons option replicas "${String(replicas)}" is unknown; use auto, positions or channels.`);
  const sites = layerSites(model);
  const counts = sites.map((s) => s.channels * spatial(s));
  const chosen = chooseUnits(sites, counts, opts, 'neuron', 'tmr-neurons', "neuron scores (unit 'neuron', one per output element)");

  const ed = new GraphEditor(model);
  const zero = ed.atStart().scalar(0, 'harden.zero');
  const shapes = inferShapes(model, { batch: 1 });
  const opset = defaultOpset(model);
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
    const sparse = replicas !== 'channels' && site.kind === 'conv' && neurons.length < P.length * hw;
    const geo = sparse ? patchGeometry(model, site, shapes) : undefined;
    if (geo && (replicas === 'positions' || positionsCheaper(site, geo, neurons, P))) {
      const { macs, stage } = patchNeurons(ed, site, geo, neurons, P, { zero, opset, allDiffer });
      layers.push({
        name: site.name, kind: site.kind, channels: C, neurons: counts[si], protected: neurons.length, replicatedChannels: P.length,
        graphReplicaMacs: macs, protectedNeuronMacs: 2 * neurons.length * per,
        replicaParameters: 2 * P.length * (per + (site.bias ? 1 : 0)),
      });
      stages.push(stage);
      return;
    }
    const computed = copiedChannels(site, P);
    layers.push({
      name: site.name, kind: site.kind, channels: C, neurons: counts[si], protected: neurons.length, replicatedChannels: P.length,
      graphReplicaMacs: 2 * computed * hw * per, protectedNeuronMacs: 2 * neurons.length * per,
      replicaParameters: 2 * computed * (per + (site.bias ? 1 : 0)),
    });
    if (sparse) { stages.push(sparseVote(ed, site, neurons, P, { zero, allDiffer })); return; }
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
      wide, out, C, prot: P, copies: 2, label: `${site.name}.tmr`, dtype: site.dtype,
      merge: (e, a, [b, c]) => {
        const v = vote3(e, nanToZero(e, a, zero), nanToZero(e, b, zero), nanToZero(e, c, zero), allDiffer);
        return mask ? e.where(mask, v, a) : v;
      },
    });
    stages.push({ kind: 'channels', input: wide, output: out, channels: C });
  });
  return { model: { ...model, graph: ed.finish() }, layers, stages, indices };
}

/** A 2-D Conv's geometry, for recomputing single output positions (construction 1). */
interface PatchGeometry {
  /** Conv input name and its per-image shape [Cin, H, W]. */
  x: string;
  cin: number; h: number; w: number;
  /** Output map [Ho, Wo]. */
  ho: number; wo: number;
  kh: number; kw: number;
  strides: [number, number];
  dilations: [number, number];
  /** Top and left pads. */
  pads: [number, number];
}

/** The geometry of `site` when construction 1 covers it (a 2-D float32 Conv with explicit or VALID pads), else undefined. */
function patchGeometry(model: Model, site: LayerSite, shapes: Map<string, number[]>): PatchGeometry | undefined {
  const node = model.graph.nodes[site.index];
  if (site.kind !== 'conv' || node.opType !== 'Conv' || site.shape.length !== 4) return undefined;
  const wt = model.graph.initializers.get(node.inputs[1]);
  const xs = shapes.get(node.inputs[0]);
  if (!wt || wt.dataType !== DataType.FLOAT || wt.dims.length !== 4 || !xs || xs.length !== 4) return undefined;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return undefined;
  const pads = autoPad === 'VALID' ? [0, 0, 0, 0] : attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const strides = attrInts(node, 'strides') ?? [1, 1];
  const dilations = attrInts(node, 'dilations') ?? [1, 1];
  return {
    x: node.inputs[0], cin: xs[1], h: xs[2], w: xs[3], ho: site.shape[2], wo: site.shape[3], kh: wt.dims[2], kw: wt.dims[3],
    strides: [strides[0], strides[1]], dilations: [dilations[0], dilations[1]], pads: [pads[0], pads[1]],
  };
}

/**
 * Construction 1 (module comment) for `site`: recomputes the protected `neurons` (flat (c, h, w)
 * indices, ascending) of channels `P` twice from replica filters and votes them into the conv
 * output. Returns the replica MACs per image and the stage record.
 */
function patchNeurons(ed: GraphEditor, site: LayerSite, geo: PatchGeometry, neurons: readonly number[], P: readonly number[],
  o: { zero: string; opset: number; allDiffer: AllDiffer }): { macs: number; stage: StageRecord } {
  const g = ed.graph;
  const node = g.nodes[site.index];
  const wt = g.initializers.get(node.inputs[1])!;
  const C = site.channels, hw = geo.ho * geo.wo, k = P.length, n = neurons.length;
  const cg = geo.cin / site.group, K = cg * geo.kh * geo.kw, perGroup = C / site.group;
  const src = wt.data as Float32Array;
  const slotOf = new Map<number, number>(P.map((c, j) => [c, j]));
  // im2col of one output position: rows of Xt = [Cin·H·W (+ a zero row), N] read by output position pos for filter group grp
  const zeroRow = geo.cin * geo.h * geo.w;
  let padded = false;
  const patch = (pos: number, grp: number, idx: BigInt64Array, at: (t: number) => number): void => {
    const oy = Math.floor(pos / geo.wo), ox = pos % geo.wo;
    for (let ci = 0; ci < cg; ci++) {
      for (let dy = 0; dy < geo.kh; dy++) {
        for (let dx = 0; dx < geo.kw; dx++) {
          const y = oy * geo.strides[0] - geo.pads[0] + dy * geo.dilations[0];
          const x = ox * geo.strides[1] - geo.pads[1] + dx * geo.dilations[1];
          let row = zeroRow;
          if (y >= 0 && y < geo.h && x >= 0 && x < geo.w) row = ((grp * cg + ci) * geo.h + y) * geo.w + x;
          else padded = true;
          idx[at((ci * geo.kh + dy) * geo.kw + dx)] = BigInt(row);
        }
      }
    }
  };
  // replica filters and biases: [k, 2, K], [k, 2, 1] (stored once per channel, as paper C counts them)
  const rw = new Float32Array(k * 2 * K);
  P.forEach((c, j) => { for (const r of [0, 1]) rw.set(src.subarray(c * K, (c + 1) * K), (j * 2 + r) * K); });
  const reps = ed.init(`${wt.name}.replicas`, DataType.FLOAT, [k, 2, K], rw);
  let repBias: string | undefined;
  if (site.bias) {
    const b = g.initializers.get(site.bias.name)!.data as Float32Array;
    repBias = ed.init(`${site.bias.name}.replicas`, DataType.FLOAT, [k, 2, 1], Float32Array.from({ length: 2 * k }, (_, i) => b[P[i >> 1]]));
  }
  const { wide, out } = widenSite(ed, site, []);
  const e = ed.after(node);
  const L = `${site.name}.tmr`;
  const copy = { docString: COPY_TAG };
  // the replica nodes' constants are initializers: counting tools keep COPY_TAG nodes, not Constants tagged as stage
  const shape = (name: string, v: number[]): string => e.indexInit(`${L}.${name}`, v);
  const xtOf = (): string => {
    const xt = e.op('Reshape', [e.op('Transpose', [geo.x], { perm: A.is([1, 2, 3, 0]) }, copy), shape('rows', [zeroRow, -1])], {}, copy);
    return padded ? e.op('Pad', [xt, shape('pads', [0, 0, 1, 0])], { mode: A.s('constant') }, copy) : xt;
  };
  // pick [2, n]: where replica r of neuron i sits in the flattened per-image replica output
  const pick = new Array<number>(2 * n);
  let flatRep: string;
  let macs: number;
  if (site.group === 1) {
    // by output position: one patch per position serves every protected channel there (q = the most
    // channels protected at one position; fewer repeat their first): [S, 2q, K] × [S, K, N]
    const byPos = new Map<number, number[]>();
    for (const nn of neurons) { const pos = nn % hw; const l = byPos.get(pos) ?? []; l.push(Math.floor(nn / hw)); byPos.set(pos, l); }
    const positions = [...byPos.keys()].sort((a, b) => a - b);
    const S = positions.length, q = Math.max(...[...byPos.values()].map((l) => l.length));
    const pidx = new BigInt64Array(S * K), widx = new BigInt64Array(S * 2 * q);
    const slot = new Map<number, number>(); // neuron → j·… position slot·2q + j
    positions.forEach((pos, i) => {
      patch(pos, 0, pidx, (t) => i * K + t);
      const l = byPos.get(pos)!;
      for (let j = 0; j < q; j++) for (const r of [0, 1]) widx[i * 2 * q + r * q + j] = BigInt(2 * slotOf.get(l[j < l.length ? j : 0])! + r);
      l.forEach((c, j) => slot.set(c * hw + pos, i * 2 * q + j));
    });
    neurons.forEach((nn, i) => { pick[i] = slot.get(nn)!; pick[n + i] = slot.get(nn)! + q; });
    const widxName = e.editor.init(`${L}.replica_rows`, DataType.INT64, [S, 2 * q], widx);
    const w = e.op('Gather', [e.op('Reshape', [reps, shape('rk', [2 * k, K])], {}, copy), widxName], { axis: A.i(0) }, copy);
    const G = e.op('Gather', [xtOf(), e.editor.init(`${L}.patch_index`, DataType.INT64, [S, K], pidx)], { axis: A.i(0) }, copy);
    let rep = e.op('MatMul', [w, G], {}, { name: `${site.name}.replicas`, ...copy });
    if (repBias) rep = e.op('Add', [rep, e.op('Gather', [e.op('Reshape', [repBias, shape('rb', [2 * k, 1])], {}, copy), widxName], { axis: A.i(0) }, copy)], {}, copy);
    flatRep = e.op('Reshape', [rep, shape('rep_rows', [S * 2 * q, -1])], {}, copy);
    macs = 2 * q * S * K;
  } else {
    // grouped conv: neurons read their own group's inputs, so by channel (m = the most positions
    // protected in one channel; fewer repeat their first): [k, 2, K] × [k, K, m·N]
    const lists: number[][] = P.map(() => []);
    for (const nn of neurons) lists[slotOf.get(Math.floor(nn / hw))!].push(nn % hw);
    const m = Math.max(...lists.map((l) => l.length));
    const idx = new BigInt64Array(k * K * m);
    let i = 0;
    lists.forEach((l, j) => {
      for (let s = 0; s < m; s++) patch(l[s < l.length ? s : 0], Math.floor(P[j] / perGroup), idx, (t) => (j * K + t) * m + s);
      l.forEach((_, s) => { pick[i] = j * m + s; pick[n + i] = k * m + j * m + s; i++; });
    });
    const G = e.op('Gather', [xtOf(), e.editor.init(`${L}.patch_index`, DataType.INT64, [k, K, m], idx)], { axis: A.i(0) }, copy);
    let rep = e.op('MatMul', [reps, e.op('Reshape', [G, shape('kkm', [k, K, -1])], {}, copy)], {}, { name: `${site.name}.replicas`, ...copy });
    if (repBias) rep = e.op('Add', [rep, repBias], {}, copy);
    // [k, 2, m·N] → [2, k, m, N] → rows [2·k·m, N]
    const byCopy = e.op('Transpose', [e.op('Reshape', [rep, shape('k2mn', [k, 2, m, -1])], {}, copy)], { perm: A.is([1, 0, 2, 3]) }, copy);
    flatRep = e.op('Reshape', [byCopy, shape('rep_rows', [2 * k * m, -1])], {}, copy);
    macs = 2 * k * m * K;
  }
  const bc = e.op('Gather', [flatRep, e.editor.init(`${L}.replica_pick`, DataType.INT64, [2, n], BigInt64Array.from(pick, (v) => BigInt(v)))], { axis: A.i(0) }, copy);
  // the vote runs neuron-major, [1, n, N]: the replica rows are picked without transposing them
  const half = (i: number): string => e.op('Slice', [bc, e.int64s('starts', [1], [i]), e.int64s('ends', [1], [i + 1]), e.int64s('axes', [1], [0])]);
  // a: the conv's own values at the protected positions, [N, 1, n] → [1, n, N]
  const flat = e.op('Reshape', [wide, e.int64s('flat', [2], [0, -1])]);
  const where = e.editor.init(`${L}.neurons`, DataType.INT64, [1, n], BigInt64Array.from(neurons, (v) => BigInt(v)));
  const a = e.op('Transpose', [e.op('Gather', [flat, where], { axis: A.i(1) })], { perm: A.is([1, 2, 0]) });
  // τ [1, n, N] = s·(‖w‖₁·max|X| + |bias|) + underflow term, ‖w‖₁ and bias from replica 1
  const s = (K + 2) * 2 ** -22;
  const first = (t: string): string => e.op('Slice', [t, e.int64s('starts', [1], [0]), e.int64s('ends', [1], [1]), e.int64s('axes', [1], [1])]);
  const chan = e.indexInit(`${L}.channel_slot`, neurons.map((v) => slotOf.get(Math.floor(v / hw))!));
  const perNeuron = (t: string): string => e.op('Reshape', [e.op('Gather', [e.op('Mul', [t, e.scalar(s, 'slack')]), chan], { axis: A.i(0) }), e.int64s('n1', [2], [-1, 1])]);
  const norm = perNeuron(e.op('ReduceSum', [e.op('Abs', [first(reps)]), e.int64s('axes', [2], [1, 2])], { keepdims: A.i(0) }));
  const maxX = reduceMax(e, e.op('Abs', [geo.x]), [1, 2, 3], o.opset);
  let tau = e.op('Mul', [e.op('Reshape', [maxX, e.int64s('11n', [3], [1, 1, -1])]), norm]);
  const floor = e.scalar((K + 2) * 2 ** -126, 'underflow');
  tau = e.op('Add', [tau, repBias ? e.op('Add', [perNeuron(e.op('Reshape', [e.op('Abs', [first(repBias)]), e.int64s('k', [1], [k])])), floor]) : floor]);
  // vote: a when it agrees with a replica within τ, else the exact voter on (a, b, c)
  const [aa, bb, cc] = [a, half(0), half(1)].map((v) => nanToZero(e, v, o.zero));
  const off = (v: string): string => e.op('Greater', [e.op('Abs', [e.op('Sub', [aa, v])]), tau]);
  const voted = e.where(e.and(off(bb), off(cc)), vote3(e, aa, bb, cc, o.allDiffer), aa);
  scatterBack(e, flat, where, e.op('Transpose', [voted], { perm: A.is([2, 0, 1]) }), [C, geo.ho, geo.wo], out);
  return { macs, stage: { kind: 'channels', input: wide, output: out, channels: C } };
}

/**
 * Writes `voted` [N, 1, n] into `flat` [N, C·H·W] at the flat neuron indices `where` [1, n]
 * (ScatterElements along axis 1) and reshapes the result to [N, ...dims] named `out`.
 */
function scatterBack(e: Emitter, flat: string, where: string, voted: string, dims: number[], out: string): void {
  const n = Number(e.editor.graph.initializers.get(where)!.dims[1]);
  const rows = e.op('Slice', [e.op('Shape', [flat]), e.int64s('starts', [1], [0]), e.int64s('ends', [1], [1])]);
  const at = e.op('Expand', [where, e.op('Concat', [rows, e.int64s('n', [1], [n])], { axis: A.i(0) })]);
  const merged = e.op('ScatterElements', [flat, at, e.op('Reshape', [voted, e.int64s('nn', [2], [0, -1])])], { axis: A.i(1) });
  e.op('Reshape', [merged, e.int64s('back', [dims.length + 1], [-1, ...dims])], {}, { out });
}

/**
 * Construction 1b (module comment): whole channels P recomputed by the widened layer (exact copies),
 * the exact voter run only at the protected positions: a, b, c gathered from the widened output
 * [N, (C + 2k)·H·W] at [3, n] flat indices, the votes scattered into its first C channels.
 */
function sparseVote(ed: GraphEditor, site: LayerSite, neurons: readonly number[], P: readonly number[], o: { zero: string; allDiffer: AllDiffer }): StageRecord {
  const { wide, out } = widenSite(ed, site, [P, P]);
  const e = ed.after(ed.graph.nodes[site.tapIndex]);
  const C = site.channels, hw = spatial(site), k = P.length, n = neurons.length;
  const slotOf = new Map<number, number>(P.map((c, j) => [c, j]));
  const pick = new BigInt64Array(3 * n);
  neurons.forEach((v, i) => {
    const j = slotOf.get(Math.floor(v / hw))!, pos = v % hw;
    pick[i] = BigInt(v);
    pick[n + i] = BigInt((C + j) * hw + pos);
    pick[2 * n + i] = BigInt((C + k + j) * hw + pos);
  });
  const L = `${site.name}.tmr`;
  float32Stage(e, site.dtype, wide, out, (wideF, outF) => {
    const flatWide = e.op('Reshape', [wideF, e.int64s('flat', [2], [0, -1])]);
    const abc = e.op('Gather', [flatWide, e.editor.init(`${L}.pick`, DataType.INT64, [3, n], pick)], { axis: A.i(1) });
    const [aa, bb, cc] = [0, 1, 2].map((i) => nanToZero(e, e.op('Slice', [abc, e.int64s('starts', [1], [i]), e.int64s('ends', [1], [i + 1]), e.int64s('axes', [1], [1])]), o.zero));
    const originals = e.op('Slice', [flatWide, e.int64s('starts', [1], [0]), e.int64s('ends', [1], [C * hw]), e.int64s('axes', [1], [1])]);
    const where = e.editor.init(`${L}.neurons`, DataType.INT64, [1, n], BigInt64Array.from(neurons, (v) => BigInt(v)));
    scatterBack(e, originals, where, vote3(e, aa, bb, cc, o.allDiffer), site.shape.slice(1), outF);
  });
  return { kind: 'channels', input: wide, output: out, channels: C };
}

/**
 * Whether recomputing the protected positions (construction 1) is expected to be cheaper than
 * widening (1b) for this layer, by a cost model in conv-MAC equivalents measured from
 * onnxruntime profiles on this project's models (bench/RESULTS.md, issue 14): a gathered input
 * float costs ≈ 27 MACs of the NCHWc conv, a MAC of the small-M replica MatMul ≈ 3.
 *   positions: (gathered K·S — per channel slot for grouped convs: K·k·m — + the transposed
 *              input Cin·H·W) × 27 + replica MACs × 3;
 *   widening:  2·(computed channels)·H·W·K + (C + 2·computed)·H·W × 27 (NCHWc → NCHW reorder).
 */
function positionsCheaper(site: LayerSite, geo: PatchGeometry, neurons: readonly number[], P: readonly number[]): boolean {
  const hw = geo.ho * geo.wo, K = (geo.cin / site.group) * geo.kh * geo.kw;
  const count = (key: (v: number) => number): { groups: number; most: number } => {
    const m = new Map<number, number>();
    for (const v of neurons) m.set(key(v), (m.get(key(v)) ?? 0) + 1);
    return { groups: m.size, most: Math.max(...m.values()) };
  };
  let gathered: number, macs: number;
  if (site.group === 1) {
    const { groups: S, most: q } = count((v) => v % hw);
    gathered = S * K; macs = 2 * q * S * K;
  } else {
    const { most: m } = count((v) => Math.floor(v / hw));
    gathered = P.length * m * K; macs = 2 * P.length * m * K;
  }
  // each also moves a whole tensor: positions transpose the conv input, widening reorders its (C + 2k)-channel output to NCHW
  const computed = copiedChannels(site, P);
  return 27 * (gathered + geo.cin * geo.h * geo.w) + 3 * macs < 2 * computed * hw * K + 27 * (site.channels + 2 * computed) * hw;
}

/** ReduceMax over `axes` (kept) in the form the opset wants (axes input from opset 18). */
function reduceMax(e: Emitter, x: string, axes: number[], opset: number): string {
  if (opset >= 18) return e.op('ReduceMax', [x, e.int64s('axes', [axes.length], axes)], { keepdims: A.i(1) });
  return e.op('ReduceMax', [x], { axes: A.is(axes), keepdims: A.i(1) });
}
