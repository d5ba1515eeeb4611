/**
 * The papers-at-their-own-conventions table (issue 17; produced by workflows/paper-conventions.ts):
 * its rows and claims, how a claim is judged from the 95% intervals, the JSON reader (hostile
 * files: every field checked) and the text table for RESULTS.md. The report reads it from here.
 */
import type { CountMode } from '../faults/plan.js';
import { arr, at, num, numOrNull, obj, pair, str, FieldError, type Obj } from '../util/validate.js';

export const PAPER_CONVENTIONS_KIND = 'paper-conventions';

/** One variant at one BER. */
export interface PaperConventionRow {
  paper: 'B' | 'C';
  model: string;
  variant: string;
  /** 'paper' (the paper's method), 'baseline' (same redundancy, random selection), 'tmr-bits', 'ranger' or 'none'. */
  role: 'paper' | 'baseline' | 'tmr-bits' | 'ranger' | 'none';
  ratio: number | null;
  /** Stored-bytes and time overheads (hardened ÷ original − 1). */
  memory: number;
  time: number;
  ber: number;
  count: CountMode;
  trials: number;
  /** Mean faulty top-1 accuracy (fraction) and mean drop (pp) with its 95% interval. */
  accuracy: number;
  drop: number;
  ci95: [number, number];
}

export interface PaperClaim {
  paper: 'B' | 'C';
  claim: string;
  /** true: holds here; false: does not; null: the intervals do not decide. */
  holds: boolean | null;
  evidence: string;
}

export interface PaperConventions {
  kind: typeof PAPER_CONVENTIONS_KIND;
  images: number;
  seed: number;
  minTrials: number;
  maxTrials: number;
  rows: PaperConventionRow[];
  claims: PaperClaim[];
}

const pp = (r: PaperConventionRow) => `${r.drop.toFixed(2)} pp [${r.ci95[0].toFixed(2)}, ${r.ci95[1].toFixed(2)}]`;

/**
 * Whether a's drop is lower than b's: true when a's 95% interval lies wholly below b's, false when
 * it lies at or above b's (a is no better; equal zero-width intervals included), null otherwise.
 */
function lower(a: PaperConventionRow, b: PaperConventionRow): boolean | null {
  // intervals of identical trials have a rounding-size width (the mean of equal values is not exact)
  const eps = 1e-9 * Math.max(1, Math.abs(a.drop), Math.abs(b.drop));
  return a.ci95[1] < b.ci95[0] - eps ? true : a.ci95[0] >= b.ci95[1] - eps ? false : null;
}

/** The claims, worded from the rows. */
export function paperClaims(rows: readonly PaperConventionRow[]): PaperClaim[] {
  const claims: PaperClaim[] = [];
  const get = (paper: 'B' | 'C', role: PaperConventionRow['role'], ber: number) => rows.find((r) => r.paper === paper && r.role === role && r.ber === ber);
  for (const paper of ['B', 'C'] as const) {
    const bers = [...new Set(rows.filter((r) => r.paper === paper).map((r) => r.ber))];
    for (const ber of bers) {
      const p = get(paper, 'paper', ber), none = get(paper, 'none', ber), base = get(paper, 'baseline', ber);
      const bits = get(paper, 'tmr-bits', ber), ranger = get(paper, 'ranger', ber);
      if (!p || !none || !base || !bits || !ranger) continue;
      const at = `at BER ${ber.toExponential(0)} (${p.count} count, ${p.model})`;
      if (paper === 'B') {
        const gain = none.accuracy > 0 ? (p.accuracy - none.accuracy) / none.accuracy : p.accuracy > 0 ? Infinity : 0;
        const c = lower(p, none);
        claims.push({
          paper, claim: `over 60% reliability improvement over the unprotected model ${at}`,
          holds: gain <= 0.6 || c === false ? false : c,
          evidence: `faulty accuracy ${(p.accuracy * 100).toFixed(2)}% vs ${(none.accuracy * 100).toFixed(2)}% unprotected: improvement ${(gain * 100).toFixed(1)}%; drop ${pp(p)} vs ${pp(none)} (${p.trials} and ${none.trials} trials)`,
        });
      } else {
        claims.push({
          paper, claim: `selective neuron TMR improves robustness over the unprotected model ${at}`,
          holds: lower(p, none),
          evidence: `drop ${pp(p)} vs ${pp(none)} unprotected (${p.trials} and ${none.trials} trials)`,
        });
      }
      claims.push({
        paper, claim: `the paper's selection (${paper === 'B' ? 'LRP relevance' : 'class-oriented criticality'}) protects better than random selection at the same ratio ${at}`,
        holds: lower(p, base),
        evidence: `drop ${pp(p)} vs ${pp(base)} random (${p.trials} and ${base.trials} trials)`,
      });
      for (const alt of [bits, ranger]) {
        const cheaper = alt.memory <= p.memory * 1.02 ? 'no more' : 'more';
        claims.push({
          paper, claim: `the paper's method protects better than ${alt.variant}, which uses ${cheaper} memory, ${at}`,
          holds: lower(p, alt),
          evidence: `drop ${pp(p)} at +${(p.memory * 100).toFixed(2)}% memory vs ${pp(alt)} at +${(alt.memory * 100).toFixed(2)}% (${p.trials} and ${alt.trials} trials)`,
        });
      }
    }
    if (paper === 'C') {
      const p = rows.find((r) => r.paper === 'C' && r.role === 'paper');
      if (p) claims.push({
        paper, claim: 'the cost is more memory and a small increase in execution time (small read as ≤ +25%)',
        holds: p.time <= 0.25,
        evidence: `memory +${(p.memory * 100).toFixed(2)}%, time per pass +${(p.time * 100).toFixed(0)}% (CPU, onnxruntime, median of 3 interleaved passes)`,
      });
    }
  }
  return claims;
}

