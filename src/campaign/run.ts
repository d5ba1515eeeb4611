/**
 * The campaign runner (SPEC §2): golden run, then for each BER × trial a seeded fault plan injected
 * into copies of the parameters, an evaluation, and one JSON line appended to the output file.
 */
import { checkOutputPath } from '../util/fs-safe.js';
import { existsSync } from 'node:fs';
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import { checkDataFitsModel, type ImageSet } from '../runtime/evaluate.js';
import type { BitRange } from '../faults/bits.js';
import { cleanParameters } from '../faults/inject.js';
import { checkBer, checkSeed, FaultPlanner, type CountMode, type FaultKind } from '../faults/plan.js';
import type { TargetFilter } from '../faults/targets.js';
import { TrialEngine, type Shortcuts, type SwapMode, type TrialOutcome } from './engine.js';
import { runTrial, type TrialContext } from './trial.js';
import { runOnQueue, type QueueRunOptions } from './queue.js';
import { campaignConfig, limitImages } from './config.js';

export { campaignConfig, limitImages };
import {
  CAMPAIGN_FORMAT, FLIPGUARD_VERSION, canonicalOrder, cellKey, configDifferences, effectiveRun, lockOutput, readCampaignFile, RecordWriter, runLine, verifyPlans,
  type CampaignConfig, type CampaignHeader, type GoldenResult, type RunInfo, type TrialRecord,
} from './records.js';
import { applyMargin, DEFAULT_MIN_TRIALS, stoppingPoint, summarize, type CampaignSummary } from './summary.js';
import { DEFAULT_SEED } from '../defaults.js';

export interface Shard {
  /** This process's shard, 0 ≤ index < count. */
  index: number;
  count: number;
}

export interface CampaignProgress {
  ber: number;
  trial: number;
  record: TrialRecord;
  /** How the trial was evaluated (golden shortcut, suffix from a cut point, or the whole model). */
  path: TrialOutcome['path'];
  /** Trials finished by this call so far. */
  done: number;
  /** Trials this call will run at most (finished and other shards' cells excluded). */
  total: number;
}

export interface CampaignOptions {
  model: Model;
  /** Evaluation images (e.g. a `Dataset` from loadDataset). */
  data: ImageSet;
  /** Bit error rates: probability per stored bit, each in [0, 1]. */
  bers: readonly number[];
  /** Trials per BER (≥ 1). */
  trials: number;
  /** Campaign seed (32-bit integer, default 1). Fault plans depend on (seed, model, BER, trial). */
  seed?: number;
  /** Count rule: 'binomial' (default), 'floor' (paper A) or 'fixed' (with `faults`). */
  count?: CountMode;
  /** Faults per trial for count 'fixed'. */
  faults?: number;
  /** 'flip' (default), 'stuck0' or 'stuck1'. */
  kind?: FaultKind;
  /** Bits that can be hit (0 = mantissa LSB … 31 = sign); default all. */
  bits?: BitRange | string;
  /** Which parameter tensors can be hit; default every float32 initializer. */
  targets?: TargetFilter;
  /** Output JSON-lines file. Re-running into it resumes; without it nothing is written. */
  out?: string;
  /** Evaluate only the first `limit` images. */
  limit?: number;
  /**
   * Early stop per BER once the 95 % half-width of the drop over trials 0…n−1 (n ≥ minTrials) is
   * below `margin` percentage points. Sharded runs cannot see each other's trials, so each shard runs
   * all its cells and `mergeRuns` applies the same rule (the result equals an unsharded run's).
   */
  margin?: number;
  /** Fewest trials before the margin rule may stop (default 10). */
  minTrials?: number;
  /** Run only the cells (BER, trial) with trial % count === index. */
  shard?: Shard;
  onProgress?: (p: CampaignProgress) => void;
  /** Notes worth telling the user that change no result (a stale lock file removed). */
  onNotice?: (message: string) => void;
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Exact shortcuts (default all on); see engine.ts. */
  shortcuts?: Shortcuts | boolean;
  /** Memory for cached golden activations (prefix shortcut), bytes; default 512 MiB. */
  cacheBytes?: number;
  /** How faulted parameters reach onnxruntime (see engine.ts); default 'rebuild'. */
  swap?: SwapMode;
  /**
   * Run the trials on a Redis job queue instead of in this process (see queue.ts): this call enqueues
   * the cells, `flipguard worker` processes run them, and the records and summary are the same. As
   * with shards, the margin rule is applied to the summary, not used to stop enqueueing.
   */
  queue?: QueueRunOptions;
}

