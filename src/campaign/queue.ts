/**
 * A Redis job queue (BullMQ) as a campaign execution backend: a coordinator enqueues one job per
 * (BER, trial) cell and collects the records; any number of workers, on any machine that has the
 * model and the data, run the trials through the same `runTrial` as a single process.
 *
 * The queue carries data, never code: a job is `{campaign, config, golden, ber, trial}`. A worker
 * loads models and data only from what its own options name, and refuses (fails) a job whose model
 * fingerprint, data fingerprint or fault-free result differ from its own.
 *
 * Job ids are `<campaign id>-<BER>-<trial>`, the campaign id a hash of the campaign configuration,
 * so enqueueing a cell twice (a coordinator restarted) adds nothing, and finished jobs stay in the
 * completed set (7 days) for a restarted coordinator to collect.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME } from '../defaults.js';
import { FlipguardError } from '../errors.js';
import type { Model } from '../graph/types.js';
import { loadModel } from '../graph/load.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { modelFingerprint } from '../faults/fingerprint.js';
import { cleanParameters } from '../faults/inject.js';
import { checkBer, FaultPlanner } from '../faults/plan.js';
import type { TargetFilter } from '../faults/targets.js';
import { TrialEngine, type Shortcuts, type SwapMode, type TrialOutcome } from './engine.js';
import { RECORD_KEYS, configDifferences, type CampaignConfig, type GoldenResult, type TrialRecord } from './records.js';
import { campaignConfig, limitImages } from './run.js';
import { runTrial, type TrialContext } from './trial.js';

export { DEFAULT_QUEUE_NAME };
/** How long finished and failed jobs stay in Redis for a restarted coordinator, seconds. */
const KEEP_SECONDS = 7 * 24 * 3600;
/** Times a job may be recovered from a dead worker before it fails. */
const MAX_STALLED = 10;

export interface QueueAddress {
  /** `redis://[:PASSWORD@]HOST[:PORT][/DB]` or `rediss://…` (TLS). */
  url: string;
  /** BullMQ queue name (default "flipguard"); coordinator and workers must agree. */
  name?: string;
}

/** The URL with any password replaced by `***` (for messages). */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** ioredis connection options of a `redis://` or `rediss://` URL (TLS for rediss, password, DB). */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FlipguardError(`The queue address "${redactUrl(url)}" is not a URL; give redis://HOST:PORT[/DB] (or rediss:// for TLS).`);
  }
  const tls = u.protocol === 'rediss:';
  if (u.protocol !== 'redis:' && !tls) throw new FlipguardError(`The queue address "${redactUrl(url)}" is not a redis:// or rediss:// URL; give e.g. redis://localhost:6379/0.`);
  if (!u.hostname) throw new FlipguardError(`The queue address "${redactUrl(url)}" names no host; give e.g. redis://localhost:6379/0.`);
  if (u.search || u.hash) throw new FlipguardError(`The queue address "${redactUrl(url)}" has a query or fragment, which flipguard does not use; give redis://[:PASSWORD@]HOST:PORT[/DB].`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,4}$/.test(path)) throw new FlipguardError(`The database "/${path}" in the queue address is not a number; give redis://HOST:PORT/DB with DB such as 0.`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const o: RedisOptions = { host, port: u.port ? Number(u.port) : 6379, db: path ? Number(path) : 0 };
  if (u.username) o.username = decodeURIComponent(u.username);
  if (u.password) o.password = decodeURIComponent(u.password);
  // SNI carries host names only (RFC 6066); for an IP address the certificate's IP entry is checked
  if (tls) o.tls = isIP(host) ? {} : { servername: host };
  return o;
}

/** Connects once and pings, so an unreachable server or a wrong password is one clear sentence. */
export async function checkRedis(url: string): Promise<void> {
  const where = redactUrl(url);
  const client = new Redis({ ...redisOptions(url), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000, enableOfflineQueue: false });
  // a refused login closes the connection; the reason arrives as an 'error' event first
  let first: Error | undefined;
  client.on('error', (e: Error) => { first ??= e; });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const e = first ?? (err as Error);
    const msg = e.message ?? String(e);
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      throw new FlipguardError(`The TLS certificate of Redis at ${where} is not trusted (${code}); give its CA certificate with NODE_EXTRA_CA_CERTS=ca.pem, or use the host name the certificate names.`);
    }
    if (/NOAUTH|WRONGPASS|invalid password|AUTH/i.test(msg)) {
      throw new FlipguardError(`Redis at ${where} refused the login (${msg.split('\n')[0].slice(0, 120)}); put the password in the address as redis://:PASSWORD@HOST:PORT.`);
    }
    throw new FlipguardError(`Redis at ${where} cannot be reached (${code || msg.slice(0, 120)}); start redis-server there or fix the queue address.`);
  } finally {
    client.disconnect();
  }
}

