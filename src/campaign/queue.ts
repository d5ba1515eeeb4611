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
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { DelayedError, Job, Queue, QueueEvents, UnrecoverableError, Worker, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME } from '../defaults.js';
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import { loadModel } from '../graph/load.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { modelFingerprint } from '../faults/fingerprint.js';
import { cleanParameters } from '../faults/inject.js';
import { checkBer, FaultPlanner } from '../faults/plan.js';
import type { TargetFilter } from '../faults/targets.js';
import { TrialEngine, type Shortcuts, type SwapMode, type TrialOutcome } from './engine.js';
import { RECORD_KEYS, configDifferences, planProblem, recordProblem, type CampaignConfig, type GoldenResult, type RecordRules, type TrialRecord } from './records.js';
import { campaignConfig, limitImages } from './config.js';
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

/** Identifies a campaign in the queue: a hash of its configuration (plain data; 16 hex digits). */
export function campaignId(config: object): string {
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
 * Checks a worker's result for `cell` with the campaign's record rules (`recordProblem`, the same
 * validator as resume, merge and report) and, with `planner`, against the fault plan regenerated
 * from the seed (`planProblem`); a queue result must carry its plan digest. Returns the record
 * (known keys only) or a clause saying what is wrong.
 */
export function checkResult(value: unknown, cell: { ber: number; trial: number }, rules: RecordRules, planner?: FaultPlanner): TrialJobResult | string {
  if (!value || typeof value !== 'object') return 'it is no result object';
  const v = value as { record?: unknown; path?: unknown };
  const r = v.record as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object') return 'it holds no record';
  if (r.ber !== cell.ber || r.trial !== cell.trial) {
    const show = (x: unknown) => (typeof x === 'number' ? String(x) : quoteForeign(x));
    return `it is for BER ${show(r.ber)} trial ${show(r.trial)}`;
  }
  if (typeof r.plan !== 'string') return 'it has no plan digest';
  const problem = recordProblem(rules, r);
  if (problem) return `it ${problem}`;
  const rec = Object.fromEntries(RECORD_KEYS.map((k) => [k, r[k]])) as unknown as TrialRecord;
  const plan = planner && planProblem(planner, rules.seed, rec);
  if (plan) return `it ${plan}`;
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

/** One job a coordinator puts on the queue. */
export interface QueueJob<D> {
  /** Deterministic job id (`<campaign id>-…`), so enqueueing it twice adds nothing. */
  id: string;
  /** The job kind a worker dispatches on ('trial', 'groundtruth'). */
  kind: string;
  data: D;
  /** How messages name the job, e.g. "BER 0.001 trial 3". */
  label: string;
}

/** What a coordinator enqueues: the campaign's id and status entry, and its jobs. */
export interface QueueCampaign<D, R> {
  id: string;
  meta: CampaignMeta;
  jobs: readonly QueueJob<D>[];
  /** A worker's return value as a checked result, or a clause saying what is wrong with it. */
  check: (value: unknown, job: QueueJob<D>) => R | string;
}

/** Key of the hash where workers note the jobs they refused (field `<campaign>|<worker>`). */
function refusalsKey(name: string): string {
  return `flipguard:refusals:${name}`;
}

/**
 * The coordinator side for any job kind: enqueues the campaign's jobs and calls `onResult` once per
 * job, in completion order, with a checked result. Resolves when every job has arrived. A job that
 * fails (it is damaged, or stalled too often) rejects with one sentence; a job a worker refuses (not
 * its model or data) goes back to the queue for another worker, and only when every connected
 * worker refuses the campaign and nothing arrives for `idleSeconds` does this reject, naming why.
 * `done` counts results recorded before (for status).
 */
export async function collectOnQueue<D, R>(opts: QueueRunOptions, campaign: QueueCampaign<D, R>, onResult: (r: R) => void, done = 0): Promise<void> {
  await checkRedis(opts.url);
  const name = opts.name ?? DEFAULT_QUEUE_NAME;
  const connection = redisOptions(opts.url);
  const cid = campaign.id;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const fail = (e: Error) => { failure ??= e; wake?.(); };
  queue.on('error', () => { /* ioredis reconnects; a lasting outage shows as no progress */ });
  events.on('error', () => { /* as above */ });
  const pending = new Map<string, QueueJob<D>>();
  for (const j of campaign.jobs) pending.set(j.id, j);
  let collected = done;
  let chain = Promise.resolve();
  // our own connection for progress keys and id scans (BullMQ's stays BullMQ's)
  const client = new Redis(connection);
  client.on('error', () => undefined);
  try {
    await client.hset(campaignsKey(name), cid, JSON.stringify(campaign.meta), `${cid}:recorded`, String(collected));

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
        const job = pending.get(id);
        if (!job || failure) return;
        if (value === undefined) {
          const j = await Job.fromId(queue, id);
          if (!j) return;
          value = j.returnvalue;
        }
        const checked = campaign.check(value, job);
        if (typeof checked === 'string') {
          throw new FlipguardError(`A worker returned an invalid result for ${job.label} (${checked}); check that every worker runs this flipguard version, then rerun.`);
        }
        pending.delete(id);
        onResult(checked);
        collected++;
        await mark(pending.size === 0);
        if (pending.size === 0) wake?.();
      }).catch((e: Error) => fail(e));
    };
    const failed = (id: string, reason: unknown) => {
      const job = pending.get(id);
      if (!job) return;
      fail(new FlipguardError(`The job for ${job.label} failed on a worker: ${quoteForeign(reason)}; fix the workers and rerun this command to resume.`));
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
    const jobs = [...pending.values()].map((j) => ({
      name: j.kind, data: j.data,
      opts: { jobId: j.id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } },
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
    /** Refusals of this campaign noted since the last progress, one per worker. */
    const refusals = async (): Promise<string[]> => {
      const all = await client.hgetall(refusalsKey(name));
      const out: string[] = [];
      for (const [field, raw] of Object.entries(all)) {
        if (!field.startsWith(`${cid}|`)) continue;
        try {
          const r = JSON.parse(raw) as { reason?: unknown; at?: unknown };
          if (typeof r.at === 'number' && r.at >= lastProgress) out.push(String(r.reason));
        } catch { /* a damaged note is no refusal */ }
      }
      return out;
    };
    await sweep();
    while (pending.size > 0 && !failure) {
      await new Promise<void>((res) => { wake = res; setTimeout(res, 2000); });
      wake = undefined;
      if (pending.size === 0 || failure) break;
      await sweep();
      if (collected !== lastCount) { lastCount = collected; lastProgress = Date.now(); warned = false; }
      if (Date.now() - lastProgress <= (opts.idleSeconds ?? 10) * 1000) continue;
      const workers = await queue.getWorkersCount();
      const refused = workers > 0 ? await refusals() : [];
      if (workers > 0 && refused.length >= workers) {
        fail(new FlipguardError(`Every worker connected to queue "${name}" refuses this campaign's jobs (${refused.length === 1 ? 'its reason' : `${refused.length} workers; one reason`}: ${quoteForeign(refused[0])}); fix the workers or start one that matches, then rerun this command to resume.`));
      } else if (!warned && workers === 0) {
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

/** A campaign's entry for `flipguard queue status`. */
export function campaignMeta(label: string | undefined, config: Pick<CampaignConfig, 'model' | 'data'>, bers: number[], trials: number, total: number): CampaignMeta {
  return { label: label ?? '', model: config.model, data: `${config.data.count} ${config.data.name} images`, bers, trials, total, started: new Date().toISOString() };
}

/**
 * Runs `cells` of the campaign (`config`, `golden`) on the queue: one 'trial' job per cell, each
 * result checked with the campaign's record `rules` and plans (`checkResult`). `campaignCells` is the
 * number of cells of the whole campaign (for status).
 */
export async function runOnQueue(
  opts: QueueRunOptions,
  campaign: { config: CampaignConfig; golden: GoldenResult; bers: number[]; trials: number; campaignCells: number; rules: RecordRules; planner?: FaultPlanner },
  cells: readonly { ber: number; trial: number }[],
  onResult: (r: TrialJobResult) => void,
  done = 0,
): Promise<void> {
  const cid = campaignId(campaign.config);
  const jobs = cells.map((c) => ({
    id: jobId(cid, c.ber, c.trial), kind: 'trial', label: `BER ${c.ber} trial ${c.trial}`,
    data: { v: 1 as const, campaign: cid, config: campaign.config, golden: campaign.golden, ber: c.ber, trial: c.trial },
  }));
  await collectOnQueue<TrialJob, TrialJobResult>(opts, {
    id: cid, jobs, meta: campaignMeta(opts.label, campaign.config, campaign.bers, campaign.trials, campaign.campaignCells),
    check: (value, job) => checkResult(value, job.data, campaign.rules, campaign.planner),
  }, onResult, done);
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
  /** After refusing a job, take no job for this long so another worker gets it, seconds (default 2). */
  refusePauseSeconds?: number;
  /** Stop after the queue has been empty this long, seconds (default: run until `signal`). */
  idleExitSeconds?: number;
  /** Stop (after the current job) when aborted. */
  signal?: AbortSignal;
  /** Job kinds beyond campaign trials, by job name (e.g. analysis's 'groundtruth' for `rank --compare`). */
  kinds?: Readonly<Record<string, JobKind>>;
  /** A job starts or ends; `label` names it ("BER 0.001 trial 3"), `detail` sums up its result. */
  onJob?: (e: { kind: string; label: string; phase: 'start' | 'done'; detail?: string; campaign: string }) => void;
  /** A job this worker refused (not its model or data), with the reason. */
  onRefuse?: (message: string) => void;
}

/** What a worker offers every job kind: its models, data and runtime settings. */
export interface WorkerEnvironment {
  /** The model with this fingerprint among the worker's models, or undefined. */
  findModel(fingerprint: string): Model | undefined;
  /** The worker's model files and folders, for messages. */
  models: string;
  data: (model: Model) => ImageSet;
  threads?: number;
  batch?: number;
  shortcuts?: Shortcuts | boolean;
  swap?: SwapMode;
}

/** A parsed job: its campaign, the key of the setup it needs (shared by jobs of one configuration) and its label. */
export interface ParsedJob<J> {
  job: J;
  campaign: string;
  setupKey: string;
  label: string;
}

/**
 * A kind of job a worker runs. `parse` checks the job's data (it comes from Redis, which anyone with
 * access can write) and throws `damagedJob(…)` when it is not one; `setup` builds what running needs
 * (an engine) and throws a FlipguardError when this worker cannot run it (another model or data: a
 * refusal, the job goes to another worker); `run` returns the plain-data result.
 */
export interface JobKind<J = any, S extends { release(): Promise<void> } = any, R = unknown> {
  parse(data: unknown): ParsedJob<J>;
  setup(job: J, env: WorkerEnvironment): Promise<S>;
  run(setup: S, job: J): Promise<{ result: R; detail: string }>;
}

/** The error a job kind's `parse` throws for data that is not a job of this version (fails the job). */
export function damagedJob(message = 'The job is not a flipguard job of this version; start the coordinator and the workers from the same flipguard release.'): Error {
  return new UnrecoverableError(message);
}

/** Whether a job's campaign id is a 16-hex-digit hash. */
export function isCampaignId(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{16}$/.test(v);
}

interface WorkerContext extends TrialContext {
  config: CampaignConfig;
  release(): Promise<void>;
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

/** The sentence a worker refuses a job with when it has no model of that fingerprint. */
export function noModelMessage(fingerprint: string, env: WorkerEnvironment): string {
  return `This worker has no model with fingerprint ${fingerprint.slice(0, 12)}… among ${env.models}; start the worker with the coordinator's model file (or its folder) among its models.`;
}

/** Campaign trials: one (BER, trial) cell of a campaign per job. */
export const trialJobs: JobKind<TrialJob, WorkerContext, TrialJobResult> = {
  parse(d) {
    const j = d as Partial<TrialJob> | undefined;
    const ok = !!j && typeof j === 'object' && j.v === 1 && isCampaignId(j.campaign)
      && !!j.config && typeof j.config === 'object' && !!j.golden && typeof j.golden === 'object'
      && Number.isInteger(j.trial) && (j.trial as number) >= 0 && typeof j.ber === 'number';
    if (!ok) throw damagedJob();
    try { checkBer(j.ber); } catch (e) { throw damagedJob((e as Error).message); }
    if (campaignId(j.config as CampaignConfig) !== j.campaign) throw damagedJob('The job\'s campaign id does not match its configuration; the queue holds a damaged job.');
    // one setup (engine, planner) serves every seed of a configuration: the seed only enters the plan
    return { job: j as TrialJob, campaign: j.campaign!, setupKey: `trial:${campaignId({ ...j.config!, seed: 0 })}`, label: `BER ${j.ber} trial ${j.trial}` };
  },
  async setup(job, env) {
    const config = job.config;
    const model = env.findModel(config.model);
    if (!model) throw new FlipguardError(noModelMessage(config.model, env));
    // the coordinator may have cut its set before the campaign (CLI --limit): its first `count` images
    const data = limitImages(env.data(model), config.limit ?? (Number.isInteger(config.data?.count) && config.data.count > 0 ? config.data.count : undefined));
    const targets = config.targets as TargetFilter;
    const bits = config.bitField ?? config.bits.join(',');
    const planner = new FaultPlanner(model, { count: config.count, faults: config.faults ?? undefined, kind: config.kind, bits, targets });
    const mine = campaignConfig(model, data, planner, { limit: config.limit ?? undefined, seed: config.seed, targets, bits });
    const diff = configDifferences(mine, config);
    if (diff.length) {
      const what = diff.includes('data') ? `its data are ${mine.data.count} ${mine.data.name} images with fingerprint ${mine.data.fingerprint.slice(0, 12)}…, the campaign's ${config.data.count} ${config.data.name} images with ${String(config.data.fingerprint).slice(0, 12)}…` : `${diff.join(', ')} differ`;
      throw new FlipguardError(`This worker's setup does not match the campaign (${what}); start the worker with the same data options as the coordinator (${opt('data')}: the same data set, folder, split and mean/std).`);
    }
    const engine = await TrialEngine.create(model, data, planner.targets, { threads: env.threads, batch: env.batch, shortcuts: env.shortcuts, swap: env.swap });
    await checkGolden(engine, job.golden);
    return { engine, planner, clean: cleanParameters(model), seed: config.seed, config, release: () => engine.release() };
  },
  async run(ctx, job) {
    const r = await runTrial({ ...ctx, seed: job.config.seed }, job.ber, job.trial);
    return { result: r, detail: `drop ${r.record.accuracyDrop.toFixed(2)} pp, ${r.record.millis.toFixed(0)} ms` };
  },
};

/** Refuses (releasing `engine`) when this worker's fault-free result differs from the campaign's. */
export async function checkGolden(engine: TrialEngine, golden: Pick<GoldenResult, 'correct' | 'count' | 'due'>): Promise<void> {
  const g = engine.golden;
  if (g.correct === golden.correct && g.count === golden.count && g.due === golden.due) return;
  await engine.release();
  throw new FlipguardError(`This worker measures a fault-free accuracy of ${g.correct}/${g.count} but the campaign's is ${golden.correct}/${golden.count}, so its runtime computes differently; run workers with the same onnxruntime build as the coordinator.`);
}

/**
 * Runs jobs from the queue until `signal` aborts (or the queue stays empty `idleExitSeconds`):
 * campaign trials, and the kinds in `opts.kinds`. Resolves with the number of jobs run per kind and
 * of jobs refused. A job for a model or data this worker does not have is refused with a sentence
 * (`onRefuse`, and a note the coordinator reads) and goes back to the queue for another worker; a
 * damaged job fails (the coordinator stops and prints why).
 */
export async function runWorker(opts: WorkerRunOptions): Promise<{ trials: number; jobs: Record<string, number>; refused: number }> {
  await checkRedis(opts.url);
  const name = opts.name ?? DEFAULT_QUEUE_NAME;
  const lockMs = Math.round((opts.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000);
  if (!(lockMs >= 100)) throw new FlipguardError(`${opt('lockSeconds')} must be at least 0.1 s, got ${opts.lockSeconds}.`);
  const pauseMs = Math.round((opts.refusePauseSeconds ?? 2) * 1000);
  if (!(pauseMs >= 0)) throw new FlipguardError(`${opt('refusePauseSeconds')} must be a number of seconds ≥ 0, got ${opts.refusePauseSeconds}.`);
  const finder = new ModelFinder(opts.models);
  const env: WorkerEnvironment = {
    findModel: (fp) => finder.find(fp), models: finder.describe(), data: opts.data,
    threads: opts.threads, batch: opts.batch, shortcuts: opts.shortcuts, swap: opts.swap,
  };
  const kinds: Record<string, JobKind> = { trial: trialJobs, ...opts.kinds };
  // setups by key; at most two are kept (each holds an onnxruntime session); refusals are remembered
  // too (a model that is missing is looked for again: it may appear)
  const setups = new Map<string, { release(): Promise<void> } | { refused: string }>();
  const jobs: Record<string, number> = {};
  let refused = 0;
  const workerId = `${hostname()}:${process.pid}`;
  const notes = new Redis(redisOptions(opts.url));
  notes.on('error', () => undefined);

  const setupFor = async (kind: JobKind, p: ParsedJob<unknown>): Promise<{ release(): Promise<void> }> => {
    const have = setups.get(p.setupKey);
    if (have && 'refused' in have) throw new FlipguardError(have.refused);
    if (have) { setups.delete(p.setupKey); setups.set(p.setupKey, have); return have; }
    let s: { release(): Promise<void> };
    try {
      s = await kind.setup(p.job, env);
    } catch (e) {
      if (e instanceof FlipguardError && !/has no model with fingerprint/.test(e.message)) setups.set(p.setupKey, { refused: e.message });
      throw e;
    }
    setups.set(p.setupKey, s);
    const live = [...setups].filter(([, v]) => !('refused' in v));
    for (const [key, v] of live.slice(0, Math.max(0, live.length - 2))) {
      setups.delete(key);
      await (v as { release(): Promise<void> }).release();
    }
    return s;
  };

  let wait: { timer?: NodeJS.Timeout; done?: () => void } = {};
  const worker = new Worker(name, async (job, token) => {
    const kind = Object.hasOwn(kinds, job.name) ? kinds[job.name] : undefined;
    if (!kind) throw damagedJob(`The job kind "${String(job.name).slice(0, 40)}" is not one this worker runs; start the coordinator and the workers from the same flipguard release.`);
    const p = kind.parse(job.data);
    let s: { release(): Promise<void> };
    try {
      s = await setupFor(kind, p);
    } catch (e) {
      if (!(e instanceof FlipguardError)) throw e;
      // a refusal: the job goes back for another worker, and this one waits a moment before taking the next
      refused++;
      opts.onRefuse?.(e.message);
      await notes.hset(refusalsKey(name), `${p.campaign}|${workerId}`, JSON.stringify({ reason: e.message, at: Date.now() })).catch(() => undefined);
      await job.moveToDelayed(Date.now() + 100, token);
      if (pauseMs > 0 && !opts.signal?.aborted) await new Promise<void>((res) => { wait = { done: res, timer: setTimeout(res, pauseMs) }; });
      throw new DelayedError();
    }
    opts.onJob?.({ kind: job.name, label: p.label, phase: 'start', campaign: p.campaign });
    const r = await kind.run(s, p.job);
    jobs[job.name] = (jobs[job.name] ?? 0) + 1;
    opts.onJob?.({ kind: job.name, label: p.label, phase: 'done', detail: r.detail, campaign: p.campaign });
    return r.result;
  }, {
    connection: { ...redisOptions(opts.url), maxRetriesPerRequest: null },
    concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: MAX_STALLED, autorun: false,
  });
  worker.on('error', () => { /* connection trouble: ioredis reconnects */ });

  let idleTimer: NodeJS.Timeout | undefined;
  const stop = () => { clearTimeout(wait.timer); wait.done?.(); void worker.close(); };
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
    notes.disconnect();
    for (const v of setups.values()) if (!('refused' in v)) await v.release();
  }
  return { trials: jobs.trial ?? 0, jobs, refused };
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
