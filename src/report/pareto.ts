/**
 * The Pareto view of hardening variants (issue 17): each variant is a point (accuracy drop at one
 * BER, memory overhead, time overhead); a variant is dominated when another is no worse on all
 * three and better on one (by the mean drop; the 95% intervals are shown so a reader sees when a
 * domination rests on noise). Front: the variants nobody dominates, per cost axis and overall.
 */

export interface ParetoPoint {
  variant: string;
  /** Mean accuracy drop at the BER, percentage points. */
  drop: number;
  /** 95% interval of the mean drop (null below 2 trials). */
  ciLow: number | null;
  ciHigh: number | null;
  /** Overheads as fractions: hardened ÷ original − 1 (0 for the unprotected model). */
  memory: number;
  time: number;
}

export interface ParetoRow extends ParetoPoint {
  /** On the front of drop vs memory / drop vs time / all three. */
  frontMemory: boolean;
  frontTime: boolean;
  front: boolean;
  /** Variants that dominate this one on (drop, memory, time), best first. */
  dominatedBy: string[];
  /** Whether some dominating variant's drop interval lies wholly below this one's. */
  clearly: boolean;
}

export interface ParetoView {
  ber: number;
  rows: ParetoRow[];
}

/** Whether a is no worse than b on every key and better on one. */
function dominates(a: ParetoPoint, b: ParetoPoint, keys: readonly ('drop' | 'memory' | 'time')[]): boolean {
  let better = false;
  for (const k of keys) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) better = true;
  }
  return better;
}

/** Fronts and dominations of `points` at `ber` (see the module comment). */
export function paretoView(points: readonly ParetoPoint[], ber: number): ParetoView {
  const all = ['drop', 'memory', 'time'] as const;
  const rows = points.map((p) => {
    const by = points.filter((q) => q !== p && dominates(q, p, all)).sort((a, b) => a.drop - b.drop || a.memory - b.memory || a.time - b.time);
    return {
      ...p,
      frontMemory: !points.some((q) => q !== p && dominates(q, p, ['drop', 'memory'])),
      frontTime: !points.some((q) => q !== p && dominates(q, p, ['drop', 'time'])),
      front: by.length === 0,
      dominatedBy: by.map((q) => q.variant),
      clearly: by.some((q) => q.ciHigh !== null && p.ciLow !== null && q.ciHigh < p.ciLow),
    };
  });
  return { ber, rows };
}

/** The BER the view uses: `wanted` when every variant has it, else the largest BER all variants share (undefined: none shared). */
export function paretoBer(bersPerVariant: readonly (readonly number[])[], wanted?: number): number | undefined {
  if (!bersPerVariant.length) return undefined;
  const common = bersPerVariant[0].filter((b) => bersPerVariant.every((l) => l.includes(b)));
  if (wanted !== undefined && common.includes(wanted)) return wanted;
  return common.length ? Math.max(...common) : undefined;
}