export interface CampaignResult extends CampaignSummary {
  config: CampaignConfig;
  /** The records the summary counts (earlier runs included; after the margin rule), canonical order. */
  records: TrialRecord[];
  /** Trials run by this call. */
  ran: number;
  /** Cells found finished in the output file. */
  resumed: number;
}

/** Whether shard `shard` owns trial `trial` (the same split for every BER). */
export function inShard(trial: number, shard: Shard | undefined): boolean {
  return !shard || trial % shard.count === shard.index;
}

function checkShard(shard: Shard | undefined): void {
  if (!shard) return;
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new FlipguardError(`Shard ${index}/${count} is invalid; give a shard count ≥ 1 and an index from 0 to count − 1.`);
  }
}

/** "the whole run" or "shard i/n", for messages. */
function shardName(s: Shard | null): string {
  return s ? `shard ${s.index}/${s.count}` : 'the whole run (no shard)';
}

/**
 * The run a file must record before `asked`'s cells are appended: the file's BERs and trials grown
 * by those asked for, or undefined when `asked` adds no cell (a resume that asks for fewer is fine).
 */
function grownRun(had: RunInfo, asked: RunInfo): RunInfo | undefined {
  const extra = asked.bers.filter((b) => !had.bers.includes(b));
  if (extra.length === 0 && asked.trials <= had.trials) return undefined;
  return { ...asked, bers: [...had.bers, ...extra], trials: Math.max(had.trials, asked.trials), shard: had.shard };
}

/**
 * Runs a fault-injection campaign and returns the per-BER summary. With `out`, every finished
 * trial is appended as one JSON line (see records.ts) and a re-run resumes where it stopped; an
 * output written for another model or configuration is refused.
 */
export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const seed = opts.seed ?? DEFAULT_SEED;
  checkSeed(seed);
  if (!Array.isArray(opts.bers) || opts.bers.length === 0) throw new FlipguardError('No bit error rates were given; pass at least one BER such as 1e-6.');
  for (const b of opts.bers) checkBer(b);
  const bers = [...new Set(opts.bers)];
  if (!Number.isInteger(opts.trials) || opts.trials < 1) throw new FlipguardError(`The number of trials must be a whole number ≥ 1, got ${opts.trials}.`);
  checkShard(opts.shard);
  if (opts.margin !== undefined && !(typeof opts.margin === 'number' && opts.margin > 0 && Number.isFinite(opts.margin))) {
    throw new FlipguardError(`The margin must be a positive number of percentage points, got ${opts.margin}.`);
  }
  const minTrials = opts.minTrials ?? DEFAULT_MIN_TRIALS;
  if (!Number.isInteger(minTrials) || minTrials < 2) throw new FlipguardError(`minTrials must be a whole number ≥ 2, got ${minTrials}.`);
  const data = limitImages(opts.data, opts.limit);
  checkDataFitsModel(opts.model, data);
  if (data.count === 0) throw new FlipguardError(`The evaluation set ${data.name} holds no images; give a data set with at least one image.`);

  const planner = new FaultPlanner(opts.model, { count: opts.count, faults: opts.faults, kind: opts.kind, bits: opts.bits, targets: opts.targets });
  const config = campaignConfig(opts.model, data, planner, { limit: opts.limit, seed, targets: opts.targets, bits: opts.bits });

  // an existing record file is resumed (appended to), so it is no clobber; links, folders, devices are refused
  if (opts.out) checkOutputPath(opts.out, { append: true });
  const unlock = opts.out ? lockOutput(opts.out, opts.onNotice) : undefined;
  try {
    return await runLocked(opts, { seed, bers, minTrials, data, planner, config });
  } finally {
    unlock?.();
  }
}

