/**
 * Inference timing of a model, and the pruning benchmark: VGG-11 (width 0.25, MNIST-size input)
 * before and after structured pruning, timed in one run on the same runtime and batch size.
 */
import type { Model } from '../graph/types.js';
import { countModel } from '../graph/count.js';
import { buildModel } from '../models/index.js';
import { l1Scores } from '../analysis/scores.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { predict, type ImageSet } from '../runtime/evaluate.js';
import { Rng } from '../util/rng.js';
import { pruneChannels } from './structured.js';

export interface TimingOptions extends RuntimeOptions {
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  /** Timed passes over the data after one warm-up pass (default 5). */
  repeats?: number;
}

/**
 * Milliseconds per inference pass over all of `data` (median of `repeats` passes after one
 * warm-up pass; session creation excluded), and every pass's time.
 */
export async function timeInference(model: Model, data: ImageSet, opts: TimingOptions = {}): Promise<{ msPerPass: number; passes: number[] }> {
  const runners = await timeInferenceMany([model], data, opts);
  return runners[0];
}

/** Like `timeInference` for several models, their passes interleaved so drift affects all alike. */
export async function timeInferenceMany(models: Model[], data: ImageSet, opts: TimingOptions = {}): Promise<{ msPerPass: number; passes: number[] }[]> {
  const repeats = opts.repeats ?? 5;
  const batch = opts.batch ?? 256;
  const runners = await Promise.all(models.map((m) => ModelRunner.create(m, opts)));
  try {
    const passes: number[][] = models.map(() => []);
    for (const r of runners) await predict(r, data, { batch });
    for (let k = 0; k < repeats; k++) {
      for (let i = 0; i < runners.length; i++) {
        const t0 = performance.now();
        await predict(runners[i], data, { batch });
        passes[i].push(performance.now() - t0);
      }
    }
    return passes.map((p) => ({ msPerPass: median(p), passes: p }));
  } finally {
    for (const r of runners) await r.release();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seeded uniform images in [0, 1) (timing does not depend on pixel values). */
export function randomImages(count: number, shape: readonly number[], classes: number, seed = 0): ImageSet {
  const rng = new Rng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = new Uint8Array(count).map((_, i) => i % classes);
  return { name: 'random images', x, y, shape, count, classes };
}

export interface BenchPruneOptions extends TimingOptions {
  arch?: string;
  width?: number;
  /** Pruning ratios (default 0.5 and 0.5). */
  conv?: number;
  fc?: number;
  /** Images per timed pass (default 2000). */
  images?: number;
}

export interface BenchPruneSide { parameters: number; macs: number; msPerPass: number; passes: number[] }

export interface BenchPruneResult {
  arch: string;
  width: number;
  inputShape: number[];
  conv: number;
  fc: number;
  images: number;
  batch: number;
  original: BenchPruneSide;
  pruned: BenchPruneSide;
  /** original time / pruned time. */
  speedup: number;
  /** A Markdown table of the above (for bench/RESULTS.md). */
  text: string;
}

/**
 * Times inference of VGG-11 (width 0.25, 1×28×28 input, 10 classes; L1-norm ranking) before and
 * after pruning `conv`/`fc` (default 50%/50%) of its channels, interleaving the passes.
 */
export async function benchPrune(opts: BenchPruneOptions = {}): Promise<BenchPruneResult> {
  const arch = opts.arch ?? 'vgg11';
  const width = opts.width ?? 0.25;
  const inputShape = [1, 28, 28];
  const conv = opts.conv ?? 0.5, fc = opts.fc ?? 0.5;
  const images = opts.images ?? 2000;
  const batch = opts.batch ?? 256;
  const model = buildModel(arch, { inputShape, classes: 10, width, seed: 1 });
  const pruned = pruneChannels(model, { scores: l1Scores(model), conv, fc }).model;
  const data = randomImages(images, inputShape, 10, 7);
  const [to, tp] = await timeInferenceMany([model, pruned], data, { ...opts, batch });
  const co = countModel(model), cp = countModel(pruned);
  const original = { parameters: co.parameters, macs: co.macs, ...to };
  const prunedSide = { parameters: cp.parameters, macs: cp.macs, ...tp };
  const speedup = to.msPerPass / tp.msPerPass;
  const text = [
    `${arch} width ${width}, input ${inputShape.join('×')}, pruned conv ${conv} / fc ${fc} (L1 ranking); ${images} images, batch ${batch}, median of ${opts.repeats ?? 5} passes`,
    '',
    '| model | parameters | MACs/image | ms per pass |',
    '|---|---:|---:|---:|',
    `| original | ${co.parameters} | ${co.macs} | ${to.msPerPass.toFixed(1)} |`,
    `| pruned | ${cp.parameters} | ${cp.macs} | ${tp.msPerPass.toFixed(1)} |`,
    `| ratio | ${(cp.parameters / co.parameters).toFixed(3)} | ${(cp.macs / co.macs).toFixed(3)} | ${(1 / speedup).toFixed(3)} (speed-up ${speedup.toFixed(2)}×) |`,
  ].join('\n');
  return { arch, width, inputShape, conv, fc, images, batch, original, pruned: prunedSide, speedup, text };
}