/** Identifies a campaign in the queue: a hash of its configuration (16 hex digits). */
export function campaignId(config: CampaignConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** The job id of a cell: deterministic, so enqueueing it again is a no-op. */
export function jobId(campaign: string, ber: number, trial: number): string {
  return `${campaign}-${String(ber)}-${trial}`;
}

/** What a job carries: plain data, never code. */
export interface TrialJob {
  v: 1;
  campaign: string;
  config: CampaignConfig;
  golden: GoldenResult;
  ber: number;
  trial: number;
}

/** What a worker returns for a job. */
export interface TrialJobResult {
  record: TrialRecord;
  path: TrialOutcome['path'];
}

/** Key of the hash that holds per-campaign progress for `flipguard queue status`. */
function campaignsKey(name: string): string {
  return `flipguard:campaigns:${name}`;
}

/** What a coordinator stores in Redis about its campaign (shown by `flipguard queue status`). */
export interface CampaignMeta {
  label: string;
  model: string;
  data: string;
  bers: number[];
  trials: number;
  /** Cells of the whole campaign (all BERs × trials this coordinator was asked for). */
  total: number;
  started: string;
}

/** A foreign string shortened and with control characters escaped, for messages. */
function quoteForeign(s: unknown): string {
  const t = typeof s === 'string' ? s : String(s);
  return JSON.stringify(t.length > 300 ? `${t.slice(0, 300)}…` : t);
}

/**
 * Checks a worker's result for `cell` of a campaign with fault-free result `golden`: every field a
 * finite number in range, the cell itself, and accuracy, drop and rates consistent with whole image
 * counts. Returns the record (fixed key order) or a description of what is wrong.
 */
export function checkResult(value: unknown, cell: { ber: number; trial: number }, golden: GoldenResult): TrialJobResult | string {
  if (!value || typeof value !== 'object') return 'no result object';
  const v = value as { record?: unknown; path?: unknown };
  const r = v.record as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object') return 'no record';
  for (const k of RECORD_KEYS) {
    if (k === 'plan') { if (typeof r.plan !== 'string' || !/^[0-9a-f]{16}$/.test(r.plan)) return 'field plan is not a fault-plan digest'; continue; }
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) return `field ${k} is not a finite number`;
  }
  const rec = Object.fromEntries(RECORD_KEYS.map((k) => [k, r[k]])) as unknown as TrialRecord;
  if (rec.ber !== cell.ber || rec.trial !== cell.trial) return `it is for BER ${rec.ber} trial ${rec.trial}`;
  const n = golden.count;
  const correct = Math.round(rec.accuracy * n);
  if (correct / n !== rec.accuracy || rec.accuracyDrop !== ((golden.correct - correct) * 100) / n) return 'its accuracy and drop do not match a whole number of correct images';
  for (const k of ['sdcRate', 'dueRate'] as const) {
    const c = Math.round(rec[k] * n);
    if (c < 0 || c > n || c / n !== rec[k]) return `its ${k} is not a share of the ${n} images`;
  }
  if (!Number.isInteger(rec.faults) || rec.faults < 0 || !Number.isInteger(rec.seed) || rec.millis < 0) return 'its fault count, seed or time is out of range';
  const path = v.path === 'golden' || v.path === 'suffix' || v.path === 'full' ? v.path : 'full';
  return { record: rec, path };
}

export interface QueueRunOptions extends QueueAddress {
  /** Shown by `flipguard queue status` (e.g. the model file name). */
  label?: string;
  /** Called when nothing has arrived for a while and no worker is connected. */
  onIdle?: (message: string) => void;
  /** Seconds without progress and without workers before `onIdle` (default 10). */
  idleSeconds?: number;
}

/**
 * The coordinator side: enqueues `cells` of the campaign (`config`, `golden`) and calls `onResult`
 * once per cell, in completion order, with a checked record. Resolves when every cell has arrived;
 * a failed job (a worker refused it, or it stalled too often) rejects with one sentence.
 * `campaignCells` is the number of cells of the whole campaign (for status).
 */
