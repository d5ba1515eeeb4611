/**
 * Inference timing: milliseconds per pass over a data set, passes of several models interleaved so
 * drift on a shared machine affects all of them alike. Session creation is never timed.
 */
import type { Model } from '../graph/types.js';
import { ModelRunner, type RuntimeOptions } from './session.js';
import { DEFAULT_BATCH, predict, type ImageSet } from './evaluate.js';

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
  const batch = opts.batch ?? DEFAULT_BATCH;
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

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

