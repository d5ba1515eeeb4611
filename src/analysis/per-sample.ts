/**
 * Running per-sample gradient graphs (autodiff/per_sample.ts) over a set of images, and the bench hook
 * comparing them with a loop of batch-size-1 gradient graphs. It lives in `analysis/` because it runs
 * onnxruntime sessions (`runtime/`), which `autodiff/` (graph builders only) must not import.
 */
import { FlipguardError } from '../errors.js';
import { A, GraphBuilder, attrInt } from '../graph/builder.js';
import { DataType, type Model } from '../graph/types.js';
import { createSession, type RuntimeOptions } from '../runtime/session.js';
import { floatTensor, imageBatches, int64Tensor, type RunTensor, type Session } from '../runtime/batched.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_SEED } from '../defaults.js';
import { gradientGraph } from '../autodiff/gradient.js';
import { analyzeForGradient } from '../autodiff/analysis.js';
import { perSampleGradGraph, type ConvMethod, type PerSampleGraph, type SeedMode } from '../autodiff/per_sample.js';

export interface PerSampleRunOptions {
  /** Conv, Gemm or MatMul node names. */
  layers: string[];
  seedFromLogits: SeedMode;
  /** Images, row-major [count, …imageShape], float32. */
  images: Float32Array;
  count: number;
  /** Labels (class indices), for 'label-margins'. */
  labels?: ArrayLike<number>;
  /** Custom seeds [count, S, K], for `{ count: S }`. */
  seeds?: Float32Array;
  /** Images per run (default min(count, 16)); the last run is zero-padded. */
  batch?: number;
  logits?: string;
  includeBias?: boolean;
  /** How Conv layers' per-sample gradients are formed (default 'auto'). */
  convMethod?: ConvMethod;
  runtime?: RuntimeOptions;
}

export interface PerSampleNorms {
  /** Per layer: Q[n, s, i] = Σ_{w∈W_i}(∂⟨seed_s, logits(x_n)⟩/∂w)², row-major [count, S, channels]. */
  norms: Map<string, Float32Array>;
  /** Logits [count, K]. */
  logits: Float32Array;
  seedsPerImage: number;
  classes: number;
  channels: Map<string, number>;
}

/** A built per-sample graph with its session. */
interface Prepared {
  psg: PerSampleGraph;
  session: Session;
  imageShape: number[];
}

async function preparePerSample(model: Model, batch: number, opts: Pick<PerSampleRunOptions, 'layers' | 'seedFromLogits' | 'logits' | 'includeBias' | 'convMethod' | 'runtime'>): Promise<Prepared> {
  const imageShape = fixedImageShape(model);
  const psg = perSampleGradGraph(model, { layers: opts.layers, batch, seedFromLogits: opts.seedFromLogits, logits: opts.logits, includeBias: opts.includeBias, convMethod: opts.convMethod });
  return { psg, session: await createSession(psg.model, opts.runtime), imageShape };
}

function fixedImageShape(model: Model): number[] {
  const shape = (model.graph.inputs[0]?.shape ?? []).slice(1);
  if (!shape.every((d) => typeof d === 'number' && d > 0)) throw new FlipguardError('The model input has free image dimensions; per-sample gradients need fixed image sizes.');
  return shape as number[];
}

async function runPerSample(p: Prepared, opts: Pick<PerSampleRunOptions, 'images' | 'count' | 'labels' | 'seeds'>): Promise<PerSampleNorms> {
  const { psg, session, imageShape } = p;
  const { count } = opts;
  const batch = psg.batch;
  const per = imageShape.reduce((a, b) => a * b, 1);
  if (opts.images.length !== count * per) throw new FlipguardError(`${opts.images.length} image values do not make ${count} images of shape [${imageShape.join(', ')}]; check the image count.`);
  const S = psg.seedsPerImage;
  const K = psg.classes;
  if (psg.labelsInput && (!opts.labels || opts.labels.length < count)) throw new FlipguardError(`Seed mode label-margins needs ${count} labels; pass opts.labels.`);
  if (psg.seedInput && (!opts.seeds || opts.seeds.length !== count * S * K)) throw new FlipguardError(`Custom seeds need ${count}×${S}×${K} values; pass opts.seeds.`);
  const norms = new Map<string, Float32Array>();
  for (const [l, c] of psg.channels) norms.set(l, new Float32Array(count * S * c));
  const logits = new Float32Array(count * K);
  for (const { start, n: m, x } of imageBatches({ x: opts.images, shape: imageShape, count }, batch, batch)) {
    const feeds: Record<string, RunTensor> = { [psg.input]: floatTensor(x, [batch, ...imageShape]) };
    if (psg.labelsInput) {
      const lab = new Array<number>(batch).fill(0);
      for (let i = 0; i < m; i++) lab[i] = opts.labels![start + i];
      feeds[psg.labelsInput] = int64Tensor(lab, [batch]);
    }
    if (psg.seedInput) {
      const sd = new Float32Array(batch * S * K);
      sd.set(opts.seeds!.subarray(start * S * K, (start + m) * S * K));
      feeds[psg.seedInput] = floatTensor(sd, [batch, S, K]);
    }
    const out = await session.run(feeds);
    logits.set((out[psg.logitsOutput].data as Float32Array).subarray(0, m * K), start * K);
    for (const [l, name] of psg.outputs) {
      const c = psg.channels.get(l)!;
      norms.get(l)!.set((out[name].data as Float32Array).subarray(0, m * S * c), start * S * c);
    }
  }
  return { norms, logits, seedsPerImage: S, classes: K, channels: psg.channels };
}

