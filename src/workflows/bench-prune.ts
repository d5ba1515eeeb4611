/**
 * The pruning benchmark: VGG-11 (width 0.25, MNIST-size input) before and after structured
 * pruning, timed in one run on the same runtime and batch size.
 */
import { countModel } from '../graph/count.js';
import { buildModel } from '../models/index.js';
import { l1Scores } from '../analysis/scores.js';
import { DEFAULT_BATCH } from '../runtime/evaluate.js';
import { timeInferenceMany, type TimingOptions } from '../runtime/timing.js';
import { randomImages } from '../data/random.js';
import { pruneChannels } from '../prune/structured.js';

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
  const batch = opts.batch ?? DEFAULT_BATCH;
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
