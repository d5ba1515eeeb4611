/**
 * Budgeted auto-hardening (issue 17): the hardening that buys the smallest accuracy drop at one
 * BER within a memory (and optionally time) budget, with the evidence.
 *
 * 1. Candidates: methods × ratios (DEFAULT_BUDGET_CANDIDATES: tmr-bits on 1–3 critical bits,
 *    range intervals alone and combined with tmr-bits, EDAC, channel, weight and neuron TMR). Each
 *    is built and its overheads measured (memory: stored bytes, hardened ÷ original − 1; time: the
 *    inference time ratio − 1, measured only when a time budget is given); the ones over budget are
 *    out before any campaign.
 * 2. Racing by successive halving on one BER: every survivor runs `minTrials` campaign trials;
 *    each round, candidates whose 95% interval of the mean drop lies wholly above the leader's are
 *    out, then the better half (by mean drop; ties: less memory, less time, name) goes on with
 *    twice the trials (campaigns resume, so earlier trials are reused), until one is left or the
 *    trials reach `maxTrials`. Trials are spent where they decide the ranking.
 * 3. The winner: the lowest mean drop among the last round's candidates (same tie-breaks).
 *
 * Campaign trials are seeded (trial i of a candidate has the same faults whatever the number of
 * trials), so the same seed gives the same choice — unless a time budget is given and a candidate's
 * measured time lies at its edge (timing is a measurement).
 */
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import { runCampaign } from '../campaign/index.js';
import type { ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkBer } from '../faults/plan.js';
import { harden, type HardenReport } from '../harden/index.js';
import { countHardened, overheads } from '../harden/overhead.js';
import { profileIntervals, type Intervals } from '../harden/profile.js';
import type { Scores } from '../analysis/scores.js';
import { parseVariants, unitOf, type Unit, type Variant } from './sweep.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SEED, DEFAULT_TMR_BITS_BY_FORMAT } from '../defaults.js';
import { layerSites } from '../harden/layers.js';
import { storedFormat } from '../harden/formats.js';
import { qdqForm } from '../formats/qoperator.js';
import { isPlainFloat } from '../graph/stored.js';
import { WORD_BITS, type WordFormat } from '../graph/dtype.js';

/**
 * Candidates searched by default for a float32 model: `parseVariants` items; `ranger+X` is ranger's
 * intervals, then X on top. Other stored formats get the same list with their own bits
 * (defaultBudgetCandidates).
 */
export const DEFAULT_BUDGET_CANDIDATES = 'tmr-bits,tmr-bits:b31+30,tmr-bits:b31+30+29,tmr-bits:b30:0.5,ranger,ranger+tmr-bits,ranger+tmr-bits:b31+30,edac:0.05,edac:0.15,tmr-channels:0.05,tmr-weights:0.05,tmr-neurons:0.05';

/**
 * The default candidates for `model`, with tmr-bits' bit lists in its weights' stored format: the
 * format's most damaging bit (DEFAULT_TMR_BITS_BY_FORMAT) and the word's top bits — float32 30 and
 * 31+30(+29), float16/bfloat16 14 and 15+14(+13), int8/uint8 7 and 7+6(+5). Weights stored in more than
 * one format keep only the per-format default bit (plain `tmr-bits`).
 */
export function defaultBudgetCandidates(model: Model): string {
  // a QOperator model: its kernels' weights, as hardening sees them (QDQ form)
  const formats = new Set(layerSites(qdqForm(model)).map((s) => (isPlainFloat(s.weight) ? 'float32' : storedFormat(s.weight))));
  const [format] = formats;
  if (formats.size !== 1 || !(format in DEFAULT_TMR_BITS_BY_FORMAT)) return DEFAULT_BUDGET_CANDIDATES.split(',').filter((c) => !c.includes(':b')).join(',');
  const critical = DEFAULT_TMR_BITS_BY_FORMAT[format as keyof typeof DEFAULT_TMR_BITS_BY_FORMAT][0];
  const top = WORD_BITS[format as WordFormat] - 1;
  const order = [...new Set([top, critical, critical - 1, critical - 2])];
  const list = (n: number): string => `b${order.slice(0, n).join('+')}`;
  const bits: Record<string, string> = { b30: `b${critical}`, 'b31+30': list(2), 'b31+30+29': list(3) };
  return DEFAULT_BUDGET_CANDIDATES.replace(/:(b[\d+]+)/g, (_, b: string) => `:${bits[b]}`);
}

export interface Budget {
  /** Largest stored-bytes overhead (hardened ÷ original − 1), e.g. 0.15. */
  memory?: number;
  /** Largest inference-time overhead, e.g. 0.25. */
  time?: number;
}

/** Parses "memory=0.15,time=0.25". */
export function parseBudget(spec: string): Budget {
  const b: Budget = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(memory|time)=([\d.eE+-]+)$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v) || v < 0) throw new FlipguardError(`The budget entry "${part}" is not understood; write memory=0.15 and/or time=0.25 (overheads as fractions, ≥ 0).`);
    b[m[1] as keyof Budget] = v;
  }
  if (b.memory === undefined && b.time === undefined) throw new FlipguardError('The budget is empty; give memory=FRACTION and/or time=FRACTION, e.g. memory=0.15.');
  return b;
}