async function runLocked(
  opts: CampaignOptions,
  ctx: { seed: number; bers: number[]; minTrials: number; data: ImageSet; planner: FaultPlanner; config: CampaignConfig },
): Promise<CampaignResult> {
  const { seed, bers, minTrials, data, planner, config } = ctx;
  // existing output: same configuration or refuse
  let existing: ReturnType<typeof readCampaignFile> | undefined;
  if (opts.out && existsSync(opts.out)) {
    existing = readCampaignFile(opts.out);
    if (existing.header) {
      const diff = configDifferences(existing.header.config, config);
      if (diff.length) {
        throw new FlipguardError(`"${opts.out}" holds a campaign with a different configuration (${diff.join(', ')} differ); write to a new output file or rerun with the original settings.`);
      }
      const had = existing.header.run.shard;
      const want = opts.shard ?? null;
      if (had?.index !== want?.index || had?.count !== want?.count) {
        throw new FlipguardError(`"${opts.out}" holds ${shardName(had)} of its campaign but ${shardName(want)} was asked for; rerun with the file's shard or write to a new output file.`);
      }
      // the records' fault counts and plan digests against the plans regenerated from the seed
      verifyPlans(existing, opts.out, planner);
    }
  }
  const records: TrialRecord[] = existing?.header ? [...existing.records] : [];
  const done = new Set(records.map((r) => cellKey(r.ber, r.trial)));

  const engine = await TrialEngine.create(opts.model, data, planner.targets, {
    batch: opts.batch, threads: opts.threads, shortcuts: opts.shortcuts, cacheBytes: opts.cacheBytes, swap: opts.swap,
  });
  let writer: RecordWriter | undefined;
  let ran = 0;
  try {
    const golden: GoldenResult = engine.golden;
    if (existing?.header) {
      const g = existing.header.golden;
      if (g.correct !== golden.correct || g.count !== golden.count || g.due !== golden.due) {
        throw new FlipguardError(`"${opts.out}" records a fault-free accuracy of ${g.correct}/${g.count} but this run measures ${golden.correct}/${golden.count}, so the runtime computes differently here; write to a new output file.`);
      }
    }
    if (opts.out) {
      const header: CampaignHeader = {
        flipguard: 'campaign', format: CAMPAIGN_FORMAT, version: FLIPGUARD_VERSION, config, golden,
        run: { bers, trials: opts.trials, margin: opts.margin ?? null, minTrials, shard: opts.shard ?? null },
      };
      if (existing?.header) {
        writer = RecordWriter.open(opts.out, { truncateTo: existing.torn ? existing.validBytes : undefined });
        const grown = grownRun(effectiveRun(existing), header.run);
        if (grown) writer.writeLine(runLine(grown), true);
      } else writer = RecordWriter.open(opts.out, { header, truncateTo: existing ? 0 : undefined });
    }
    const trialCtx: TrialContext = { engine, planner, clean: cleanParameters(opts.model), seed };
    let total = 0;
    for (const ber of bers) for (let t = 0; t < opts.trials; t++) if (inShard(t, opts.shard) && !done.has(cellKey(ber, t))) total++;
    const byBer = new Map<number, TrialRecord[]>();
    for (const r of records) { const l = byBer.get(r.ber); if (l) l.push(r); else byBer.set(r.ber, [r]); }
    const stopped = (ber: number): boolean => {
      if (opts.margin === undefined || opts.shard || opts.queue) return false;
      const l = [...(byBer.get(ber) ?? [])].sort((a, b) => a.trial - b.trial);
      return stoppingPoint(l, opts.margin, minTrials) !== undefined;
    };
    const accept = (record: TrialRecord, path: TrialOutcome['path']) => {
      writer?.write(record);
      records.push(record);
      done.add(cellKey(record.ber, record.trial));
      const l = byBer.get(record.ber); if (l) l.push(record); else byBer.set(record.ber, [record]);
      ran++;
      opts.onProgress?.({ ber: record.ber, trial: record.trial, record, path, done: ran, total });
    };
    if (opts.queue) {
      const cells: { ber: number; trial: number }[] = [];
      for (const ber of bers) for (let trial = 0; trial < opts.trials; trial++) if (inShard(trial, opts.shard) && !done.has(cellKey(ber, trial))) cells.push({ ber, trial });
      const rules = { bers: new Set(bers), trials: opts.trials, shard: opts.shard ?? null, golden, seed, params: config.params };
      await runOnQueue(opts.queue, { config, golden, bers, trials: opts.trials, campaignCells: bers.length * opts.trials, rules, planner }, cells, (r) => accept(r.record, r.path), records.length);
    }
    for (const ber of opts.queue ? [] : bers) {
      for (let trial = 0; trial < opts.trials; trial++) {
        if (!inShard(trial, opts.shard) || done.has(cellKey(ber, trial))) continue;
        if (stopped(ber)) break;
        const { record, path } = await runTrial(trialCtx, ber, trial);
        accept(record, path);
      }
    }
    const summary = summarize(records, { golden, margin: opts.margin, minTrials });
    const counted = applyMargin(records, { margin: opts.margin, minTrials }).records;
    return { ...summary, config, records: canonicalOrder(counted), ran, resumed: existing?.header ? existing.records.length : 0 };
  } finally {
    writer?.close();
    await engine.release();
  }
}
