/**
 * Ground truth by fault injection (SPEC §3.4) and how well each importance score predicts it.
 *
 * Units: the output channels of one conv layer / neurons of one dense layer (unit 'channel': the
 * weights W_i of Eq. (1), biases and batch-norm parameters not included), or a seeded sample of the
 * layer's individual weights (unit 'weight'). A unit's ground truth is the mean accuracy drop, in
 * percentage points of the evaluation set ((golden correct − faulty correct)/images × 100), over
 * `trials` trials in which faults hit ONLY that unit's stored words:
 *
 * - BER mode (default): every (element, bit) position of the unit (bits restricted by `bits`) flips
 *   independently with probability BER — the exact Binomial draw of faults/sample.ts over the unit's
 *   position space, so a trial's faults are what a whole-model campaign at that BER would put into
 *   that unit. A single unit holds few bits (a 288-weight filter: 9,216), so at realistic BERs most
 *   trials have no fault and the drop is 0: the estimate is unbiased but noisy.
 * - Fixed mode (`faults: k`): exactly k distinct (element, bit) positions of the unit, uniformly —
 *   "what k flips in this unit do", a much stronger per-unit signal (e.g. k = 1 with `bits: '23-30'`
 *   for exponent flips). The BER then only labels the result and seeds the draws.
 * - Exhaustive mode (`exhaustive: true`): every single (element, bit) flip of the unit once, no
 *   sampling noise; units × elements × bits evaluations (e.g. bit 30 of every conv1 weight of the
 *   VGG-11 MNIST model: 144 runs).
 *
 * Reported with it: the split-half reliability, Spearman ρ between the units' mean drops over even
 * and odd trials (exhaustive: even and odd weights). On models where one flip's effect depends on
 * which weight and bit it hits far more than on which unit it is in, this is near 0, and no score
 * can then be expected to correlate with the ground truth (more trials, or exhaustive mode, help).
 *
 * Each (unit, trial) draw uses its own generator, `Rng.derive(seed, 'groundtruth', layer, unit id,
 * BER, k, trial)`, so any cell can be replayed alone. Trials are evaluated by the campaign's trial
 * engine (campaign/engine.ts) with its exact shortcuts: a trial without faults is the golden result,
 * and only the layers after the golden activation cut before the faulted layer are re-run.
 */
