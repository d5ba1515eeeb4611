/**
 * The papers at their own conventions (issue 17, step 4): paper B's selective weight TMR (LRP
 * relevance, per-layer ratio, `floor` fault count, AlexNet, BER 1e-4) and paper C's neuron TMR
 * (class-oriented neuron criticality, ResNet), each against critical-bit TMR (tmr-bits) and range
 * intervals alone (ranger) at equal memory, and against the same redundancy placed at random (the
 * papers' own baseline: selection is their contribution). Each claim is then stated as holding or
 * not, from the campaigns' 95% intervals.
 *
 * Equal memory: the paper's method gets the stored-bytes overhead of tmr-bits on bit 30 of every
 * weight (2 of 32 bits, +6.25%): its ratio is rescaled from probe builds until the measured overhead
 * is within 2%, and the measured overhead is reported. The random baseline uses the same ratio (the
 * papers compare selections at equal ratio), so its memory can differ. ranger costs less (its bounds only).
 *
 * Trials: every variant starts with `minTrials` seeded trials per BER; while the interval of a
 * compared pair (the paper's method against each other variant) overlaps, both get twice the
 * trials (campaigns resume), up to `maxTrials`. A claim whose intervals still overlap is reported
 * as undecided.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rank } from '../analysis/index.js';
import type { NeuronMerge } from '../analysis/neurons.js';
import type { Scores } from '../analysis/scores.js';
import { runCampaign } from '../campaign/index.js';
import type { CountMode } from '../faults/plan.js';
import type { Model } from '../graph/types.js';
import { harden, type HardenMethod, type HardenOptions } from '../harden/index.js';
import { countHardened, overheads } from '../harden/overhead.js';
import { profileIntervals } from '../harden/profile.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { arr, at, num, numOrNull, obj, pair, str, FieldError, type Obj } from '../util/validate.js';
import { DEFAULT_SEED } from '../defaults.js';

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

/** One paper's setting. */
export interface PaperSetting {
  paper: 'B' | 'C';
  /** Model name for the table (e.g. alexnet-mnist). */
  name: string;
  model: Model;
  bers: number[];
  count: CountMode;
}

export interface PaperConventionOptions {
  b: PaperSetting;
  c: PaperSetting;
  train: ImageSet;
  test: ImageSet;
  /** Trials per variant and BER to start with (default 10) and at most (default 40). */
  minTrials?: number;
  maxTrials?: number;
  seed?: number;
  threads?: number;
  /** Paper C's network-oriented merge of the class-oriented scores (default 'max': critical for some class). */
  merge?: NeuronMerge;
  onProgress?: (message: string) => void;
}

interface Built {
  variant: string;
  role: PaperConventionRow['role'];
  model: Model;
  ratio: number | null;
  memory: number;
  time: number;
}

const storedOverhead = (original: Model, hardened: Model): number => countHardened(hardened).storedBytes / countHardened(original).storedBytes - 1;

/** Builds the variants of one paper's setting. */
async function buildVariants(s: PaperSetting, opts: PaperConventionOptions): Promise<Built[]> {
  const model = s.model;
  const threads = opts.threads;
  const seed = opts.seed ?? DEFAULT_SEED;
  const say = (m: string) => opts.onProgress?.(`paper ${s.paper} (${s.name}): ${m}`);
  const method: HardenMethod = s.paper === 'B' ? 'tmr-weights' : 'tmr-neurons';
  say('rankings');
  const paperScores: Scores = s.paper === 'B'
    ? await rank(model, { method: 'lrp', unit: 'weight', data: opts.train, seed, threads })
    : await rank(model, { method: 'neurons', unit: 'neuron', data: opts.train, merge: opts.merge ?? 'max', seed, threads });
  const randomScores = await rank(model, { method: 'random', unit: s.paper === 'B' ? 'weight' : 'neuron', seed });
  say('intervals');
  const intervals = await profileIntervals(model, opts.train, { threads });
  const build = async (o: HardenOptions) => (await harden(model, { ...o, runtime: { threads }, onWarning: () => {} })).model;
  say('tmr-bits');
  const bits = await build({ method: 'tmr-bits', bits: [30] });
  const target = storedOverhead(model, bits);
  // the paper's method at tmr-bits' memory (per layer, as paper B): the overhead grows about
  // linearly with the ratio, so rescale until within 2% of the target (at most 4 builds)
  let ratio = 0.05;
  let paperModel = await build({ method, ratio, scores: paperScores, perLayer: true });
  for (let k = 0; k < 3; k++) {
    const m = storedOverhead(model, paperModel);
    if (Math.abs(m / target - 1) <= 0.02) break;
    ratio = Math.min(1, ratio * target / m);
    say(`${method} at ratio ${ratio.toFixed(4)}`);
    paperModel = await build({ method, ratio, scores: paperScores, perLayer: true });
  }
  const baseline = await build({ method, ratio, scores: randomScores, perLayer: true });
  const ranger = await build({ method: 'ranger', ratio: 0, intervals });
  const made: Omit<Built, 'time'>[] = [
    { variant: 'none', role: 'none', model, ratio: null, memory: 0 },
    { variant: `${method} ${s.paper === 'B' ? 'LRP' : 'class-oriented neurons'}, per layer (paper ${s.paper})`, role: 'paper', model: paperModel, ratio, memory: storedOverhead(model, paperModel) },
    { variant: `${method} random, per layer`, role: 'baseline', model: baseline, ratio, memory: storedOverhead(model, baseline) },
    { variant: 'tmr-bits 30, every weight', role: 'tmr-bits', model: bits, ratio: 1, memory: target },
    { variant: 'ranger (intervals only)', role: 'ranger', model: ranger, ratio: 0, memory: storedOverhead(model, ranger) },
  ];
  const out: Built[] = [];
  for (const m of made) {
    say(`timing ${m.variant}`);
    out.push({ ...m, time: m.role === 'none' ? 0 : (await overheads(model, m.model, opts.test, { threads, runs: 3 })).time.ratio - 1 });
  }
  return out;
}

