/**
 * Which training images an importance score looks at.
 *
 * - Profiling sample (Eq. 1, Taylor): the first N images of a seeded permutation of the split —
 *   `new Rng(Rng.derive('profiling', seed))` shuffles the indices (Fisher–Yates), so the same seed
 *   gives the same images on every machine, and N + 1 images are the N images plus one more.
 * - Reference set (LRP, neuron criticality): correctly classified images balanced by class. The
 *   split is walked in a seeded permutation (`Rng.derive('reference', seed)`), predicted in chunks,
 *   and an image is taken when the model classifies it correctly and its class still has room;
 *   class c gets floor(total/K) images, plus one for the first total mod K classes. A class with
 *   too few correct images keeps what it has (reported in `perClass`).
 */
import { FlipguardError } from '../errors.js';
import { subset, type Dataset } from '../data/index.js';
import { argmaxRows, DEFAULT_BATCH } from '../runtime/evaluate.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import type { Model } from '../graph/types.js';
import { Rng } from '../util/rng.js';

/** A sample of a dataset: the images (copied, in sample order) and their indices in the dataset. */
export interface ImageSample {
  data: Dataset;
  /** Index in the source dataset of each sampled image, in sample order. */
  indices: number[];
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new FlipguardError(`The number of ${what} must be a whole number ≥ 1, got ${n}.`);
}

function permutation(count: number, ...parts: (number | string)[]): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return new Rng(Rng.derive(...parts)).shuffle(order);
}

/** The first `n` images (all when the split is smaller) of a seeded permutation of `data`. */
export function profilingSample(data: Dataset, n: number, seed: number): ImageSample {
  checkCount(n, 'profiling images');
  if (data.count === 0) throw new FlipguardError(`Dataset ${data.name} holds no images; load a split with images to profile on.`);
  const indices = Array.from(permutation(data.count, 'profiling', seed).subarray(0, Math.min(n, data.count)));
  return { data: subset(data, indices), indices };
}

export interface ReferenceSet extends ImageSample {
  /** Images taken per class. */
  perClass: number[];
  /** The model's prediction for each taken image (equal to its label when `correctOnly`). */
  predicted: number[];
}

/**
 * `total` images of `data` balanced by class, correctly classified by `model` unless `correctOnly`
 * is false (see the module comment). Chunks of `batch` images are predicted until every class is full.
 */
export async function referenceSet(model: Model, data: Dataset, opts: { total: number; seed: number; correctOnly?: boolean; batch?: number; runtime?: RuntimeOptions }): Promise<ReferenceSet> {
  checkCount(opts.total, 'reference images');
  const K = data.classes;
  const quota = Array.from({ length: K }, (_, c) => Math.floor(opts.total / K) + (c < opts.total % K ? 1 : 0));
  const perClass = new Array<number>(K).fill(0);
  const order = permutation(data.count, 'reference', opts.seed);
  const indices: number[] = [];
  const predicted: number[] = [];
  const correctOnly = opts.correctOnly ?? true;
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  const chunk = opts.batch ?? DEFAULT_BATCH;
  const runner = await ModelRunner.create(model, opts.runtime);
  try {
    let need = quota.reduce((a, b) => a + b, 0);
    for (let start = 0; start < data.count && need > 0; start += chunk) {
      const idx = order.subarray(start, Math.min(data.count, start + chunk));
      // only images whose class still has room are worth predicting
      const wanted = Array.from(idx).filter((i) => perClass[data.y[i]] < quota[data.y[i]]);
      if (!wanted.length) continue;
      const x = new Float32Array(wanted.length * per);
      wanted.forEach((i, k) => x.set(data.x.subarray(i * per, (i + 1) * per), k * per));
      const out = await runner.run(x, [wanted.length, ...data.shape]);
      const logits = out[runner.outputNames[0]].data as Float32Array;
      const top1 = new Int32Array(wanted.length);
      argmaxRows(logits, wanted.length, logits.length / wanted.length, top1);
      wanted.forEach((i, k) => {
        const c = data.y[i];
        if (perClass[c] >= quota[c] || (correctOnly && top1[k] !== c)) return;
        perClass[c]++;
        need--;
        indices.push(i);
        predicted.push(top1[k]);
      });
    }
  } finally {
    await runner.release();
  }
  if (!indices.length) throw new FlipguardError(`The model classifies none of the ${data.count} ${data.name} images correctly, so there is no reference set; check that the model and dataset (and its normalisation) match.`);
  return { data: subset(data, indices), indices, perClass, predicted };
}
