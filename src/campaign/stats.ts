/**
 * Statistics for fault-injection campaigns: mean, standard deviation, Student-t confidence
 * intervals, and sample-size planning in the statistical fault-injection style (Leveugle et al.).
 * The distribution functions come from the maintained stdlib packages (@stdlib/stats-base-dists-*);
 * test/campaign.test.ts checks them against published tables to 1e-9.
 */
import nCdf from '@stdlib/stats-base-dists-normal-cdf';
import nQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Arithmetic mean; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for one value, NaN for none. */
export function std(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** CDF of Student's t distribution with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  return tCdf(t, df);
}

/** Quantile of Student's t with `df` degrees of freedom: t such that P(T ≤ t) = q, 0 < q < 1. */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1) || !(df > 0)) return NaN;
  return tQuantile(q, df);
}

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return nCdf(z, 0, 1);
}

/** Standard normal quantile: z with Φ(z) = q, 0 < q < 1. */
export function normalQuantile(q: number): number {
  if (!(q > 0 && q < 1)) return NaN;
  return nQuantile(q, 0, 1);
}

/**
 * Two-sided confidence interval for the mean of `xs` at `confidence` (default 0.95), Student t with
 * n − 1 degrees of freedom: mean ± t · s / √n. Fewer than 2 values give [NaN, NaN].
 */
export function confidenceInterval(xs: readonly number[], confidence = 0.95): [number, number] {
  const n = xs.length;
  if (n < 2) return [NaN, NaN];
  const h = halfWidth(xs, confidence);
  const m = mean(xs);
  return [m - h, m + h];
}

/** Half-width t · s / √n of the Student-t interval (NaN below 2 values). */
export function halfWidth(xs: readonly number[], confidence = 0.95): number {
  const n = xs.length;
  if (n < 2) return NaN;
  return (tCritical(confidence, n - 1) * std(xs)) / Math.sqrt(n);
}

const T_CACHE = new Map<string, number>();

/** Two-sided critical value t_{(1+c)/2, df}, memoised. */
export function tCritical(confidence: number, df: number): number {
  const key = `${confidence}|${df}`;
  let v = T_CACHE.get(key);
  if (v === undefined) {
    v = studentTQuantile(0.5 + confidence / 2, df);
    if (T_CACHE.size > 100000) T_CACHE.clear();
    T_CACHE.set(key, v);
  }
  return v;
}

function checkUnit(v: number, what: string, open = true): void {
  if (!Number.isFinite(v) || (open ? v <= 0 || v >= 1 : v < 0 || v > 1)) throw new RangeError(`${what} must be in (0, 1), got ${v}`);
}

export interface SampleSizeOptions {
  /** Error margin e as a proportion (e.g. 0.01 for ±1 %). */
  margin: number;
  /** Confidence level c (default 0.95). */
  confidence?: number;
  /** Expected proportion p (default 0.5, the worst case). */
  p?: number;
  /** Population size N (fault configurations, or images); omit for an infinite population. */
  population?: number;
}

/**
 * Statistical fault-injection sample size (Leveugle et al., DATE 2009):
 * n = N / (1 + e²·(N − 1) / (t²·p·(1 − p))), t the normal cut-off for confidence c; with no
 * population, the infinite-population limit n = t²·p·(1 − p) / e². Rounded up.
 * Use it for the number of trials (N = possible fault configurations, or infinite) or of images
 * (N = the evaluation set size) needed to estimate a proportion (accuracy, SDC rate) within ±e.
 */
export function sampleSize(opts: SampleSizeOptions): number {
  const c = opts.confidence ?? 0.95;
  const p = opts.p ?? 0.5;
  checkUnit(opts.margin, 'margin');
  checkUnit(c, 'confidence');
  checkUnit(p, 'p', false);
  const t = normalQuantile(0.5 + c / 2);
  const pq = p * (1 - p);
  if (pq === 0) return 1;
  if (opts.population === undefined || !Number.isFinite(opts.population)) return Math.ceil((t * t * pq) / (opts.margin * opts.margin));
  const N = opts.population;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`population must be a whole number ≥ 1, got ${N}`);
  return Math.min(N, Math.ceil(N / (1 + (opts.margin * opts.margin * (N - 1)) / (t * t * pq))));
}

/**
 * Smallest number of trials n ≥ 2 whose Student-t half-width t_{n−1}·σ/√n at `confidence` is at
 * most `margin`, for a quantity with standard deviation `sigma` (e.g. a pilot run's std of the
 * accuracy drop, in the same unit as `margin`).
 */
export function trialsForMargin(sigma: number, margin: number, confidence = 0.95): number {
  if (!(sigma >= 0) || !(margin > 0)) throw new RangeError('sigma must be ≥ 0 and margin > 0');
  if (sigma === 0) return 2;
  const z = normalQuantile(0.5 + confidence / 2);
  let n = Math.max(2, Math.ceil(((z * sigma) / margin) ** 2));
  while ((studentTQuantile(0.5 + confidence / 2, n - 1) * sigma) / Math.sqrt(n) > margin) n++;
  return n;
}
