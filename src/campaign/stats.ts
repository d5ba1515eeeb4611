/**
 * Statistics for fault-injection campaigns: mean, standard deviation, Student-t confidence
 * intervals, and sample-size planning in the statistical fault-injection style (Leveugle et al.).
 * All special functions are implemented here (log-gamma, regularized incomplete beta and gamma).
 */

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

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/** CDF of Student's t distribution with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

function bisect(f: (x: number) => number, target: number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (f(mid) < target) lo = mid; else hi = mid;
    if (hi - lo <= 1e-15 * Math.max(1, Math.abs(mid))) break;
  }
  return 0.5 * (lo + hi);
}

/** Quantile of Student's t with `df` degrees of freedom: t such that P(T ≤ t) = q, 0 < q < 1. */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1) || !(df > 0)) return NaN;
  if (q === 0.5) return 0;
  if (q < 0.5) return -studentTQuantile(1 - q, df);
  let hi = 1;
  while (studentTCdf(hi, df) < q) hi *= 2;
  return bisect((t) => studentTCdf(t, df), q, 0, hi);
}

/** Regularized lower incomplete gamma P(a, x). */
function incompleteGammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lnFront = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10000; n++) { term *= x / (a + n); sum += term; if (Math.abs(term) < Math.abs(sum) * 1e-17) break; }
    return sum * Math.exp(lnFront);
  }
  // continued fraction for Q
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return 1 - Math.exp(lnFront) * h;
}

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  const p = incompleteGammaP(0.5, (z * z) / 2);
  return z >= 0 ? 0.5 + 0.5 * p : 0.5 - 0.5 * p;
}

/** Standard normal quantile: z with Φ(z) = q, 0 < q < 1. */
export function normalQuantile(q: number): number {
  if (!(q > 0 && q < 1)) return NaN;
  if (q === 0.5) return 0;
  if (q < 0.5) return -normalQuantile(1 - q);
  let hi = 1;
  while (normalCdf(hi) < q) hi *= 2;
  return bisect(normalCdf, q, 0, hi);
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