const overlap = (a: PaperConventionRow, b: PaperConventionRow): boolean => !(a.ci95[1] < b.ci95[0] || b.ci95[1] < a.ci95[0]);

/** Campaigns of one setting with trials added where the compared intervals overlap. */
async function measure(s: PaperSetting, built: Built[], opts: PaperConventionOptions, dir: string): Promise<PaperConventionRow[]> {
  const minTrials = opts.minTrials ?? 10, maxTrials = opts.maxTrials ?? 40;
  const seed = opts.seed ?? DEFAULT_SEED;
  const rows = new Map<string, PaperConventionRow>();
  const key = (b: Built, ber: number) => `${b.variant}|${ber}`;
  const run = async (b: Built, ber: number, trials: number): Promise<void> => {
    opts.onProgress?.(`paper ${s.paper} (${s.name}): ${b.variant} at BER ${ber}, ${trials} trials`);
    const r = await runCampaign({ model: b.model, data: opts.test, bers: [ber], trials, seed, count: s.count, threads: opts.threads, out: join(dir, `${s.paper}-${built.indexOf(b)}-${ber}.jsonl`) });
    const x = r.bers[0];
    rows.set(key(b, ber), {
      paper: s.paper, model: s.name, variant: b.variant, role: b.role, ratio: b.ratio, memory: b.memory, time: b.time,
      ber, count: s.count, trials: x.trials, accuracy: x.meanAccuracy, drop: x.meanDrop, ci95: [x.ci95[0], x.ci95[1]],
    });
  };
  for (const ber of s.bers) for (const b of built) await run(b, ber, minTrials);
  const paper = built.find((b) => b.role === 'paper')!;
  for (const ber of s.bers) {
    for (;;) {
      const p = rows.get(key(paper, ber))!;
      const open = built.filter((b) => b !== paper && overlap(p, rows.get(key(b, ber))!) && rows.get(key(b, ber))!.trials < maxTrials);
      if (!open.length || p.trials >= maxTrials) break;
      const trials = Math.min(maxTrials, p.trials * 2);
      for (const b of [paper, ...open]) await run(b, ber, Math.min(maxTrials, Math.max(trials, rows.get(key(b, ber))!.trials * 2)));
    }
  }
  return [...rows.values()];
}

const pp = (r: PaperConventionRow) => `${r.drop.toFixed(2)} pp [${r.ci95[0].toFixed(2)}, ${r.ci95[1].toFixed(2)}]`;

/** "lower" when a's interval lies wholly below b's, "higher" above, null when they overlap. */
function compare(a: PaperConventionRow, b: PaperConventionRow): 'lower' | 'higher' | null {
  return a.ci95[1] < b.ci95[0] ? 'lower' : a.ci95[0] > b.ci95[1] ? 'higher' : null;
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
        const gain = none.accuracy > 0 ? (p.accuracy - none.accuracy) / none.accuracy : Infinity;
        const c = compare(p, none);
        claims.push({
          paper, claim: `over 60% reliability improvement over the unprotected model ${at}`,
          holds: gain > 0.6 && c === 'lower' ? true : c === null && gain > 0.6 ? null : false,
          evidence: `faulty accuracy ${(p.accuracy * 100).toFixed(2)}% vs ${(none.accuracy * 100).toFixed(2)}% unprotected: improvement ${(gain * 100).toFixed(1)}%; drop ${pp(p)} vs ${pp(none)} (${p.trials} and ${none.trials} trials)`,
        });
      } else {
        const c = compare(p, none);
        claims.push({
          paper, claim: `selective neuron TMR improves robustness over the unprotected model ${at}`,
          holds: c === 'lower' ? true : c === null ? null : false,
          evidence: `drop ${pp(p)} vs ${pp(none)} unprotected (${p.trials} and ${none.trials} trials)`,
        });
      }
      const sel = compare(p, base);
      claims.push({
        paper, claim: `the paper's selection (${paper === 'B' ? 'LRP relevance' : 'class-oriented criticality'}) protects better than random selection at the same ratio ${at}`,
        holds: sel === 'lower' ? true : sel === null ? null : false,
        evidence: `drop ${pp(p)} vs ${pp(base)} random (${p.trials} and ${base.trials} trials)`,
      });
      for (const alt of [bits, ranger]) {
        const c = compare(p, alt);
        claims.push({
          paper, claim: `the paper's method beats ${alt.variant} at equal or lower memory ${at}`,
          holds: c === 'lower' ? true : c === null ? null : false,
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

/** Runs both settings (see the module comment). */
export async function paperConventions(opts: PaperConventionOptions): Promise<PaperConventions> {
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-papers-'));
  const rows: PaperConventionRow[] = [];
  try {
    for (const s of [opts.b, opts.c]) rows.push(...await measure(s, await buildVariants(s, opts), opts, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    kind: PAPER_CONVENTIONS_KIND, images: opts.test.count, seed: opts.seed ?? DEFAULT_SEED,
    minTrials: opts.minTrials ?? 10, maxTrials: opts.maxTrials ?? 40, rows, claims: paperClaims(rows),
  };
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