const ROLES = ['paper', 'baseline', 'tmr-bits', 'ranger', 'none'] as const;
const PAPERS = ['B', 'C'] as const;

function oneOf<T extends string>(v: unknown, field: string, options: readonly T[]): T {
  const s = str(v, field);
  if (!(options as readonly string[]).includes(s)) throw new FieldError(field, `is "${s}", not one of ${options.join(', ')}`);
  return s as T;
}

/** Reads a paper-conventions JSON (the bench's output); throws a FieldError naming the first bad field. */
export function readPaperConventions(o: Obj): PaperConventions {
  if (o.kind !== PAPER_CONVENTIONS_KIND) throw new FieldError('kind', `is not "${PAPER_CONVENTIONS_KIND}"`);
  const rows = arr(o.rows, 'rows', true).map((v, i): PaperConventionRow => {
    const f = at('rows', i);
    const r = obj(v, f);
    const ci = pair(r.ci95, `${f}.ci95`);
    if (ci[0] === null || ci[1] === null) throw new FieldError(`${f}.ci95`, 'must hold two numbers');
    return {
      paper: oneOf(r.paper, `${f}.paper`, PAPERS), model: str(r.model, `${f}.model`), variant: str(r.variant, `${f}.variant`),
      role: oneOf(r.role, `${f}.role`, ROLES), ratio: numOrNull(r.ratio, `${f}.ratio`), memory: num(r.memory, `${f}.memory`), time: num(r.time, `${f}.time`),
      ber: num(r.ber, `${f}.ber`, [0, 1]), count: oneOf(r.count, `${f}.count`, ['binomial', 'floor', 'fixed'] as const),
      trials: num(r.trials, `${f}.trials`, [1, Number.MAX_SAFE_INTEGER]), accuracy: num(r.accuracy, `${f}.accuracy`, [0, 1]),
      drop: num(r.drop, `${f}.drop`), ci95: [ci[0], ci[1]],
    };
  });
  const claims = arr(o.claims, 'claims').map((v, i): PaperClaim => {
    const f = at('claims', i);
    const c = obj(v, f);
    if (c.holds !== null && typeof c.holds !== 'boolean') throw new FieldError(`${f}.holds`, 'must be true, false or null');
    return { paper: oneOf(c.paper, `${f}.paper`, PAPERS), claim: str(c.claim, `${f}.claim`), holds: c.holds as boolean | null, evidence: str(c.evidence, `${f}.evidence`) };
  });
  return {
    kind: PAPER_CONVENTIONS_KIND, images: num(o.images, 'images', [1, Number.MAX_SAFE_INTEGER]), seed: num(o.seed, 'seed'),
    minTrials: num(o.minTrials, 'minTrials', [1, Number.MAX_SAFE_INTEGER]), maxTrials: num(o.maxTrials, 'maxTrials', [1, Number.MAX_SAFE_INTEGER]), rows, claims,
  };
}

/** The table and the claims as text (RESULTS.md). */
export function formatPaperConventions(p: PaperConventions, table: (head: string[], rows: (string | number)[][]) => string): string {
  const head = ['paper', 'model', 'variant', 'ratio', 'memory', 'time', 'BER', 'count', 'trials', 'accuracy', 'drop (pp) [95% CI]'];
  const body = p.rows.map((r) => [r.paper, r.model, r.variant, r.ratio === null ? '–' : r.ratio.toFixed(4), `+${(r.memory * 100).toFixed(2)}%`, `${r.time >= 0 ? '+' : ''}${(r.time * 100).toFixed(0)}%`, r.ber.toExponential(0), r.count, r.trials, `${(r.accuracy * 100).toFixed(2)}%`, `${r.drop.toFixed(2)} [${r.ci95[0].toFixed(2)}, ${r.ci95[1].toFixed(2)}]`]);
  const verdict = (h: boolean | null) => (h === true ? 'holds' : h === false ? 'does not hold' : 'undecided');
  const claims = p.claims.map((c) => `- Paper ${c.paper}: ${c.claim} — **${verdict(c.holds)}**: ${c.evidence}.`).join('\n');
  return `${p.images} test images per trial, seed ${p.seed}, ${p.minTrials}–${p.maxTrials} trials per variant and BER (more where the compared intervals overlapped).\n\n\`\`\`\n${table(head, body)}\n\`\`\`\n\n${claims}`;
}
