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
import { paperClaims, PAPER_CONVENTIONS_KIND, type PaperConventionRow, type PaperConventions } from '../harden/paper-claims.js';
import { DEFAULT_SEED } from '../defaults.js';

/** One paper's setting. */
export interface PaperSetting {
  paper: 'B' | 'C';
  /** Model name for the table (e.g. alexnet-mnist). */
  name: string;
  model: Model;
  bers: number[];
  count: CountMode;
  /** The paper's ratio per layer (paper B) or as one global top (paper C, SPEC §4.4). */
  perLayer: boolean;
  /** Most trials per variant and BER for this setting (default: the options' maxTrials). */
  maxTrials?: number;
}

export interface PaperConventionOptions {
  /** The settings to run (paper B's and/or paper C's), in order. */
  settings: PaperSetting[];
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
  // the paper's method at tmr-bits' memory: the overhead grows about
  // linearly with the ratio, so rescale until within 2% of the target (at most 4 builds)
  let ratio = 0.05;
  let paperModel = await build({ method, ratio, scores: paperScores, perLayer: s.perLayer });
  for (let k = 0; k < 3; k++) {
    const m = storedOverhead(model, paperModel);
    if (Math.abs(m / target - 1) <= 0.02) break;
    ratio = Math.min(1, ratio * target / m);
    say(`${method} at ratio ${ratio.toFixed(4)}`);
    paperModel = await build({ method, ratio, scores: paperScores, perLayer: s.perLayer });
  }
  const baseline = await build({ method, ratio, scores: randomScores, perLayer: s.perLayer });
  const ranger = await build({ method: 'ranger', ratio: 0, intervals });
  const made: Omit<Built, 'time'>[] = [
    { variant: 'none', role: 'none', model, ratio: null, memory: 0 },
    { variant: `${method} ${s.paper === 'B' ? 'LRP' : 'class-oriented neurons'}, ${s.perLayer ? 'per layer' : 'global'} (paper ${s.paper})`, role: 'paper', model: paperModel, ratio, memory: storedOverhead(model, paperModel) },
    { variant: `${method} random, ${s.perLayer ? 'per layer' : 'global'}`, role: 'baseline', model: baseline, ratio, memory: storedOverhead(model, baseline) },
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
  const minTrials = opts.minTrials ?? 10, maxTrials = s.maxTrials ?? opts.maxTrials ?? 40;
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

/** Runs both settings (see the module comment). */
export async function paperConventions(opts: PaperConventionOptions): Promise<PaperConventions> {
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-papers-'));
  const rows: PaperConventionRow[] = [];
  try {
    for (const s of opts.settings) rows.push(...await measure(s, await buildVariants(s, opts), opts, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    kind: PAPER_CONVENTIONS_KIND, images: opts.test.count, seed: opts.seed ?? DEFAULT_SEED,
    minTrials: opts.minTrials ?? 10, maxTrials: Math.max(...opts.settings.map((s) => s.maxTrials ?? opts.maxTrials ?? 40)), rows, claims: paperClaims(rows),
  };
}

export { paperClaims, readPaperConventions, formatPaperConventions, PAPER_CONVENTIONS_KIND, type PaperClaim, type PaperConventionRow, type PaperConventions } from '../harden/paper-claims.js';
