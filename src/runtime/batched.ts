/**
 * The one batch-and-pad loop: every pass of a graph over a set of images (inference, gradients,
 * relevance, neuron scores) walks the images in runs of `batch` through here. A graph with a
 * fixed batch dimension is fed exactly that many images per run, the last run zero-padded; its
 * callers read only the first `n` rows of each output.
 */
import ort from 'onnxruntime-node';
import { FlipguardError } from '../errors.js';

/** An onnxruntime session (created by `createSession`). */
export type Session = ort.InferenceSession;
/** A value fed to or returned by a session run. */
export type RunTensor = ort.Tensor;
/** A session run's outputs by name. */
export type RunOutputs = Record<string, ort.Tensor>;

/** A float32 tensor over `data` (no copy). */
export function floatTensor(data: Float32Array, dims: readonly number[]): RunTensor {
  return new ort.Tensor('float32', data, dims);
}

/** An int64 tensor of whole numbers (e.g. labels). */
export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): RunTensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.prototype.slice.call(values) as number[], (v) => BigInt(v)), dims);
}

/** One run's slice of an image set: images [start, start + n), fed as `runN` rows. */
export interface ImageBatch {
  start: number;
  /** Real images in this run. */
  n: number;
  /** Rows fed (n, or the graph's fixed batch size with zero rows after the n real ones). */
  runN: number;
  /** runN images, NCHW (a view of the data unless padded). */
  x: Float32Array;
}

/**
 * Runs of `batch` images over `data` (`fixed`: every run has exactly that many rows, the last
 * zero-padded). `batch` is checked here once for every caller.
 */
export function* imageBatches(data: { x: Float32Array; shape: readonly number[]; count: number }, batch: number, fixed?: number): Generator<ImageBatch> {
  const size = fixed ?? batch;
  if (!Number.isInteger(size) || size < 1) throw new FlipguardError(`The batch size must be a whole number ≥ 1, got ${size}; set the batch option to a positive whole number.`);
  const per = data.shape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < data.count; start += size) {
    const n = Math.min(size, data.count - start);
    let x = data.x.subarray(start * per, (start + n) * per);
    const runN = fixed ?? n;
    if (runN !== n) { const padded = new Float32Array(runN * per); padded.set(x); x = padded; }
    yield { start, n, runN, x };
  }
}

export interface BatchedRunOptions {
  /** Name of the image input. */
  input: string;
  /** Images per run. */
  batch: number;
  /** The graph's fixed batch size, if it has one (runs are padded to it). */
  fixed?: number;
  /** Further inputs of each run. */
  feeds?: (b: ImageBatch) => Record<string, RunTensor>;
}

/** Runs `session` over every image of `data` in batches, handing each run's outputs to `onBatch`. */
export async function runBatched(
  session: Session,
  data: { x: Float32Array; shape: readonly number[]; count: number },
  opts: BatchedRunOptions,
  onBatch: (out: RunOutputs, b: ImageBatch) => void | Promise<void>,
): Promise<void> {
  for (const b of imageBatches(data, opts.batch, opts.fixed)) {
    const out = await session.run({ [opts.input]: floatTensor(b.x, [b.runN, ...data.shape]), ...opts.feeds?.(b) });
    await onBatch(out, b);
  }
}
