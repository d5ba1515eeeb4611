/**
 * The checks a transformed (hardened or pruned) model must pass before it is written: its shapes
 * infer, onnxruntime loads and runs it, and — for the transforms that promise it — it reproduces
 * the original's outputs on a few images: bit for bit, or the same top-1.
 *
 * A failed check is flipguard's fault (the transform built a wrong graph), not the user's: it is
 * thrown as a TransformInvalidError (a plain Error, so the CLI reports an internal error, exit 1)
 * whose one sentence names the check that failed. Nothing has been written at that point.
 */
import { inferShapes } from '../graph/shapes.js';
import type { Model } from '../graph/types.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { predict, type ImageSet, type Predictions } from '../runtime/evaluate.js';

/**
 * What the transform promises about fault-free outputs on the validation images:
 * 'bitwise' — identical logits (32-bit words); 'top1' — the same top-1 class per image;
 * 'runs' — only that it runs and gives logits of the original's shape (e.g. pruning).
 */
export type Fidelity = 'bitwise' | 'top1' | 'runs';

export interface ValidateOptions {
  /** A few images (2–4 are enough) in the model's input shape. */
  images: Pick<ImageSet, 'x' | 'shape' | 'count'>;
  fidelity: Fidelity;
  /**
   * Runtime for both models. Channel hardening is bit-identical with graph optimisations disabled
   * (the original's Conv+BatchNorm fusion is not available to the hardened graph), so that is what
   * 'bitwise' checks of channel methods should use.
   */
  runtime?: RuntimeOptions;
  /** Names the transform in messages, e.g. "tmr-channels" or "pruned". */
  what: string;
}

export interface Validation {
  /** Images compared. */
  images: number;
  fidelity: Fidelity;
  /** Largest |difference| of a logit, original vs transformed. */
  maxAbsDiff: number;
  /** Images whose top-1 equals the original's. */
  sameTop1: number;
}

/** A transformed model that failed one of validateTransformed's checks (an internal error). */
export class TransformInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransformInvalidError';
  }
}

async function run(model: Model, images: ValidateOptions['images'], runtime: RuntimeOptions | undefined, onFail: (e: Error) => string): Promise<Predictions> {
  let runner: ModelRunner;
  try {
    runner = await ModelRunner.create(model, runtime ?? {});
  } catch (e) {
    throw new TransformInvalidError(onFail(e as Error));
  }
  try {
    return await predict(runner, { name: 'validation', y: new Uint8Array(images.count), classes: 0, ...images }, { batch: images.count });
  } catch (e) {
    throw new TransformInvalidError(onFail(e as Error));
  } finally {
    await runner.release();
  }
}

/**
 * Checks `transformed` against `original` on `opts.images` (see the module comment); returns what
 * was measured, or throws a TransformInvalidError naming the failed check. Neither model is modified.
 */
export async function validateTransformed(original: Model, transformed: Model, opts: ValidateOptions): Promise<Validation> {
  const { what, images } = opts;
  try {
    inferShapes(transformed, { batch: images.count });
  } catch (e) {
    throw new TransformInvalidError(`The ${what} model failed shape inference (${(e as Error).message.replace(/\.$/, '')}); nothing was written.`);
  }
  const ref = await run(original, images, opts.runtime, (e) => `The original model does not run on the validation images (${e.message}); nothing was written.`);
  const got = await run(transformed, images, opts.runtime, (e) => `onnxruntime cannot run the ${what} model (${e.message.split('\n')[0]}); nothing was written.`);
  if (got.logits.length !== ref.logits.length) {
    throw new TransformInvalidError(`The ${what} model gives ${got.logits.length} logits for ${images.count} images where the original gives ${ref.logits.length}; nothing was written.`);
  }
  let maxAbsDiff = 0, words = 0;
  const ua = new Uint32Array(ref.logits.buffer, ref.logits.byteOffset, ref.logits.length);
  const ub = new Uint32Array(got.logits.buffer, got.logits.byteOffset, got.logits.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) words++;
    const d = Math.abs(ref.logits[i] - got.logits[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
  }
  let sameTop1 = 0;
  for (let i = 0; i < images.count; i++) if (ref.top1[i] === got.top1[i]) sameTop1++;
  if (opts.fidelity === 'bitwise' && words) {
    throw new TransformInvalidError(`The ${what} model's fault-free logits differ from the original's in ${words} of ${ua.length} values (largest difference ${maxAbsDiff}) on ${images.count} validation images, but this transform promises bit-identical outputs; nothing was written.`);
  }
  if (opts.fidelity === 'top1' && sameTop1 !== images.count) {
    throw new TransformInvalidError(`The ${what} model's fault-free top-1 differs from the original's on ${images.count - sameTop1} of ${images.count} validation images, but this transform promises the same predictions; nothing was written.`);
  }
  return { images: images.count, fidelity: opts.fidelity, maxAbsDiff, sameTop1 };
}

/** Fault-free agreement of a transformed model with its original on a data set. */
export interface Agreement {
  /** Images compared. */
  images: number;
  /** Images whose top-1 equals the original's. */
  same: number;
  /** same / images (1 = every prediction kept). */
  share: number;
}

/**
 * The share of `data`'s images whose fault-free top-1 under `transformed` equals the original's
 * (issue 13.5: detection intervals profiled on the training split can clip legitimate activations
 * of images unlike it). Both models run with `runtime` (default optimisation level: what a user
 * deploys).
 */
export async function topOneAgreement(original: Model, transformed: Model, data: ImageSet, runtime: RuntimeOptions = {}): Promise<Agreement> {
  const predictions = async (m: Model): Promise<Predictions> => {
    const r = await ModelRunner.create(m, runtime);
    try { return await predict(r, data); } finally { await r.release(); }
  };
  const a = await predictions(original), b = await predictions(transformed);
  let same = 0;
  for (let i = 0; i < data.count; i++) if (a.top1[i] === b.top1[i]) same++;
  return { images: data.count, same, share: data.count ? same / data.count : 1 };
}
