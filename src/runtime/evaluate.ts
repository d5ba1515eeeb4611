/**
 * Batched inference over a dataset: logits, top-1 predictions, accuracy and throughput.
 */
import { FlipguardError, opt } from '../errors.js';
import { DEFAULT_BATCH } from '../defaults.js';
import type { Model, TensorData } from '../graph/types.js';
import { ModelRunner, dataInput, type RuntimeOptions } from './session.js';
import { imageBatches } from './batched.js';

/** The part of a dataset inference needs: NCHW float32 images and labels. */
export { DEFAULT_BATCH };

export interface ImageSet {
  name: string;
  x: Float32Array;
  y: Uint8Array;
  /** Per-image shape [C, H, W]. */
  shape: readonly number[];
  count: number;
  classes: number;
}

export interface Predictions {
  /** Logits, [count × classes] row-major. */
  logits: Float32Array;
  /** Index of the largest logit per image (the first one on ties); -1 when the logits hold NaN or ±Inf. */
  top1: Int32Array;
  classes: number;
}

/** Throws a clear error when the data's image shape does not fit the model's input. */
export function checkDataFitsModel(model: Model, data: ImageSet): void {
  const { name, shape } = dataInput(model);
  const img = shape.slice(1);
  const ok = img.length === data.shape.length && img.every((d, i) => typeof d !== 'number' || d === data.shape[i]);
  if (!ok) {
    throw new FlipguardError(`The model's input "${name}" expects images of shape [${img.map((d) => d ?? '?').join(', ')}] but ${data.name} images are [${data.shape.join(', ')}]; pick the dataset the model was trained on.`);
  }
}

/** The fixed batch size of a model's input, or undefined when the batch dimension is free. */
export function fixedBatch(model: Model): number | undefined {
  const b = dataInput(model).shape[0];
  return typeof b === 'number' && b > 0 ? b : undefined;
}

/**
 * Runs `runner` over all images of `data` in batches of `batch` (a model with a fixed batch size
 * is run at that size, the last batch zero-padded). `params` swaps parameters for this pass.
 */
export async function predict(runner: ModelRunner, data: ImageSet, opts: { batch?: number; fixedBatch?: number; params?: ReadonlyMap<string, TensorData>; onBatch?: (done: number) => void } = {}): Promise<Predictions> {
  let logits: Float32Array | undefined;
  let classes = 0;
  const top1 = new Int32Array(data.count);
  for (const { start, n, runN, x } of imageBatches(data, opts.batch ?? DEFAULT_BATCH, opts.fixedBatch)) {
    const out = await runner.run(x, [runN, ...data.shape], opts.params);
    const t = out[runner.outputNames[0]];
    const d = t.data as Float32Array;
    if (!logits) {
      classes = d.length / runN;
      logits = new Float32Array(data.count * classes);
    }
    logits.set(d.subarray(0, n * classes), start * classes);
    argmaxRows(d, n, classes, top1, start);
    opts.onBatch?.(start + n);
  }
  return { logits: logits ?? new Float32Array(0), top1, classes };
}

/** Row-wise argmax into `out[offset…]`; rows holding NaN or ±Inf give -1. */
export function argmaxRows(d: Float32Array, rows: number, cols: number, out: Int32Array, offset = 0): void {
  for (let r = 0; r < rows; r++) {
    let best = -1;
    let bv = -Infinity;
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = d[base + c];
      if (!Number.isFinite(v)) { best = -1; break; }
      if (v > bv || best < 0) { bv = v; best = c; }
    }
    out[offset + r] = best;
  }
}

export interface EvaluationResult {
  /** Share of images whose top-1 equals the label, in [0, 1]. */
  accuracy: number;
  correct: number;
  total: number;
  imagesPerSecond: number;
}

export interface EvaluateOptions extends RuntimeOptions {
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Top-1 accuracy of `model` on `data`. */
export async function evaluate(model: Model, data: ImageSet, opts: EvaluateOptions = {}): Promise<EvaluationResult & { predictions: Predictions }> {
  checkDataFitsModel(model, data);
  if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1)) throw new FlipguardError(`The ${opt('batch')} must be a whole number ≥ 1, got ${opts.batch}.`);
  const runner = await ModelRunner.create(model, opts);
  try {
    // one warm-up batch so the timing measures steady state, not first-run allocation
    const t0 = performance.now();
    const predictions = await predict(runner, data, { batch: opts.batch, fixedBatch: fixedBatch(model), onBatch: (d) => opts.onProgress?.(d, data.count) });
    const secs = (performance.now() - t0) / 1000;
    const correct = countCorrect(predictions.top1, data.y);
    return { accuracy: data.count ? correct / data.count : 0, correct, total: data.count, imagesPerSecond: data.count / secs, predictions };
  } finally {
    await runner.release();
  }
}

export function countCorrect(top1: Int32Array, labels: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < top1.length; i++) if (top1[i] === labels[i]) c++;
  return c;
}