/**
 * Per-image, per-seed, per-output-channel sums of squared weight gradients for `count` images
 * (see perSampleGradGraph), run in batches of `batch` images in one onnxruntime session.
 */
export async function perSampleSquaredChannelGradNorms(model: Model, opts: PerSampleRunOptions): Promise<PerSampleNorms> {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1) throw new FlipguardError(`The image count must be a whole number ≥ 1, got ${count}.`);
  const p = await preparePerSample(model, Math.min(opts.batch ?? 16, count), opts);
  try {
    return await runPerSample(p, opts);
  } finally {
    await p.session.release();
  }
}

/** The batch-size-1 gradient graph of the loop baseline and its session. */
interface LoopPrepared {
  session: Session;
  /** The model itself, for each image's logits. */
  forward: Session;
  input: string;
  logits: string;
  /** Per layer: the output holding its per-channel squared sums. */
  outputs: Map<string, string>;
  channels: Map<string, number>;
  classes: number;
  imageShape: number[];
}

async function prepareLoop(model: Model, layers: string[], runtime?: RuntimeOptions): Promise<LoopPrepared> {
  const g = model.graph;
  const imageShape = fixedImageShape(model);
  const logits = g.outputs[0].name;
  const classes = analyzeForGradient(model, 1).shapes.get(logits)![1];
  const layerNodes = layers.map((l) => {
    const n = g.nodes.find((x) => x.name === l);
    if (!n || !g.initializers.has(n.inputs[1])) throw new FlipguardError(`No layer "${l}" with stored weights in the model; pass Conv, Gemm or MatMul node names as layers.`);
    return n;
  });
  const weights = layerNodes.map((n) => n.inputs[1]);
  const gg = gradientGraph(model, { seed: { output: logits, gradInput: 'seed' }, wrt: weights, batch: 1, keepOutputs: true });
  // per output channel: Σ of squares over every axis but the channel axis (Conv, Gemm transB=1: 0; MatMul, Gemm: 1)
  const b = new GraphBuilder(gg.model.graph.name, gg.model.graph);
  const outputs = new Map<string, string>();
  const channels = new Map<string, number>();
  layerNodes.forEach((n, i) => {
    const dims = g.initializers.get(weights[i])!.dims;
    const channelAxis = n.opType === 'MatMul' || (n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 0) ? 1 : 0;
    const axes = dims.map((_, a) => a).filter((a) => a !== channelAxis);
    outputs.set(n.name, b.op('ReduceSumSquare', [gg.gradOutputs.get(weights[i])!], { axes: A.is(axes), keepdims: A.i(0) }));
    channels.set(n.name, dims[channelAxis]);
  });
  const graph = { ...b.build(), valueInfo: [], outputs: [{ name: logits, elemType: DataType.FLOAT }, ...[...outputs.values()].map((name) => ({ name, elemType: DataType.FLOAT }))] };
  const session = await createSession({ ...gg.model, graph }, runtime);
  const forward = await createSession(model, runtime);
  return { session, forward, input: g.inputs[0].name, logits, outputs, channels, classes, imageShape };
}