export async function runOnQueue(
  opts: QueueRunOptions,
  campaign: { config: CampaignConfig; golden: GoldenResult; bers: number[]; trials: number; campaignCells: number },
  cells: readonly { ber: number; trial: number }[],
  onResult: (r: TrialJobResult) => void,
  done = 0,
): Promise<void> {
  await checkRedis(opts.url);
  const name = opts.name ?? DEFAULT_QUEUE_NAME;
  const connection = redisOptions(opts.url);
  const cid = campaignId(campaign.config);
  const queue = new Queue<TrialJob, TrialJobResult>(name, { connection });
  const events = new QueueEvents(name, { connection });
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const fail = (e: Error) => { failure ??= e; wake?.(); };
  queue.on('error', () => { /* ioredis reconnects; a lasting outage shows as no progress */ });
  events.on('error', () => { /* as above */ });
  const pending = new Map<string, { ber: number; trial: number }>();
  for (const c of cells) pending.set(jobId(cid, c.ber, c.trial), c);
  let collected = done;
  let chain = Promise.resolve();
  // our own connection for progress keys and id scans (BullMQ's stays BullMQ's)
  const client = new Redis(connection);
  client.on('error', () => undefined);
  try {
    const meta: CampaignMeta = {
      label: opts.label ?? '', model: campaign.config.model, data: `${campaign.config.data.count} ${campaign.config.data.name} images`,
      bers: campaign.bers, trials: campaign.trials, total: campaign.campaignCells, started: new Date().toISOString(),
    };
    await client.hset(campaignsKey(name), cid, JSON.stringify(meta), `${cid}:recorded`, String(collected));

    // progress for `queue status`, written at most twice a second (a Redis round trip each)
    let lastMark = 0;
    const mark = async (force = false) => {
      if (!force && Date.now() - lastMark < 500) return;
      lastMark = Date.now();
      await client.hset(campaignsKey(name), `${cid}:recorded`, String(collected));
    };
    /** Takes a finished job's result: from its completed event, or read from Redis when swept. */
    const collect = (id: string, value?: unknown) => {
      chain = chain.then(async () => {
        const cell = pending.get(id);
        if (!cell || failure) return;
        if (value === undefined) {
          const job = await Job.fromId<TrialJob, TrialJobResult>(queue, id);
          if (!job) return;
          value = job.returnvalue;
        }
        const checked = checkResult(value, cell, campaign.golden);
        if (typeof checked === 'string') {
          throw new FlipguardError(`A worker returned an invalid result for BER ${cell.ber} trial ${cell.trial} (${checked}); check that every worker runs this flipguard version, then rerun.`);
        }
        pending.delete(id);
        onResult(checked);
        collected++;
        await mark(pending.size === 0);
        if (pending.size === 0) wake?.();
      }).catch((e: Error) => fail(e));
    };
    const failed = (id: string, reason: unknown) => {
      const cell = pending.get(id);
      if (!cell) return;
      fail(new FlipguardError(`The job for BER ${cell.ber} trial ${cell.trial} failed on a worker: ${quoteForeign(reason)}; fix the workers and rerun this command to resume.`));
    };
    events.on('completed', ({ jobId: id, returnvalue }) => { if (pending.has(id)) collect(id, returnvalue ?? undefined); });
    events.on('failed', ({ jobId: id, failedReason }) => failed(id, failedReason));
    await events.waitUntilReady();

    // jobs a previous coordinator saw fail are retried (the workers may have been fixed since)
    const mine = (id: string) => pending.has(id);
    for (const id of (await client.zrange(queue.toKey('failed'), 0, -1)).filter(mine)) {
      const job = await Job.fromId(queue, id);
      await job?.retry('failed');
    }
    const jobs = [...pending].map(([id, c]) => ({
      name: 'trial',
      data: { v: 1 as const, campaign: cid, config: campaign.config, golden: campaign.golden, ber: c.ber, trial: c.trial },
      opts: { jobId: id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } },
    }));
    // in chunks, so a million-cell campaign is not one Redis command
    for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));

    // results that arrived while no coordinator listened, and any event missed: swept every 2 s
    let lastProgress = Date.now();
    let lastCount = collected;
    let warned = false;
    const sweep = async () => {
      for (const id of (await client.zrange(queue.toKey('completed'), 0, -1)).filter(mine)) collect(id);
      for (const id of (await client.zrange(queue.toKey('failed'), 0, -1)).filter(mine)) {
        const job = await Job.fromId(queue, id);
        failed(id, job?.failedReason ?? 'no reason recorded');
      }
      await chain;
    };
    await sweep();
    while (pending.size > 0 && !failure) {
      await new Promise<void>((res) => { wake = res; setTimeout(res, 2000); });
      wake = undefined;
      if (pending.size === 0 || failure) break;
      await sweep();
      if (collected !== lastCount) { lastCount = collected; lastProgress = Date.now(); warned = false; }
      if (!warned && Date.now() - lastProgress > (opts.idleSeconds ?? 10) * 1000 && (await queue.getWorkersCount()) === 0) {
        warned = true;
        opts.onIdle?.(`no worker is connected to queue "${name}" at ${redactUrl(opts.url)}; start one with: flipguard worker --queue ${redactUrl(opts.url)} --model MODEL (and the same data options)`);
      }
    }
    await chain;
    if (failure) throw failure;
  } finally {
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    client.disconnect();
  }
}

