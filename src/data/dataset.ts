import { FlipguardError } from '../errors.js';
import { Rng } from '../util/rng.js';

/**
 * A labelled image dataset held in memory.
 *
 * - `x`: float32 pixels, NCHW contiguous: image `n`, channel `c`, row `h`, column `w` is at
 *   `((n*C + c)*H + h)*W + w`. Values are whatever the loader produced (bundled MNIST: the
 *   stored [0,1] values; file loaders: byte/255), optionally normalised per channel.
 * - `y`: class labels in [0, classes).
 * - `shape`: `[C, H, W]` of one image; `count` images in total.
 *
 * Datasets are treated as immutable: functions here return new datasets and never write into
 * `x` or `y`, and some return views that share memory with their input.
 */
export interface Dataset {
  name: string;
  x: Float32Array;
  y: Uint8Array;
  shape: [number, number, number];
  classes: number;
  count: number;
}

/** One batch from `batches()`. */
export interface Batch {
  /** `count` images, NCHW float32 (a view into the dataset's `x` when not shuffled). */
  x: Float32Array;
  /** `count` labels (a view into the dataset's `y` when not shuffled). */
  y: Uint8Array;
  /** Position of the batch's first sample in iteration order (dataset order, or shuffled order). */
  start: number;
  /** Number of samples in this batch (equal to batchSize except possibly for the last batch). */
  count: number;
  /** When shuffled: the dataset indices of the batch's samples, in batch order. */
  indices?: Uint32Array;
}

export interface BatchOptions {
  /** Visit samples in a permutation drawn from `new Rng(shuffleSeed)` (Fisher–Yates). */
  shuffleSeed?: number;
  /** Skip a last batch smaller than batchSize (default false: every sample is visited once). */
  dropLast?: boolean;
}

/** Number of float32 values in one image (C·H·W). */
export function imageSize(ds: Dataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new FlipguardError(`${what} must be a positive integer, got ${v}; pass a whole number of at least 1.`);
  }
}

/**
 * Yields the dataset in batches of `batchSize` samples. Without `shuffleSeed` the batches are
 * zero-copy views in dataset order; with it, every pass visits a seeded permutation (the same
 * seed gives the same order on every machine) and the batch arrays are fresh copies.
 */
export function* batches(ds: Dataset, batchSize: number, opts: BatchOptions = {}): Generator<Batch> {
  checkPositiveInt(batchSize, 'Batch size');
  const size = imageSize(ds);
  const n = ds.count;
  const end = opts.dropLast ? n - (n % batchSize) : n;
  if (opts.shuffleSeed === undefined) {
    for (let start = 0; start < end; start += batchSize) {
      const count = Math.min(batchSize, end - start);
      yield {
        x: ds.x.subarray(start * size, (start + count) * size),
        y: ds.y.subarray(start, start + count),
        start,
        count,
      };
    }
    return;
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  new Rng(opts.shuffleSeed).shuffle(order);
  for (let start = 0; start < end; start += batchSize) {
    const count = Math.min(batchSize, end - start);
    const indices = order.slice(start, start + count);
    const x = new Float32Array(count * size);
    const y = new Uint8Array(count);
    for (let k = 0; k < count; k++) {
      const i = indices[k];
      x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
      y[k] = ds.y[i];
    }
    yield { x, y, start, count, indices };
  }
}

/**
 * A smaller dataset: `limit` (a number) keeps the first `min(limit, count)` samples as views that
 * share memory with `ds`; a list of indices copies those samples in the given order (repeats
 * allowed). The name is kept.
 */
export function subset(ds: Dataset, indicesOrLimit: number | ArrayLike<number>): Dataset {
  const size = imageSize(ds);
  if (typeof indicesOrLimit === 'number') {
    checkPositiveInt(indicesOrLimit, 'Sample limit');
    const count = Math.min(indicesOrLimit, ds.count);
    return { ...ds, shape: [...ds.shape], x: ds.x.subarray(0, count * size), y: ds.y.subarray(0, count), count };
  }
  const idx = indicesOrLimit;
  const count = idx.length;
  const x = new Float32Array(count * size);
  const y = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = idx[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new FlipguardError(
        `Subset index ${i} is outside dataset ${ds.name} (${ds.count} samples); pass indices in [0, ${ds.count}).`,
      );
    }
    x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = ds.y[i];
  }
  return { ...ds, shape: [...ds.shape], x, y, count };
}

/** Number of samples per class: `counts[c]` = how many labels equal c. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.count; i++) counts[ds.y[i]]++;
  return counts;
}