export interface BudgetOptions {
  budget: Budget;
  ber: number;
  /** Training images (intervals, rankings). */
  train: ImageSet;
  /** Evaluation images (campaigns, time). */
  test: ImageSet;
  /** Scores per unit kind (rankings for the ratio-based candidates). */
  scores: (unit: Unit) => Promise<Scores>;
  /** Candidate list as in parseVariants, `ranger+X` for combinations (default defaultBudgetCandidates(model)). */
  candidates?: string;
  /** Trials per candidate in the first round (default 4) and the most any candidate gets (default 32). */
  minTrials?: number;
  maxTrials?: number;
  seed?: number;
  runtime?: RuntimeOptions;
  onCandidate?: (name: string, stage: 'build' | 'race', detail: string) => void;
}

export interface CandidateEvidence {
  name: string;
  method: string;
  ratio: number;
  /** Stored-bytes and time overheads (hardened ÷ original − 1); time null when not measured. */
  memory: number;
  time: number | null;
  withinBudget: boolean;
  /** Trials run, mean drop (pp) and its 95% interval at the BER (null when not raced). */
  trials: number;
  drop: number | null;
  ci95: [number, number] | null;
  /** Round after which it left the race (null: still in at the end, or never raced). */
  eliminatedInRound: number | null;
  /** Fault-free accuracy of the candidate (the drop is measured from it). */
  goldenAccuracy: number | null;
  outcome: string;
}

export interface BudgetResult {
  /** Whether the winner is one method (its fault-free promise holds) or a combination (checked for the same top-1). */
  combined: boolean;
  budget: Budget;
  ber: number;
  seed: number;
  winner: string;
  why: string;
  model: Model;
  report: HardenReport;
  candidates: CandidateEvidence[];
  rounds: { round: number; trials: number; racing: string[] }[];
}