export interface WorkerRunOptions extends QueueAddress {
  /** Model files, or folders whose `*.onnx` files are candidates (rescanned when a job names an unknown model). */
  models: readonly string[];
  /** The evaluation images for a model (before the job's `limit`), e.g. loaded with its normalisation. */
  data: (model: Model) => ImageSet;
  /** onnxruntime intra-op threads (default: onnxruntime's). */
  threads?: number;
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  shortcuts?: Shortcuts | boolean;
  swap?: SwapMode;
  /**
   * A job whose worker stops renewing its lock for this long (the worker died) goes back to the
   * queue, seconds (default 30); also how often this worker checks for such jobs.
   */
  lockSeconds?: number;
  /** Stop after the queue has been empty this long, seconds (default: run until `signal`). */
  idleExitSeconds?: number;
  /** Stop (after the current trial) when aborted. */
  signal?: AbortSignal;
  onJob?: (e: { ber: number; trial: number; phase: 'start' | 'done'; record?: TrialRecord; campaign: string }) => void;
  /** A job this worker refused (not its model or data), with the reason. */
  onRefuse?: (message: string) => void;
}

interface WorkerContext extends TrialContext {
  config: CampaignConfig;
}

/** Finds the model with fingerprint `fp` among files and folders; fingerprints are cached by file. */
class ModelFinder {
  private byPath = new Map<string, { key: string; fingerprint: string }>();

  constructor(private readonly roots: readonly string[]) {
    if (roots.length === 0) throw new FlipguardError('A worker needs at least one model (models: file or folder); it only runs jobs for models it has.');
    for (const r of roots) {
      try { statSync(r); } catch { throw new FlipguardError(`The worker's model "${r}" does not exist; give an ONNX file or a folder of them.`); }
    }
  }

  private candidates(): string[] {
    const out: string[] = [];
    for (const r of this.roots) {
      const st = statSync(r);
      if (!st.isDirectory()) { out.push(resolve(r)); continue; }
      for (const f of readdirSync(r).sort()) if (f.endsWith('.onnx')) out.push(resolve(join(r, f)));
    }
    return out;
  }

  find(fp: string): Model | undefined {
    for (const path of this.candidates()) {
      let st;
      try { st = statSync(path); } catch { continue; }
      if (!st.isFile()) continue;
      const key = `${st.size}:${st.mtimeMs}`;
      const known = this.byPath.get(path);
      if (known && known.key === key && known.fingerprint !== fp) continue;
      const model = loadModel(path);
      const fingerprint = modelFingerprint(model);
      this.byPath.set(path, { key, fingerprint });
      if (fingerprint === fp) return model;
    }
    return undefined;
  }

  describe(): string {
    return this.roots.map((r) => JSON.stringify(r)).join(', ');
  }
}