import { FlipguardError, opt } from '../errors.js';
import { arr, at, num, obj, str, type Obj } from '../util/validate.js';
import type { Dataset } from '../data/index.js';
import type { Model, TensorData } from '../graph/types.js';
import { checkDataFitsModel, type ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { resolveBitsFor, type BitRange } from '../faults/bits.js';
import { wordFormat } from '../graph/dtype.js';
import { cleanParameters, injectFaults } from '../faults/inject.js';
import { listParameters } from '../faults/params.js';
import { checkBer, checkSeed, type WeightFault } from '../faults/plan.js';
import { bernoulliPositions, positionsWithoutReplacement } from '../faults/sample.js';
import { TrialEngine } from '../campaign/engine.js';
import {
  campaignId, campaignMeta, checkGolden, collectOnQueue, damagedJob, isCampaignId, noModelMessage,
  type JobKind, type QueueJob, type QueueRunOptions,
} from '../campaign/queue.js';
import type { GoldenResult } from '../campaign/records.js';
import { limitImages } from '../campaign/run.js';
import { dataFingerprint, modelFingerprint } from '../faults/fingerprint.js';
import { textTable } from './format.js';
import { Rng } from '../util/rng.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { kendallTauB, spearman, topkOverlap } from './correlation.js';
import { channelWeightIndices, findLayer, type ComputeLayer, type Scores } from './scores.js';
import { DEFAULT_SEED } from '../defaults.js';

export interface GroundTruthOptions {
  /** Node name of the conv or dense layer. */
  layer: string;
  /** Bit error rate (probability per stored bit), in [0, 1]. */
  ber: number;
  /** Evaluation images (e.g. the test split). */
  data: ImageSet;
  /** Trials per unit (default 10). */
  trials?: number;
  /** Seed of the fault draws (default 1). */
  seed?: number;
  /** Fixed number of faults per unit and trial instead of BER draws. */
  faults?: number;
  /**
   * Every single (element, bit) position of each unit flipped once, one per trial (so `trials` is
   * the unit's position count and `faults`/`trials` are ignored): a ground truth without sampling
   * noise, at the cost of units × elements × bits evaluations.
   */
  exhaustive?: boolean;
  /** How faulted weights reach onnxruntime (campaign engine): 'rebuild' (default) or 'feed'. */
  swap?: 'rebuild' | 'feed';
  /** Bits that can be hit (default all; 0 = mantissa LSB, 23–30 exponent, 31 sign). */
  bits?: BitRange | string;
  /** 'channel' (default) or 'weight' (a seeded sample of the layer's weights). */
  unit?: 'channel' | 'weight';
  /** Weights sampled for unit 'weight' (default 64). */
  sample?: number;
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  runtime?: RuntimeOptions;
  /**
   * Run the units on a Redis job queue (one job per unit, served by `flipguard worker`) instead of
   * in this process; the result is the same.
   */
  queue?: QueueRunOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface GroundTruth {
  layer: string;
  op: string;
  ber: number;
  unit: 'channel' | 'weight';
  /** Unit ids: channel indices, or flat weight indices for unit 'weight'. */
  units: number[];
  trials: number;
  /** Fixed faults per trial, or null for BER draws. */
  faults: number | null;
  /** Every position flipped once (see GroundTruthOptions.exhaustive). */
  exhaustive: boolean;
  bits: number[];
  seed: number;
  goldenAccuracy: number;
  images: number;
  /** Mean accuracy drop per unit, percentage points. */
  drops: number[];
  /** Mean number of faults per trial per unit. */
  meanFaults: number[];
  /** Trials that needed an onnxruntime run (the others had no fault). */
  evaluated: number;
  /**
   * Split-half reliability: Spearman ρ between the units' mean drops over even and over odd trials
   * (null with one trial or a constant half). A method cannot be expected to agree with the ground
   * truth better than the ground truth agrees with itself.
   */
  splitHalf: number | null;
}

/** The units of a ground truth and the flat weight indices each one holds. */
interface UnitSpace {
  layer: ComputeLayer;
  unit: 'channel' | 'weight';
  units: number[];
  elements: (u: number) => number[];
  bits: number[];
}

function unitSpace(model: Model, opts: Pick<GroundTruthOptions, 'layer' | 'unit' | 'sample' | 'bits' | 'seed'>): UnitSpace {
  const unit = opts.unit ?? 'channel';
  if (unit !== 'channel' && unit !== 'weight') throw new FlipguardError(`Unknown ground-truth unit "${String(unit)}"; use channel or weight.`);
  const layer = findLayer(model, opts.layer, { stored: true });
  // the bits the layer's stored words have (float32 0–31, float16/bfloat16 0–15, int8 0–7)
  const bits = resolveBitsFor(opts.bits, wordFormat(model.graph.initializers.get(layer.weight)!.dataType)!);
  if (bits.length === 0) throw new FlipguardError(`The bits selected (${String(opts.bits)}) are not in the ${wordFormat(model.graph.initializers.get(layer.weight)!.dataType)} words of "${opts.layer}"; choose bits the format has (e.g. all).`);
  if (unit === 'channel') {
    const idx = channelWeightIndices(model, layer);
    return { layer, unit, bits, units: Array.from({ length: layer.outChannels }, (_, c) => c), elements: (c) => [...idx(c)] };
  }
  const n = opts.sample ?? ANALYSIS_DEFAULTS.weightSample;
  if (!Number.isInteger(n) || n < 1) throw new FlipguardError(`The weight sample must be a whole number ≥ 1, got ${n}.`);
  const numel = model.graph.initializers.get(layer.weight)!.data.length;
  const units = positionsWithoutReplacement(new Rng(Rng.derive(opts.seed ?? DEFAULT_SEED, 'groundtruth-sample', opts.layer)), numel, Math.min(n, numel));
  return { layer, unit, bits, units, elements: (i) => [i] };
}

/**
 * The faults of one ground-truth cell: unit `u` (a channel index, or a flat weight index for unit
 * 'weight') in trial `trial` — a pure function of the options, so any cell can be replayed alone.
 */
export function unitFaults(model: Model, opts: Pick<GroundTruthOptions, 'layer' | 'ber' | 'seed' | 'faults' | 'bits' | 'unit' | 'sample'>, u: number, trial: number): WeightFault[] {
  checkBer(opts.ber);
  return cellFaults(unitSpace(model, opts), opts, u, trial);
}

function cellFaults(sp: UnitSpace, opts: Pick<GroundTruthOptions, 'layer' | 'ber' | 'seed' | 'faults'>, u: number, trial: number): WeightFault[] {
  const el = sp.elements(u);
  const space = el.length * sp.bits.length;
  const k = opts.faults;
  if (k !== undefined && k > space) throw new FlipguardError(`${k} faults do not fit in the ${space} bit positions of one ${sp.unit} of "${opts.layer}"; ask for at most ${space}.`);
  const rng = new Rng(Rng.derive(opts.seed ?? DEFAULT_SEED, 'groundtruth', opts.layer, sp.unit, u, opts.ber, k ?? -1, trial));
  const pos = k === undefined ? bernoulliPositions(rng, space, opts.ber) : positionsWithoutReplacement(rng, space, k);
  const nb = sp.bits.length;
  return pos.map((p) => ({ tensor: sp.layer.weight, index: el[Math.floor(p / nb)], bit: sp.bits[p % nb], kind: 'flip' as const }));
}

/** Mean accuracy drop of every unit of a layer when only that unit is faulted (see the module comment). */
export async function groundTruth(model: Model, opts: GroundTruthOptions): Promise<GroundTruth> {
  checkBer(opts.ber);
  const seed = opts.seed ?? DEFAULT_SEED;
  checkSeed(seed);
  const exhaustive = opts.exhaustive ?? false;
  const k = exhaustive ? 1 : opts.faults;
  if (k !== undefined && (!Number.isInteger(k) || k < 1)) throw new FlipguardError(`The fixed fault count must be a whole number ≥ 1, got ${k}.`);
  checkDataFitsModel(model, opts.data);
  const sp = unitSpace(model, { ...opts, seed });
  const perUnit = sp.elements(sp.units[0]).length * sp.bits.length;
  const trials = exhaustive ? perUnit : opts.trials ?? ANALYSIS_DEFAULTS.groundTruthTrials;
  if (!Number.isInteger(trials) || trials < 1) throw new FlipguardError(`The trials per unit must be a whole number ≥ 1, got ${trials}.`);
  const target = listParameters(model).filter((p) => p.name === sp.layer.weight);
  const engine = await TrialEngine.create(model, opts.data, target, { batch: opts.batch, threads: opts.runtime?.threads, executionProvider: opts.runtime?.executionProvider, swap: opts.swap });
  const total = sp.units.length * trials;
  const cell = { layer: opts.layer, ber: opts.ber, seed, faults: k, exhaustive, trials, images: opts.data.count };
  const results: UnitResult[] = [];
  try {
    if (opts.queue) {
      const spec: GroundTruthSpec = {
        model: modelFingerprint(model), data: { name: opts.data.name, count: opts.data.count, fingerprint: dataFingerprint(opts.data) },
        layer: opts.layer, ber: opts.ber, seed, faults: k ?? null, exhaustive, bits: sp.bits, unit: sp.unit, sample: opts.sample ?? ANALYSIS_DEFAULTS.weightSample, trials,
      };
      let done = 0;
      await groundTruthOnQueue(opts.queue, spec, engine.golden, sp.units.length, (r) => {
        results[r.unit] = r;
        opts.onProgress?.(++done * trials, total);
      });
    } else {
      const clean = cleanParameters(model);
      for (let j = 0; j < sp.units.length; j++) {
        results.push(await unitTrials(sp, engine, clean, cell, j, (t) => opts.onProgress?.(j * trials + t + 1, total)));
      }
    }
  } finally {
    await engine.release();
  }
  const even = results.map((r) => r.halves[0]);
  const odd = results.map((r) => r.halves[1]);
  return {
    layer: opts.layer, op: sp.layer.node.opType, ber: opts.ber, unit: sp.unit, units: sp.units, trials, faults: k ?? null, exhaustive, bits: sp.bits, seed,
    goldenAccuracy: engine.golden.accuracy, images: opts.data.count, drops: results.map((r) => r.drop / trials), meanFaults: results.map((r) => r.faults / trials),
    evaluated: results.reduce((n, r) => n + r.evaluated, 0), splitHalf: trials > 1 && sp.units.length > 1 ? nullIfNaN(spearman(even, odd)) : null,
  };
}

/** One unit's trials: the summed drop (pp) and fault count, the drops summed over even and odd trials, and the trials that needed a run. */
export interface UnitResult {
  /** Index of the unit in the ground truth's `units`. */
  unit: number;
  drop: number;
  faults: number;
  halves: [number, number];
  evaluated: number;
}

/** What one ground-truth cell depends on besides the model and data. */
interface CellSettings {
  layer: string;
  ber: number;
  seed: number;
  faults: number | undefined;
  exhaustive: boolean;
  trials: number;
  images: number;
}

/** Runs every trial of unit `j` (the single process and queue workers both call this, so results agree exactly). */
async function unitTrials(sp: UnitSpace, engine: TrialEngine, clean: ReadonlyMap<string, TensorData>, c: CellSettings, j: number, onTrial?: (t: number) => void): Promise<UnitResult> {
  const r: UnitResult = { unit: j, drop: 0, faults: 0, halves: [0, 0], evaluated: 0 };
  const el = sp.elements(sp.units[j]);
  for (let t = 0; t < c.trials; t++) {
    const list = c.exhaustive
      ? [{ tensor: sp.layer.weight, index: el[Math.floor(t / sp.bits.length)], bit: sp.bits[t % sp.bits.length], kind: 'flip' as const }]
      : cellFaults(sp, c, sp.units[j], t);
    r.faults += list.length;
    if (list.length) {
      const inj = injectFaults(clean, list);
      const o = await engine.evaluate(inj.tensors, inj.changed);
      if (o.path !== 'golden') r.evaluated++;
      const d = ((engine.golden.correct - o.correct) / c.images) * 100;
      r.drop += d;
      // halves: alternate trials; exhaustively, alternate weights (alternating positions would split by bit)
      r.halves[(c.exhaustive ? Math.floor(t / sp.bits.length) : t) % 2] += d;
    }
    onTrial?.(t);
  }
  return r;
}

/** Everything a ground truth's units depend on, as plain data (what a queue job carries). */
export interface GroundTruthSpec {
  /** `modelFingerprint` of the model. */
  model: string;
  data: { name: string; count: number; fingerprint: string };
  layer: string;
  ber: number;
  seed: number;
  faults: number | null;
  exhaustive: boolean;
  bits: number[];
  unit: 'channel' | 'weight';
  sample: number;
  trials: number;
}

/** A 'groundtruth' queue job: all trials of one unit. */
export interface GroundTruthJob {
  v: 1;
  campaign: string;
  spec: GroundTruthSpec;
  golden: { correct: number; count: number; due: number };
  /** Index of the unit in the ground truth's units. */
  unit: number;
}

/** Runs the units of a ground truth as 'groundtruth' jobs on a Redis queue (see campaign/queue.ts). */
async function groundTruthOnQueue(queue: QueueRunOptions, spec: GroundTruthSpec, golden: GoldenResult, units: number, onResult: (r: UnitResult) => void): Promise<void> {
  const cid = campaignId({ kind: 'groundtruth', ...spec });
  const jobs: QueueJob<GroundTruthJob>[] = Array.from({ length: units }, (_, j) => ({
    id: `${cid}-u${j}`, kind: 'groundtruth', label: `unit ${j} of ${spec.layer}`,
    data: { v: 1, campaign: cid, spec, golden: { correct: golden.correct, count: golden.count, due: golden.due }, unit: j },
  }));
  await collectOnQueue<GroundTruthJob, UnitResult>(queue, {
    id: cid, jobs, meta: campaignMeta(queue.label, spec, [spec.ber], spec.trials, units),
    check: (v, job) => unitResultProblem(v, job.data.unit, spec.trials) ?? (v as UnitResult),
  }, onResult);
}

/** What is wrong with a worker's unit result, as a clause, or undefined. */
function unitResultProblem(v: unknown, unit: number, trials: number): string | undefined {
  if (!v || typeof v !== 'object') return 'it is no result object';
  const r = v as Record<string, unknown>;
  if (r.unit !== unit) return `it is for unit ${JSON.stringify(r.unit)}`;
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!finite(r.drop) || Math.abs(r.drop as number) > 100 * trials) return 'its drop is not a number of percentage points';
  if (!Array.isArray(r.halves) || r.halves.length !== 2 || !r.halves.every(finite)) return 'its halves are not two numbers';
  if (!Number.isSafeInteger(r.faults) || (r.faults as number) < 0) return 'its fault count is not a whole number ≥ 0';
  if (!Number.isInteger(r.evaluated) || (r.evaluated as number) < 0 || (r.evaluated as number) > trials) return `its evaluated trials are not a whole number from 0 to ${trials}`;
  return undefined;
}

/** The 'groundtruth' job kind for queue workers (`runWorker({ kinds: { groundtruth: groundTruthJobs } })`). */
export const groundTruthJobs: JobKind<GroundTruthJob, { sp: UnitSpace; engine: TrialEngine; clean: ReadonlyMap<string, TensorData>; release(): Promise<void> }, UnitResult> = {
  parse(d) {
    const j = d as Partial<GroundTruthJob> | undefined;
    const s = j?.spec as Partial<GroundTruthSpec> | undefined;
    const ok = !!j && typeof j === 'object' && j.v === 1 && isCampaignId(j.campaign) && !!s && typeof s === 'object' && !!j.golden && typeof j.golden === 'object'
      && typeof s.model === 'string' && typeof s.layer === 'string' && !!s.data && typeof s.data === 'object' && Number.isInteger(s.data.count) && s.data.count > 0
      && Array.isArray(s.bits) && Number.isInteger(s.trials) && (s.trials as number) >= 1 && Number.isInteger(j.unit) && (j.unit as number) >= 0 && (s.unit === 'channel' || s.unit === 'weight');
    if (!ok) throw damagedJob();
    if (campaignId({ kind: 'groundtruth', ...s }) !== j.campaign) throw damagedJob('The job\'s campaign id does not match its settings; the queue holds a damaged job.');
    return { job: j as GroundTruthJob, campaign: j.campaign!, setupKey: `groundtruth:${j.campaign}`, label: `unit ${j.unit} of ${s.layer}` };
  },
  async setup(job, env) {
    const s = job.spec;
    const model = env.findModel(s.model);
    if (!model) throw new FlipguardError(noModelMessage(s.model, env));
    // the coordinator's evaluation set is the first `count` images (CLI --eval-limit)
    const data = limitImages(env.data(model), s.data.count);
    const fp = dataFingerprint(data);
    if (fp !== s.data.fingerprint) {
      throw new FlipguardError(`This worker's setup does not match the ground truth (its data are ${data.count} ${data.name} images with fingerprint ${fp.slice(0, 12)}…, the job's ${s.data.count} ${s.data.name} images with ${String(s.data.fingerprint).slice(0, 12)}…); start the worker with the same data options as the coordinator (${opt('data')}: the same data set, folder, split and mean/std).`);
    }
    const sp = unitSpace(model, { layer: s.layer, unit: s.unit, sample: s.sample, bits: { list: s.bits }, seed: s.seed });
    if (job.unit >= sp.units.length) throw damagedJob(`The job names unit ${job.unit} but "${s.layer}" has ${sp.units.length}; the queue holds a damaged job.`);
    const target = listParameters(model).filter((p) => p.name === sp.layer.weight);
    const engine = await TrialEngine.create(model, data, target, { batch: env.batch, threads: env.threads, swap: env.swap });
    await checkGolden(engine, job.golden);
    return { sp, engine, clean: cleanParameters(model), release: () => engine.release() };
  },
  async run(ctx, job) {
    const s = job.spec;
    const r = await unitTrials(ctx.sp, ctx.engine, ctx.clean, { layer: s.layer, ber: s.ber, seed: s.seed, faults: s.faults ?? undefined, exhaustive: s.exhaustive, trials: s.trials, images: s.data.count }, job.unit);
    return { result: r, detail: `mean drop ${(r.drop / s.trials).toFixed(3)} pp over ${s.trials} trial${s.trials === 1 ? '' : 's'}` };
  },
};

const nullIfNaN = (x: number) => (Number.isNaN(x) ? null : x);

/** One method's agreement with the ground truth. */
export interface CompareRow {
  method: string;
  /** Spearman's ρ, in [−1, 1] (0 when undefined, see `constant`). */
  spearman: number;
  /** Kendall's τ-b, in [−1, 1] (0 when undefined). */
  kendall: number;
  /** Share of the ground truth's top-k units in the method's top-k, in [0, 1]. */
  topkOverlap: number;
  /** True when the method's scores are constant over the units (correlations undefined, reported as 0). */
  constant?: boolean;
}

/** What `flipguard rank --compare --json` writes and the report reads. */
export interface Comparison {
  layer: string;
  /** Op of the layer (Conv, Gemm, MatMul). */
  op: string;
  ber: number;
  /** k of the top-k overlap. */
  k: number;
  unit: 'channel' | 'weight';
  rows: CompareRow[];
  /** Ground truth per unit (mean accuracy drop, percentage points), in unit order. */
  groundTruth: number[];
  /** Unit ids (channel indices or flat weight indices). */
  units: number[];
  trials: number;
  faults: number | null;
  exhaustive: boolean;
  bits: number[];
  goldenAccuracy: number;
  images: number;
  /** True when the ground truth itself is constant (e.g. no trial had a fault): every correlation is then undefined. */
  constantGroundTruth: boolean;
  /** The ground truth's split-half reliability (see GroundTruth.splitHalf). */
  splitHalf: number | null;
}

/**
 * The scores of `layer` as one value per ground-truth unit. Channel units: per-channel scores as
 * they are; per-weight scores summed over the channel's weights; neuron (element) scores summed
 * over the channel's elements. Weight units: per-weight scores picked; a channel score is given
 * to every weight of the channel.
 */
export function unitScores(model: Model, scores: Scores, layerName: string, unit: 'channel' | 'weight', units: readonly number[]): number[] {
  const layer = findLayer(model, layerName, { stored: true });
  const l = scores.layers.find((x) => x.name === layerName);
  if (!l) throw new FlipguardError(`The ${scores.method} scores have no entry for layer "${layerName}"; compute scores for this model.`);
  const C = layer.outChannels;
  const numel = model.graph.initializers.get(layer.weight)!.data.length;
  const s = l.scores;
  const idx = channelWeightIndices(model, layer);
  if (l.unit === 'weight') {
    if (s.length !== numel) throw new FlipguardError(`The ${scores.method} scores for "${layerName}" have ${s.length} values but the layer has ${numel} weights; the scores were computed for another model.`);
    if (unit === 'weight') return units.map((i) => s[i]);
    return units.map((c) => { let t = 0; for (const i of idx(c)) t += s[i]; return t; });
  }
  let perChannel: number[];
  if (s.length === C) perChannel = s;
  else if (s.length % C === 0) {
    const per = s.length / C;
    perChannel = Array.from({ length: C }, (_, c) => { let t = 0; for (let i = 0; i < per; i++) t += s[c * per + i]; return t; });
  } else {
    throw new FlipguardError(`The ${scores.method} scores for "${layerName}" have ${s.length} values, which do not divide into its ${C} channels; the scores were computed for another model.`);
  }
  if (unit === 'channel') return units.map((c) => perChannel[c]);
  const channelOf = new Map<number, number>();
  for (let c = 0; c < C; c++) for (const i of idx(c)) channelOf.set(i, c);
  return units.map((i) => perChannel[channelOf.get(i)!]);
}

/** Rank agreement of each scores object with the ground truth (k default max(1, ⌈0.1·units⌉)). */
export function compareWithGroundTruth(model: Model, gt: GroundTruth, scores: readonly Scores[], k?: number): Comparison {
  const n = gt.units.length;
  const kk = k ?? Math.max(1, Math.ceil(ANALYSIS_DEFAULTS.topkShare * n));
  const constantGt = gt.drops.every((d) => d === gt.drops[0]);
  const rows = scores.map((s) => {
    const v = unitScores(model, s, gt.layer, gt.unit, gt.units);
    const rho = spearman(v, gt.drops);
    const tau = kendallTauB(v, gt.drops);
    const row: CompareRow = { method: s.method, spearman: Number.isNaN(rho) ? 0 : rho, kendall: Number.isNaN(tau) ? 0 : tau, topkOverlap: topkOverlap(v, gt.drops, kk) };
    if (v.every((x) => x === v[0])) row.constant = true;
    return row;
  });
  return {
    layer: gt.layer, op: gt.op, ber: gt.ber, k: kk, unit: gt.unit, rows, groundTruth: gt.drops, units: gt.units, trials: gt.trials, faults: gt.faults, exhaustive: gt.exhaustive,
    bits: gt.bits, goldenAccuracy: gt.goldenAccuracy, images: gt.images, constantGroundTruth: constantGt, splitHalf: gt.splitHalf,
  };
}

export interface CompareOptions extends GroundTruthOptions {
  /** Methods to compare (default vulnerability, lrp, neurons, l1, taylor, random). */
  methods?: readonly string[];
  /** Training images for the data-dependent methods. */
  rankData?: Dataset;
  /** Images per method (default per method, see ANALYSIS_DEFAULTS). */
  images?: number;
  /** Seed of the rankings' image samples (default 0). */
  rankSeed?: number;
  /** k of the top-k overlap. */
  k?: number;
  /** Precomputed ground truth to reuse (must match layer, BER and unit). */
  groundTruth?: GroundTruth;
  /**
   * Computes one method's scores; `compareRankings` passes `rank` from analysis/index.ts (kept as a
   * parameter so this module does not import the dispatcher that imports it).
   */
  ranker: (model: Model, method: string, unit: 'channel' | 'weight') => Promise<Scores>;
}

/** Ground truth plus every method's rank agreement with it (see `Comparison`). */
export async function compareRankingsWith(model: Model, opts: CompareOptions): Promise<Comparison> {
  const gt = opts.groundTruth ?? await groundTruth(model, opts);
  if (gt.layer !== opts.layer || gt.ber !== opts.ber) throw new FlipguardError(`The given ground truth is for layer "${gt.layer}" at BER ${gt.ber}, not "${opts.layer}" at ${opts.ber}; compute it for this comparison.`);
  const methods = opts.methods ?? ['vulnerability', 'lrp', 'neurons', 'l1', 'taylor', 'random'];
  const scores: Scores[] = [];
  for (const m of methods) scores.push(await opts.ranker(model, m, gt.unit));
  return compareWithGroundTruth(model, gt, scores, opts.k);
}

/**
 * What a comparison JSON must hold for the report (files written before some fields existed lack
 * the optional ones); a `Comparison` is one.
 */
export type ComparisonFile = Pick<Comparison, 'layer' | 'ber' | 'rows'> & Partial<Pick<Comparison, 'k' | 'op' | 'trials'>> & { unit?: string };

/** Reads a comparison JSON (`flipguard rank --compare --json`); throws a FieldError naming the first bad field. */
export function readComparisonFile(o: Obj): ComparisonFile {
  const rows = arr(o.rows, 'rows', true).map((r, i) => {
    const f = at('rows', i);
    const ro = obj(r, f);
    const row: CompareRow = {
      method: str(ro.method, `${f}.method`),
      spearman: num(ro.spearman, `${f}.spearman`, [-1, 1]),
      kendall: num(ro.kendall, `${f}.kendall`, [-1, 1]),
      topkOverlap: num(ro.topkOverlap, `${f}.topkOverlap`, [0, 1]),
    };
    if (ro.constant === true) row.constant = true;
    return row;
  });
  const out: ComparisonFile = { layer: str(o.layer, 'layer'), ber: num(o.ber, 'ber', [0, 1]), rows };
  if (o.k !== undefined && o.k !== null) out.k = num(o.k, 'k', [1, Number.MAX_SAFE_INTEGER]);
  if (typeof o.op === 'string') out.op = o.op;
  if (typeof o.unit === 'string') out.unit = o.unit;
  if (typeof o.trials === 'number' && Number.isFinite(o.trials)) out.trials = o.trials;
  return out;
}

/** A printable table of a comparison (one row per method, then the ground truth's summary). */
export function formatComparison(c: Comparison): string {
  const f = (x: number) => (x >= 0 ? ' ' : '') + x.toFixed(3);
  const table = textTable(
    ['method', 'Spearman', 'Kendall τ-b', `top-${c.k} overlap`],
    c.rows.map((r) => [r.method + (r.constant ? ' (constant)' : ''), f(r.spearman), f(r.kendall), `${(r.topkOverlap * 100).toFixed(0)}%`]),
  );
  const gt = c.groundTruth;
  const mean = gt.reduce((a, b) => a + b, 0) / (gt.length || 1);
  const nonzero = gt.filter((d) => d !== 0).length;
  const how = c.exhaustive ? 'every single bit flip of the unit once' : c.faults === null ? `BER ${c.ber.toExponential(1)}` : `${c.faults} fault${c.faults === 1 ? '' : 's'} per trial`;
  const lo = c.bits[0], hi = c.bits[c.bits.length - 1];
  const bits = c.bits.length === 32 ? 'all bits' : c.bits.length === 1 ? `bit ${lo}` : c.bits.length === hi - lo + 1 ? `bits ${lo}–${hi}` : `bits ${c.bits.join(',')}`;
  return `${table}\n\nground truth: ${c.units.length} ${c.unit === 'weight' ? 'weights' : c.op === 'Conv' ? 'channels' : 'neurons'} of ${c.layer}, ${how}, ${bits}, ${c.trials} trial${c.trials === 1 ? '' : 's'} each on ${c.images} images (golden ${(c.goldenAccuracy * 100).toFixed(2)}%); ` +
    `mean drop ${mean.toFixed(3)} pp, max ${Math.max(...gt).toFixed(3)} pp, ${nonzero} of ${gt.length} units with a non-zero drop; ` +
    `split-half reliability (Spearman, even vs odd trials) ${c.splitHalf === null ? 'n/a' : c.splitHalf.toFixed(3)}` +
    (c.constantGroundTruth ? '\nwarning: the ground truth is constant (no fault changed a prediction), so every correlation is undefined (shown as 0); use --faults K or a higher BER.' : '');
}