interface Built { ev: CandidateEvidence; model: Model; report: HardenReport }

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Runs the search (see the module comment). */
export async function budgetHarden(model: Model, opts: BudgetOptions): Promise<BudgetResult> {
  checkBer(opts.ber);
  const budget = opts.budget;
  for (const k of ['memory', 'time'] as const) {
    const v = budget[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new FlipguardError(`The ${opt('budget')} ${k} must be a fraction ≥ 0, got ${v}.`);
  }
  const minTrials = opts.minTrials ?? 4, maxTrials = opts.maxTrials ?? 32;
  if (!Number.isInteger(minTrials) || minTrials < 2 || !Number.isInteger(maxTrials) || maxTrials < minTrials) {
    throw new FlipguardError(`The trials per candidate must be whole numbers with 2 ≤ ${opt('minTrials')} ≤ ${opt('maxTrials')}, got ${minTrials} and ${maxTrials}.`);
  }
  const seed = opts.seed ?? DEFAULT_SEED;
  const base = countHardened(model).storedBytes;
  let intervals: Intervals | undefined;
  const built: Built[] = [];
  const evidence: CandidateEvidence[] = [];
  const specs = (opts.candidates ?? defaultBudgetCandidates(model)).split(',').map((s) => s.trim()).filter(Boolean);
  // parse all first: a typo fails before any work
  const parsed = specs.map((s) => (s.includes('+') && s.startsWith('ranger+') ? { name: s, steps: [...parseVariants('ranger'), ...parseVariants(s.slice('ranger+'.length))] } : { name: parseVariants(s)[0].name, steps: parseVariants(s) }));
  for (const c of parsed) {
    opts.onCandidate?.(c.name, 'build', '');
    let m = model;
    let report: HardenReport | undefined;
    for (const v of c.steps) {
      if (v.method === 'none') continue;
      if ((v.method === 'ranger' || v.method === 'edac') && !intervals) intervals = await profileIntervals(model, opts.train, { ...opts.runtime });
      const r = await buildVariant(m, v, intervals, opts);
      m = r.model;
      report = r.report;
    }
    if (!report) throw new FlipguardError(`The candidate "${c.name}" protects nothing; leave "none" out of the ${opt('candidates')}.`);
    const memory = countHardened(m).storedBytes / base - 1;
    const time = budget.time !== undefined ? (await overheads(model, m, opts.test, { ...opts.runtime, runs: 3 })).time.ratio - 1 : null;
    const over = [budget.memory !== undefined && memory > budget.memory ? `memory ${pct(memory)} > ${pct(budget.memory)}` : '', budget.time !== undefined && time! > budget.time ? `time ${pct(time!)} > ${pct(budget.time)}` : ''].filter(Boolean);
    const ev: CandidateEvidence = {
      name: c.name, method: c.steps.map((s) => s.method).join('+'), ratio: report.ratio, memory, time, withinBudget: over.length === 0,
      trials: 0, drop: null, ci95: null, eliminatedInRound: null, goldenAccuracy: null, outcome: over.length ? `over budget: ${over.join(', ')}` : '',
    };
    evidence.push(ev);
    if (!over.length) built.push({ ev, model: m, report });
  }
  if (!built.length) throw new FlipguardError(`No candidate fits the budget (${budgetText(budget)}); the cheapest is ${evidence.sort((a, b) => a.memory - b.memory)[0]?.name} at memory ${pct(evidence[0]?.memory ?? 0)} — raise the ${opt('budget')}.`);

  const dir = mkdtempSync(join(tmpdir(), 'flipguard-budget-'));
  const rounds: BudgetResult['rounds'] = [];
  let racing = built;
  let trials = minTrials;
  try {
    for (let round = 1; ; round++) {
      rounds.push({ round, trials, racing: racing.map((b) => b.ev.name) });
      for (const b of racing) {
        opts.onCandidate?.(b.ev.name, 'race', `round ${round}, ${trials} trials`);
        const r = await runCampaign({ model: b.model, data: opts.test, bers: [opts.ber], trials, seed, threads: opts.runtime?.threads, out: join(dir, `c${built.indexOf(b)}.jsonl`) });
        const s = r.bers[0];
        b.ev.trials = s.trials;
        b.ev.drop = s.meanDrop;
        b.ev.ci95 = [s.ci95[0], s.ci95[1]];
        b.ev.goldenAccuracy = r.golden.accuracy;
      }
      const order = [...racing].sort(better);
      if (racing.length === 1 || trials >= maxTrials) break;
      const leader = order[0].ev;
      // racing: out when the whole interval lies above the leader's
      const clearlyWorse = (b: Built): boolean => b !== order[0] && b.ev.ci95![0] > leader.ci95![1];
      const keep = order.filter((b) => !clearlyWorse(b)).slice(0, Math.max(1, Math.ceil(racing.length / 2)));
      for (const b of racing) {
        if (keep.includes(b)) continue;
        b.ev.eliminatedInRound = round;
        b.ev.outcome = clearlyWorse(b)
          ? `out in round ${round}: drop ${fmtDrop(b.ev)} lies above ${leader.name}'s ${fmtDrop(leader)}`
          : `out in round ${round}: lower half by mean drop (${fmtDrop(b.ev)} vs leader ${leader.name} ${fmtDrop(leader)})`;
      }
      racing = keep;
      trials = Math.min(maxTrials, trials * 2);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const order = [...racing].sort(better);
  const win = order[0];
  for (const b of order.slice(1)) b.ev.outcome = `final round: drop ${fmtDrop(b.ev)} vs winner's ${fmtDrop(win.ev)}${b.ev.drop === win.ev.drop ? ' (tie broken by memory, time, name)' : ''}`;
  win.ev.outcome = 'winner';
  const runnersUp = order.slice(1).map((b) => `${b.ev.name} ${fmtDrop(b.ev)}`).join('; ');
  const why = `${win.ev.name} has the lowest mean accuracy drop at BER ${opts.ber.toExponential(0)} (${fmtDrop(win.ev)} pp over ${win.ev.trials} trials) among the ${built.length} candidates within the budget (${budgetText(budget)}; it uses memory ${pct(win.ev.memory)}${win.ev.time !== null ? `, time ${pct(win.ev.time)}` : ''})${runnersUp ? `; last round: ${runnersUp}` : ''}${evidence.length > built.length ? `; ${evidence.length - built.length} candidates were over budget` : ''}.`;
  return { combined: win.ev.method.includes('+'), budget, ber: opts.ber, seed, winner: win.ev.name, why, model: win.model, report: win.report, candidates: evidence, rounds };
}

/** Lower mean drop first; ties: less memory, less time, name. */
function better(a: Built, b: Built): number {
  return (a.ev.drop! - b.ev.drop!) || (a.ev.memory - b.ev.memory) || ((a.ev.time ?? 0) - (b.ev.time ?? 0)) || a.ev.name.localeCompare(b.ev.name);
}

function fmtDrop(e: CandidateEvidence): string {
  return `${e.drop!.toFixed(2)} [${e.ci95![0].toFixed(2)}, ${e.ci95![1].toFixed(2)}]`;
}

function budgetText(b: Budget): string {
  return [b.memory !== undefined ? `memory ≤ ${pct(b.memory)}` : '', b.time !== undefined ? `time ≤ ${pct(b.time)}` : ''].filter(Boolean).join(', ');
}

async function buildVariant(model: Model, v: Variant, intervals: Intervals | undefined, opts: BudgetOptions): Promise<{ model: Model; report: HardenReport }> {
  const method = v.method as Exclude<Variant['method'], 'none'>;
  const everyWeight = method === 'tmr-bits' && v.ratio === undefined;
  const scores = method === 'ranger' || everyWeight ? undefined : await opts.scores(unitOf(method));
  const ratio = v.ratio ?? (method === 'ranger' ? 0 : everyWeight ? 1 : undefined);
  return harden(model, { method, ratio, scores, intervals, bits: v.bits, runtime: opts.runtime, onWarning: () => {} });
}