/** Predicted-class margins e_t − e_k for every k, one image and seed per run (logits from a forward run first). */
async function runLoop(p: LoopPrepared, images: Float32Array, count: number): Promise<PerSampleNorms> {
  const K = p.classes;
  const per = p.imageShape.reduce((a, b) => a * b, 1);
  const norms = new Map<string, Float32Array>();
  for (const [l, c] of p.channels) norms.set(l, new Float32Array(count * K * c));
  const logits = new Float32Array(count * K);
  for (let i = 0; i < count; i++) {
    const x = floatTensor(images.slice(i * per, (i + 1) * per), [1, ...p.imageShape]);
    const first = await p.forward.run({ [p.input]: x });
    const lg = first[p.logits].data as Float32Array;
    logits.set(lg, i * K);
    let t = 0;
    for (let k = 1; k < K; k++) if (lg[k] > lg[t]) t = k;
    for (let k = 0; k < K; k++) {
      const seed = new Float32Array(K);
      seed[t] += 1;
      seed[k] -= 1;
      const out = await p.session.run({ [p.input]: x, seed: floatTensor(seed, [1, K]) });
      for (const [l, name] of p.outputs) norms.get(l)!.set(out[name].data as Float32Array, (i * K + k) * p.channels.get(l)!);
    }
  }
  return { norms, logits, seedsPerImage: K, classes: K, channels: p.channels };
}

/**
 * The 'predicted-margins' norms computed the slow way: a batch-size-1 gradient graph (seed on the
 * logits, per-channel squared sums in-graph) run once per image and seed, after one run per image
 * for its logits. The reference and the baseline for perSampleSquaredChannelGradNorms.
 */
export async function perSampleNormsByLoop(model: Model, opts: { layers: string[]; images: Float32Array; count: number; runtime?: RuntimeOptions }): Promise<PerSampleNorms> {
  const p = await prepareLoop(model, opts.layers, opts.runtime);
  try {
    return await runLoop(p, opts.images, opts.count);
  } finally {
    await p.session.release();
    await p.forward.release();
  }
}

export interface PerSampleBench {
  /** Images measured. */
  images: number;
  seedsPerImage: number;
  /** In-graph per-sample computation (one run of a batch-`images` graph), ms; graph and session build excluded, after one warm-up run. */
  inGraphMs: number;
  /** Batch-size-1 loop (one forward run per image for its logits + one gradient run per image and seed), ms; build excluded, after a one-image warm-up. */
  loopMs: number;
  /** Graph and session build times, ms. */
  inGraphBuildMs: number;
  loopBuildMs: number;
  /** loopMs / inGraphMs. */
  speedup: number;
  /** Largest |in-graph − loop| / (largest |loop| value of that layer), over all layers: a correctness check. */
  maxRelDiff: number;
}

/**
 * Bench hook: per-sample squared channel gradient norms (predicted-class margins; every Conv, Gemm
 * and MatMul layer with stored weights unless `layers` is given) for `batch` seeded random normal
 * images, in-graph versus the batch-1 loop, in one process. Wall-clock times on this machine.
 */
export async function benchPerSample(model: Model, batch: number, opts: { layers?: string[]; seed?: number; convMethod?: ConvMethod; runtime?: RuntimeOptions } = {}): Promise<PerSampleBench> {
  const g = model.graph;
  const layers = opts.layers ?? g.nodes.filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType) && g.initializers.has(n.inputs[1])).map((n) => n.name);
  const imageShape = fixedImageShape(model);
  const per = imageShape.reduce((p, q) => p * q, 1);
  const rng = new Rng(opts.seed ?? DEFAULT_SEED);
  const images = Float32Array.from({ length: batch * per }, () => rng.normal());

  let t = performance.now();
  const fastP = await preparePerSample(model, batch, { layers, seedFromLogits: 'predicted-margins', convMethod: opts.convMethod, runtime: opts.runtime });
  const inGraphBuildMs = performance.now() - t;
  t = performance.now();
  const slowP = await prepareLoop(model, layers, opts.runtime);
  const loopBuildMs = performance.now() - t;
  try {
    await runPerSample(fastP, { images, count: batch });
    await runLoop(slowP, images.subarray(0, per), 1);
    t = performance.now();
    const fast = await runPerSample(fastP, { images, count: batch });
    const inGraphMs = performance.now() - t;
    t = performance.now();
    const slow = await runLoop(slowP, images, batch);
    const loopMs = performance.now() - t;
    let maxRelDiff = 0;
    for (const l of layers) {
      const a = fast.norms.get(l)!;
      const b = slow.norms.get(l)!;
      let scale = 0;
      for (const v of b) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < a.length; i++) maxRelDiff = Math.max(maxRelDiff, Math.abs(a[i] - b[i]) / (scale || 1));
    }
    return { images: batch, seedsPerImage: fast.seedsPerImage, inGraphMs, loopMs, inGraphBuildMs, loopBuildMs, speedup: loopMs / inGraphMs, maxRelDiff };
  } finally {
    await fastP.session.release();
    await slowP.session.release();
    await slowP.forward.release();
  }
}
