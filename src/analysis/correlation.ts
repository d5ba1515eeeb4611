/**
 * Rank agreement between two score vectors over the same units: Spearman's ρ (Pearson correlation
 * of average ranks, so ties are handled), Kendall's τ-b (ties in either vector corrected for), and
 * the top-k overlap. Both correlations are NaN when one vector is constant (undefined).
 */
import { FlipguardError } from '../errors.js';
import { topK } from './scores.js';

function checkPair(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new FlipguardError(`Cannot correlate rankings of ${a.length} and ${b.length} units; give scores for the same units.`);
  for (const v of [a, b]) for (let i = 0; i < v.length; i++) if (Number.isNaN(v[i])) throw new FlipguardError(`Score ${i} is NaN; rankings need numbers for every unit.`);
}

/** Average ranks, 1-based (ties share the mean of their positions). */
export function averageRanks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((p, q) => v[p] - v[q]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const da = a[i] - ma, db = b[i] - mb; sab += da * db; saa += da * da; sbb += db * db; }
  return saa > 0 && sbb > 0 ? Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb))) : NaN;
}

/** Spearman's rank correlation ρ in [−1, 1] (NaN when either vector is constant or n < 2). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPair(a, b);
  if (a.length < 2) return NaN;
  return pearson(averageRanks(a), averageRanks(b));
}

/** Kendall's τ-b in [−1, 1] (NaN when either vector is constant or n < 2). O(n²) pairs. */
export function kendallTauB(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPair(a, b);
  const n = a.length;
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const da = Math.sign(a[i] - a[j]);
      const db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) { tiesA++; continue; }
      if (db === 0) { tiesB++; continue; }
      if (da === db) concordant++; else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom > 0 ? Math.max(-1, Math.min(1, (concordant - discordant) / denom)) : NaN;
}

/**
 * Share of `truth`'s top-k units that are also in `scores`' top-k, in [0, 1] (ties broken by the
 * lower index in both, as `topK` does).
 */
export function topkOverlap(scores: ArrayLike<number>, truth: ArrayLike<number>, k: number): number {
  checkPair(scores, truth);
  if (!Number.isInteger(k) || k < 1) throw new FlipguardError(`The top-k size must be a whole number ≥ 1, got ${k}.`);
  const kk = Math.min(k, scores.length);
  if (kk === 0) return 0;
  const mine = new Set(topK(scores, kk));
  return topK(truth, kk).filter((i) => mine.has(i)).length / kk;
}