/** Checks a job's shape (it comes from Redis, which anyone with access can write). */
function checkJob(d: unknown): TrialJob {
  const j = d as Partial<TrialJob> | undefined;
  const ok = !!j && typeof j === 'object' && j.v === 1 && typeof j.campaign === 'string' && /^[0-9a-f]{16}$/.test(j.campaign)
    && !!j.config && typeof j.config === 'object' && !!j.golden && typeof j.golden === 'object'
    && Number.isInteger(j.trial) && (j.trial as number) >= 0 && typeof j.ber === 'number';
  if (!ok) throw new UnrecoverableError('The job is not a flipguard trial of this version; start the coordinator and the workers from the same flipguard release.');
  try { checkBer(j.ber); } catch (e) { throw new UnrecoverableError((e as Error).message); }
  if (campaignId(j.config as CampaignConfig) !== j.campaign) throw new UnrecoverableError('The job\'s campaign id does not match its configuration; the queue holds a damaged job.');
  return j as TrialJob;
}

/**
 * Runs trials from the queue until `signal` aborts (or the queue stays empty `idleExitSeconds`).
 * Resolves with the number of trials run. Jobs for a model or data this worker does not have are
 * failed with a sentence saying so (the coordinator stops and prints it).
 */
export async function runWorker(opts: WorkerRunOptions): Promise<{ trials: number; refused: number }> {
  await checkRedis(opts.url);
  const name = opts.name ?? DEFAULT_QUEUE_NAME;
  const lockMs = Math.round((opts.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000);
  if (!(lockMs >= 100)) throw new FlipguardError(`lockSeconds must be at least 0.1 s, got ${opts.lockSeconds}.`);
  const finder = new ModelFinder(opts.models);
  // contexts by campaign id; at most two engines are kept (each holds an onnxruntime session)
  const contexts = new Map<string, WorkerContext>();
  let trials = 0;
  let refused = 0;

  // one context (engine, planner) serves every seed of a configuration: the seed only enters the plan
  const contextFor = async (job: TrialJob): Promise<WorkerContext> => {
    const key = campaignId({ ...job.config, seed: 0 });
    const have = contexts.get(key);
    if (have) { contexts.delete(key); contexts.set(key, have); return { ...have, seed: job.config.seed, config: job.config }; }
    const config = job.config;
    const model = finder.find(config.model);
    if (!model) throw new UnrecoverableError(`This worker has no model with fingerprint ${config.model.slice(0, 12)}… among ${finder.describe()}; start the worker with --model naming the coordinator's model file (or its folder).`);
    let ctx: WorkerContext;
    try {
      // the coordinator may have cut its set before the campaign (CLI --limit): its first `count` images
      const data = limitImages(opts.data(model), config.limit ?? (Number.isInteger(config.data?.count) && config.data.count > 0 ? config.data.count : undefined));
      const targets = config.targets as TargetFilter;
      const bits = config.bitField ?? config.bits.join(',');
      const planner = new FaultPlanner(model, { count: config.count, faults: config.faults ?? undefined, kind: config.kind, bits, targets });
      const mine = campaignConfig(model, data, planner, { limit: config.limit ?? undefined, seed: config.seed, targets, bits });
      const diff = configDifferences(mine, config);
      if (diff.length) {
        const what = diff.includes('data') ? `its data are ${mine.data.count} ${mine.data.name} images with fingerprint ${mine.data.fingerprint.slice(0, 12)}…, the campaign's ${config.data.count} ${config.data.name} images with ${String(config.data.fingerprint).slice(0, 12)}…` : `${diff.join(', ')} differ`;
        throw new UnrecoverableError(`This worker's setup does not match the campaign (${what}); start the worker with the same data options (--data, --data-dir, --split, --mean/--std) as the coordinator.`);
      }
      const engine = await TrialEngine.create(model, data, planner.targets, { threads: opts.threads, batch: opts.batch, shortcuts: opts.shortcuts, swap: opts.swap });
      const g = engine.golden;
      if (g.correct !== job.golden.correct || g.count !== job.golden.count || g.due !== job.golden.due) {
        await engine.release();
        throw new UnrecoverableError(`This worker measures a fault-free accuracy of ${g.correct}/${g.count} but the campaign's is ${job.golden.correct}/${job.golden.count}, so its runtime computes differently; run workers with the same onnxruntime build as the coordinator.`);
      }
      ctx = { engine, planner, clean: cleanParameters(model), seed: config.seed, config };
    } catch (e) {
      if (e instanceof FlipguardError) throw new UnrecoverableError(e.message);
      throw e;
    }
    contexts.set(key, ctx);
    while (contexts.size > 2) {
      const [oldest, c] = contexts.entries().next().value as [string, WorkerContext];
      contexts.delete(oldest);
      await c.engine.release();
    }
    return ctx;
  };

  const worker = new Worker<TrialJob, TrialJobResult>(name, async (job) => {
    let d: TrialJob;
    let ctx: WorkerContext;
    try {
      d = checkJob(job.data);
      ctx = await contextFor(d);
    } catch (e) {
      if (e instanceof UnrecoverableError) { refused++; opts.onRefuse?.(e.message); }
      throw e;
    }
    opts.onJob?.({ ber: d.ber, trial: d.trial, phase: 'start', campaign: d.campaign });
    const r = await runTrial(ctx, d.ber, d.trial);
    trials++;
    opts.onJob?.({ ber: d.ber, trial: d.trial, phase: 'done', record: r.record, campaign: d.campaign });
    return r;
  }, {
    connection: { ...redisOptions(opts.url), maxRetriesPerRequest: null },
    concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: MAX_STALLED, autorun: false,
  });
  worker.on('error', () => { /* connection trouble: ioredis reconnects */ });

  let idleTimer: NodeJS.Timeout | undefined;
  const stop = () => { void worker.close(); };
  if (opts.idleExitSeconds !== undefined) {
    const arm = () => { clearTimeout(idleTimer); idleTimer = setTimeout(stop, opts.idleExitSeconds! * 1000); };
    worker.on('drained', arm);
    worker.on('active', () => clearTimeout(idleTimer));
    arm();
  }
  if (opts.signal) {
    if (opts.signal.aborted) stop();
    else opts.signal.addEventListener('abort', stop, { once: true });
  }
  try {
    await worker.run();
  } finally {
    clearTimeout(idleTimer);
    await worker.close();
    for (const c of contexts.values()) await c.engine.release();
  }
  return { trials, refused };
}

export interface CampaignStatus extends CampaignMeta {
  campaign: string;
  /** Records the coordinator has written to its output file. */
  recorded: number;
  waiting: number;
  active: number;
  /** Jobs finished on workers and still kept in Redis (7 days). */
  completed: number;
  failed: number;
}

/** Per-campaign progress of a queue: what is recorded, finished, running, waiting or failed. */
export async function queueStatus(addr: QueueAddress): Promise<{ workers: number; campaigns: CampaignStatus[] }> {
  await checkRedis(addr.url);
  const name = addr.name ?? DEFAULT_QUEUE_NAME;
  const queue = new Queue(name, { connection: redisOptions(addr.url) });
  queue.on('error', () => undefined);
  const client = new Redis(redisOptions(addr.url));
  client.on('error', () => undefined);
  try {
    const all = await client.hgetall(campaignsKey(name));
    const ids = async (type: string, list: boolean) => (list ? client.lrange(queue.toKey(type), 0, -1) : client.zrange(queue.toKey(type), 0, -1));
    const [wait, paused, prioritized, delayed, active, completedIds, failedIds] = await Promise.all([
      ids('wait', true), ids('paused', true), ids('prioritized', false), ids('delayed', false), ids('active', true), ids('completed', false), ids('failed', false),
    ]);
    const countOf = (list: string[], cid: string) => list.reduce((n, id) => n + (id.startsWith(`${cid}-`) ? 1 : 0), 0);
    const campaigns: CampaignStatus[] = [];
    for (const [cid, raw] of Object.entries(all) as [string, string][]) {
      if (cid.includes(':')) continue;
      let m: Partial<CampaignMeta>;
      try { m = JSON.parse(raw); } catch { continue; }
      const recorded = Number(all[`${cid}:recorded`] ?? 0);
      const completed = countOf(completedIds, cid);
      campaigns.push({
        campaign: cid, label: String(m.label ?? ''), model: String(m.model ?? ''), data: String(m.data ?? ''),
        bers: Array.isArray(m.bers) ? m.bers.map(Number) : [], trials: Number(m.trials ?? 0), total: Number(m.total ?? 0), recorded,
        waiting: countOf([...wait, ...paused, ...prioritized, ...delayed], cid), active: countOf(active, cid),
        completed, failed: countOf(failedIds, cid), started: String(m.started ?? ''),
      });
    }
    campaigns.sort((a, b) => a.started.localeCompare(b.started));
    return { workers: await queue.getWorkersCount(), campaigns };
  } finally {
    await queue.close().catch(() => undefined);
    client.disconnect();
  }
}
