/**
 * Scale-out: --shard auto from array-job variables, and the Redis job queue (coordinator + worker
 * processes against a real redis-server started on a free loopback port in a temporary folder).
 * Without a redis-server binary the Redis tests report themselves skipped.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { shardFromEnvironment } from '../src/campaign/shard-env.js';
import { checkResult, jobId, redactUrl, redisOptions } from '../src/campaign/queue.js';
import { trialSeed } from '../src/faults/plan.js';
import { freePort, redisServerAvailable, startRedisServer } from '../bench/redis-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
const repoRoot = join(here, '..', '..');
const lenet = join(repoRoot, 'models', 'lenet5-mnist.onnx');
/** A small campaign: 2 BERs × 8 trials on 300 images of LeNet-5 (seconds per run). */
const CAMPAIGN = ['--limit', '300', '--ber', '1e-4,1e-3', '--trials', '8', '--seed', '7'];
const CELLS = 16;

const skipRedis = redisServerAvailable() ? false : 'no redis-server binary on PATH; install it (apt-get install redis-server, as .ci/run does) to run the Redis queue tests';

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every CLI process a test started and that still runs: ended after the file, so a failed or timed-out test leaves none behind. */
const children = new Set<ChildProcess>();
after(() => { for (const c of children) c.kill('SIGKILL'); });

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>; stderr: () => string } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((res) => child.on('close', (code, signal) => res({ code, signal, out, err })));
  return { child, exit, stderr: () => err };
}

/** Record lines of a campaign file without wall time, sorted (BER, trial), as JSON text. */
function recordsText(path: string): string[] {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => JSON.parse(l)).map(({ millis: _m, ...r }) => r)
    .sort((a, b) => a.ber - b.ber || a.trial - b.trial).map((r) => JSON.stringify(r));
}

/** A summary JSON without its timing fields (trials/s comes from wall time). */
function summaryText(path: string): string {
  const s = JSON.parse(readFileSync(path, 'utf8'));
  delete s.model;
  for (const b of s.bers) delete b.trialsPerSecond;
  return JSON.stringify(s);
}

let single: { dir: string; records: string[]; summary: string } | undefined;
/** The single-process run every distributed run is compared with (computed once). */
function singleRun() {
  if (single) return single;
  const dir = mkdtempSync(join(tmpdir(), 'fg-queue-'));
  const r = run(['inject', lenet, ...CAMPAIGN, '--out', join(dir, 'single.jsonl'), '--json', join(dir, 'single.json'), '--quiet', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  single = { dir, records: recordsText(join(dir, 'single.jsonl')), summary: summaryText(join(dir, 'single.json')) };
  assert.equal(single.records.length, CELLS);
  return single;
}

test('--shard auto reads Slurm, Kubernetes, PBS/Torque and LSF array variables', () => {
  assert.deepEqual(shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 3, count: 4, source: 'Slurm array (SLURM_ARRAY_TASK_ID=3)' });
  // Slurm arrays may start anywhere and step: index counts from MIN in steps
  const s = shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '14', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_MAX: '16', SLURM_ARRAY_TASK_STEP: '2' });
  assert.deepEqual([s.index, s.count], [2, 4]);
  const k = shardFromEnvironment({ JOB_COMPLETION_INDEX: '2' }, { shards: 5 });
  assert.deepEqual([k.index, k.count], [2, 5]);
  const p = shardFromEnvironment({ PBS_ARRAY_INDEX: '0' }, { shards: 2 });
  assert.deepEqual([p.index, p.count], [0, 2]);
  const t = shardFromEnvironment({ PBS_ARRAYID: '1' }, { shards: 2 });
  assert.deepEqual([t.index, t.count], [1, 2]);
  // LSF indices are 1-based
  const l = shardFromEnvironment({ LSB_JOBINDEX: '1', LSB_JOBINDEX_END: '3' });
  assert.deepEqual([l.index, l.count], [0, 3]);

  const refuses = (env: Record<string, string>, re: RegExp, shards?: number) =>
    assert.throws(() => shardFromEnvironment(env, { shards }), (e: unknown) => e instanceof FlipguardError && re.test(e.message), JSON.stringify(env));
  refuses({}, /found no array-job index/);
  refuses({ SLURM_JOB_ID: '77' }, /Slurm job but not an array job: submit it with sbatch --array=0-\(N-1\)/);
  refuses({ JOB_COMPLETION_INDEX: '1' }, /does not tell the number of tasks; give it as the shard count \(option "shards" N/);
  refuses({ JOB_COMPLETION_INDEX: '4' }, /task index 4 but only 4 shards/, 4);
  refuses({ SLURM_ARRAY_TASK_ID: 'x1' }, /SLURM_ARRAY_TASK_ID is "x1", not a whole number/);
  refuses({ SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '7', SLURM_ARRAY_TASK_COUNT: '3' }, /not one contiguous range; submit it as --array=0-2/);
  refuses({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3' }, /array has 4 tasks but the shard count \(option "shards"\) is 3/, 3);
  refuses({ SLURM_ARRAY_TASK_ID: '1', JOB_COMPLETION_INDEX: '1' }, /Slurm and Kubernetes are both set/);
  // LSF exports no start: [5-8] is found from the end and --shards; steps count from the start
  const l5 = shardFromEnvironment({ LSB_JOBINDEX: '6', LSB_JOBINDEX_END: '8' }, { shards: 4 });
  assert.deepEqual([l5.index, l5.count, l5.source], [1, 4, 'LSF array (LSB_JOBINDEX=6 of [5-8])']);
  const ls = shardFromEnvironment({ LSB_JOBINDEX: '7', LSB_JOBINDEX_END: '10', LSB_JOBINDEX_STEP: '3' });
  assert.deepEqual([ls.index, ls.count], [2, 4]);
  const lss = shardFromEnvironment({ LSB_JOBINDEX: '8', LSB_JOBINDEX_END: '11', LSB_JOBINDEX_STEP: '3' }, { shards: 2 });
  assert.deepEqual([lss.index, lss.count], [0, 2]);
  refuses({ LSB_JOBINDEX: '2', LSB_JOBINDEX_END: '4', LSB_JOBINDEX_STEP: '2' }, /LSB_JOBINDEX 2 is not in the LSF array \[1-3:2\]|ends at 4 with step 2, which is not reached from index 1; give the number of tasks as option "shards" N/);
  refuses({ LSB_JOBINDEX: '3', LSB_JOBINDEX_END: '8' }, /LSB_JOBINDEX 3 is not in the LSF array \[5-8\] that 4 tasks \(option "shards"\) ending at 8 form/, 4);
  refuses({ LSB_JOBINDEX: '5', LSB_JOBINDEX_END: '8' }, /ends at 8 with step 1, so it cannot hold 9 tasks \(option "shards"\)/, 9);
  refuses({ LSB_JOBINDEX: '5', LSB_JOBINDEX_END: '8' }, /shard count must be a whole number ≥ 1, got 0/, 0);
});

test('the CLI maps --shard auto errors to exit code 2 with one sentence', () => {
  const r = run(['inject', lenet, ...CAMPAIGN, '--shard', 'auto'], { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '2', PBS_ARRAY_INDEX: '', PBS_ARRAYID: '', LSB_JOBINDEX: '' });
  assert.equal(r.code, 2);
  assert.match(r.err, /^flipguard: The Kubernetes Indexed Job does not tell the number of tasks; give it as the shard count \(--shards N, the array size\)\.\n$/);
  const r2 = run(['inject', lenet, ...CAMPAIGN, '--shard', '0/2', '--shards', '2']);
  assert.equal(r2.code, 2);
  assert.match(r2.err, /--shards N only applies with --shard auto/);
});

test('array shards from Slurm, Kubernetes and LSF variables merge into the single-process result', async () => {
  const s = singleRun();
  const dir = mkdtempSync(join(tmpdir(), 'fg-array-'));
  const none = { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '', PBS_ARRAY_INDEX: '', PBS_ARRAYID: '', LSB_JOBINDEX: '' };
  // one record file per shard, as the job scripts in docs/cluster write them
  const tasks = [
    { env: { ...none, SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '3', SLURM_ARRAY_TASK_COUNT: '3' }, extra: [] },
    { env: { ...none, JOB_COMPLETION_INDEX: '1' }, extra: ['--shards', '3'] },
    { env: { ...none, LSB_JOBINDEX: '3', LSB_JOBINDEX_END: '3' }, extra: [] },
  ];
  const runs = tasks.map((t, i) => start(['inject', lenet, ...CAMPAIGN, '--shard', 'auto', ...t.extra, '--out', join(dir, `shard-${i}.jsonl`), '--quiet', '--threads', '1'], t.env));
  for (const r of await Promise.all(runs.map((x) => x.exit))) assert.equal(r.code, 0, r.err);
  for (let i = 0; i < 3; i++) {
    const header = JSON.parse(readFileSync(join(dir, `shard-${i}.jsonl`), 'utf8').split('\n')[0]);
    assert.deepEqual(header.run.shard, { index: i, count: 3 });
  }
  const m = run(['merge', ...[0, 1, 2].map((i) => join(dir, `shard-${i}.jsonl`)), '--out', join(dir, 'merged.jsonl'), '--json', join(dir, 'merged.json')]);
  assert.equal(m.code, 0, m.err);
  assert.deepEqual(recordsText(join(dir, 'merged.jsonl')), s.records);
  assert.equal(summaryText(join(dir, 'merged.json')), s.summary);
});

test('redis addresses map to connection options; results from workers are checked', () => {
  assert.deepEqual(redisOptions('redis://localhost:6380/2'), { host: 'localhost', port: 6380, db: 2 });
  assert.deepEqual(redisOptions('rediss://user:p%40ss@cache.example:6390'), { host: 'cache.example', port: 6390, db: 0, username: 'user', password: 'p@ss', tls: { servername: 'cache.example' } });
  assert.deepEqual(redisOptions('redis://:secret@[::1]'), { host: '::1', port: 6379, db: 0, password: 'secret' });
  assert.deepEqual(redisOptions('rediss://10.0.0.5:6379'), { host: '10.0.0.5', port: 6379, db: 0, tls: {} });
  assert.equal(redactUrl('redis://:secret@host:1/0'), 'redis://:***@host:1/0');
  for (const [bad, re] of [['http://h:1', /not a redis:\/\/ or rediss:\/\/ URL/], ['redis://h/x', /database "\/x"/], ['nonsense', /not a URL/], ['redis://:pw@h?x=1', /query/]] as const) {
    assert.throws(() => redisOptions(bad), (e: unknown) => e instanceof FlipguardError && re.test(e.message) && !e.message.includes('pw@'), bad);
  }
  assert.equal(jobId('0123456789abcdef', 1e-4, 3), '0123456789abcdef-0.0001-3');

  // results are checked with the campaign's record rules (records.ts recordProblem), as resume and merge do
  const golden = { accuracy: 0.9, correct: 9, count: 10, due: 0 };
  const params = 'ab'.repeat(32);
  const rules = { bers: new Set([1e-3]), trials: 4, shard: null, golden, seed: 7, params };
  const good = { record: { ber: 1e-3, trial: 2, seed: trialSeed(7, params, 1e-3, 2), faults: 3, plan: '0123456789abcdef', accuracy: 0.7, accuracyDrop: 20, sdcRate: 0.2, dueRate: 0, millis: 1.5 }, path: 'suffix' };
  assert.deepEqual(checkResult(good, { ber: 1e-3, trial: 2 }, rules), good);
  const bad = (patch: Record<string, unknown>) => checkResult({ ...good, record: { ...good.record, ...patch } }, { ber: 1e-3, trial: 2 }, rules);
  assert.match(bad({ trial: 3 }) as string, /it is for BER 0.001 trial 3/);
  assert.match(bad({ accuracyDrop: 21 }) as string, /has accuracyDrop 21, but golden 9\/10 minus accuracy 7\/10 is 20/);
  assert.match(bad({ accuracy: 0.71 }) as string, /accuracy 0.71, not a share of the 10 evaluated images/);
  assert.match(bad({ sdcRate: 1.5 }) as string, /sdcRate 1.5/);
  assert.match(bad({ faults: '3' }) as string, /faults is "3", not a number/);
  assert.match(bad({ seed: 5 }) as string, /has seed 5, but BER 0.001 trial 2 of campaign seed 7 draws its faults with seed/);
  assert.match(bad({ plan: 'x' }) as string, /has plan "x", not a digest of 16 hex digits/);
  assert.match(bad({ plan: undefined }) as string, /no plan digest/);
  assert.match(checkResult(null, { ber: 1e-3, trial: 2 }, rules) as string, /no result/);
});

test('Redis queue: a coordinator and three workers (one killed mid-run) give the single-process records and summary', { skip: skipRedis, timeout: 240_000 }, async () => {
  const s = singleRun();
  // a password-protected server: the address carries it as redis://:PASSWORD@HOST:PORT
  const redis = await startRedisServer(['--requirepass', 'p4ss']);
  try {
    const url = `redis://:p4ss@127.0.0.1:${redis.port}/3`;
    const dir = mkdtempSync(join(tmpdir(), 'fg-queue-'));
    const workerArgs = ['worker', '--queue', url, '--model', lenet, '--threads', '1', '--lock-seconds', '2', '--verbose'];
    const workers = [0, 1, 2].map(() => start(workerArgs));
    const coord = start(['inject', lenet, ...CAMPAIGN, '--queue', url, '--out', join(dir, 'run.jsonl'), '--json', join(dir, 'run.json'), '--quiet', '--threads', '1']);
    // kill worker 0 with SIGKILL right after it starts its second trial
    const victim = workers[0];
    await new Promise<void>((res, rej) => {
      const t = setInterval(() => {
        if ((victim.stderr().match(/^start BER/gm) ?? []).length >= 2) { clearInterval(t); victim.child.kill('SIGKILL'); res(); }
        if (victim.child.exitCode !== null) { clearInterval(t); rej(new Error(`worker 0 ended early: ${victim.stderr()}`)); }
      }, 5);
    });
    const c = await coord.exit;
    assert.equal(c.code, 0, c.err);
    assert.equal((await victim.exit).signal, 'SIGKILL');
    for (const w of workers.slice(1)) w.child.kill('SIGTERM');
    const ends = await Promise.all(workers.slice(1).map((w) => w.exit));
    for (const e of ends) assert.equal(e.code, 0, e.err);
    // every trial exactly once, identical to the single run; the survivors ran the killed worker's trial again
    const recs = recordsText(join(dir, 'run.jsonl'));
    assert.equal(recs.length, CELLS);
    assert.deepEqual(recs, s.records);
    assert.equal(summaryText(join(dir, 'run.json')), s.summary);
    const ran = ends.reduce((n, e) => n + Number(/^(\d+) trials run/m.exec(e.out)?.[1] ?? NaN), 0);
    const victimDone = (victim.stderr().match(/^done BER/gm) ?? []).length;
    assert.ok(ran + victimDone >= CELLS, `${ran} + ${victimDone} trials cover ${CELLS} cells`);

    const st = run(['queue', 'status', url, '--json', join(dir, 'status.json')]);
    assert.equal(st.code, 0, st.err);
    assert.ok(!st.out.includes('p4ss'), 'the password is not printed');
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    assert.equal(status.campaigns.length, 1);
    assert.deepEqual([status.campaigns[0].recorded, status.campaigns[0].total, status.campaigns[0].failed, status.campaigns[0].waiting], [CELLS, CELLS, 0, 0]);
    assert.equal(status.campaigns[0].label, 'lenet5-mnist.onnx');

    // a wrong password or an unreachable server: one sentence, exit 2
    const wrong = run(['queue', 'status', `redis://:nope@127.0.0.1:${redis.port}`]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /^flipguard: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ refused the login .*; put the password in the address as redis:\/\/:PASSWORD@HOST:PORT\.\n$/);
    const port = await freePort();
    const down = run(['inject', lenet, ...CAMPAIGN, '--queue', `redis://127.0.0.1:${port}`, '--quiet']);
    assert.equal(down.code, 2);
    assert.match(down.err, /^flipguard: Redis at redis:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\); start redis-server there or fix the queue address\.\n$/);
  } finally {
    await redis.stop();
  }
});

test('Redis queue: a worker with other data refuses; a killed coordinator resumes from its file and the queue', { skip: skipRedis, timeout: 240_000 }, async () => {
  const s = singleRun();
  const redis = await startRedisServer();
  try {
    const url = `redis://127.0.0.1:${redis.port}`;
    const dir = mkdtempSync(join(tmpdir(), 'fg-queue-'));
    const out = join(dir, 'run.jsonl');
    // the worker evaluates the training split: it refuses every job, which goes back to the queue;
    // with no other worker the coordinator stops with the worker's sentence
    const wrong = start(['worker', '--queue', url, '--model', lenet, '--split', 'train', '--threads', '1', '--quiet']);
    const c1 = await start(['inject', lenet, ...CAMPAIGN, '--queue', url, '--out', out, '--quiet', '--threads', '1']).exit;
    assert.equal(c1.code, 2);
    assert.match(c1.err, /^flipguard: Every worker connected to queue "flipguard" refuses this campaign's jobs \(its reason: "This worker's setup does not match the campaign \(its data are 300 mnist-train images .*start the worker with the same data options .*\); fix the workers or start one that matches, then rerun this command to resume\.\n$/);

    // a good worker joins while the wrong one keeps refusing: the campaign goes on; the coordinator
    // is killed after a few records and started again
    const worker = start(['worker', '--queue', url, '--model', lenet, '--threads', '1', '--quiet']);
    const c2 = start(['inject', lenet, ...CAMPAIGN, '--queue', url, '--out', out, '--quiet', '--threads', '1']);
    await new Promise<void>((res, rej) => {
      const t = setInterval(() => {
        let lines = 0;
        try { lines = readFileSync(out, 'utf8').split('\n').length - 2; } catch { /* not yet */ }
        if (lines >= 4) { clearInterval(t); c2.child.kill('SIGKILL'); res(); }
        if (c2.child.exitCode !== null) { clearInterval(t); rej(new Error(`coordinator ended early: ${c2.stderr()}`)); }
      }, 5);
    });
    await c2.exit;
    const c3 = await start(['inject', lenet, ...CAMPAIGN, '--queue', url, '--out', out, '--json', join(dir, 'run.json'), '--threads', '1']).exit;
    assert.equal(c3.code, 0, c3.err);
    assert.match(c3.out, /trials run, ([4-9]|1\d) resumed/);
    for (const w of [worker, wrong]) w.child.kill('SIGTERM');
    const [good, bad] = await Promise.all([worker.exit, wrong.exit]);
    assert.equal(good.code, 0, good.err);
    assert.equal(bad.code, 0, bad.err);
    assert.match(bad.out, /^0 trials run, \d+ jobs? refused/m);
    assert.match(bad.err, /refused a job: This worker's setup does not match the campaign/);
    const recs = recordsText(out);
    assert.equal(recs.length, CELLS);
    assert.deepEqual(recs, s.records);
    assert.equal(summaryText(join(dir, 'run.json')), s.summary);
  } finally {
    await redis.stop();
  }
});

test('Redis queue: harden --sweep runs its campaigns on the queue with the single-process results', { skip: skipRedis, timeout: 480_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const url = `redis://127.0.0.1:${redis.port}`;
    const dir = mkdtempSync(join(tmpdir(), 'fg-sweep-'));
    const args = ['harden', lenet, '--sweep', '--variants', 'none,ranger', '--ber', '1e-4', '--trials', '3', '--limit', '200', '--threads', '1', '--quiet'];
    const one = start([...args, '--out-dir', join(dir, 'one'), '--json', join(dir, 'one.json')]);
    // the worker gets the original model and the folder the sweep writes its variants to (made first:
    // a worker refuses model paths that do not exist, to catch typos)
    mkdirSync(join(dir, 'q'));
    const worker = start(['worker', '--queue', url, '--model', `${lenet},${join(dir, 'q')}`, '--threads', '1', '--quiet']);
    const q = await start([...args, '--out-dir', join(dir, 'q'), '--json', join(dir, 'q.json'), '--queue', url]).exit;
    assert.equal(q.code, 0, q.err);
    assert.equal((await one.exit).code, 0);
    worker.child.kill('SIGTERM');
    const w = await worker.exit;
    assert.match(w.out, /^6 trials run/m);
    const campaigns = (f: string) => JSON.stringify(JSON.parse(readFileSync(f, 'utf8')).variants.map((v: { campaign: { bers: Record<string, unknown>[] } }) => ({ ...v.campaign, bers: v.campaign.bers.map(({ trialsPerSecond: _t, ...b }) => b) })));
    assert.equal(campaigns(join(dir, 'q.json')), campaigns(join(dir, 'one.json')));
    for (const v of ['none', 'ranger']) assert.deepEqual(recordsText(join(dir, 'q', `${v}.jsonl`)), recordsText(join(dir, 'one', `${v}.jsonl`)));
    // without --out-dir the workers could not load the variants: refused up front
    const bad = run([...args, '--queue', url]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /A sweep on a job queue needs --out-dir for the hardened models/);
  } finally {
    await redis.stop();
  }
});

test('Redis queue: rank --compare runs its ground truth on the queue with the single-process result', { skip: skipRedis, timeout: 240_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const url = `redis://127.0.0.1:${redis.port}`;
    const dir = mkdtempSync(join(tmpdir(), 'fg-compare-'));
    const args = ['rank', lenet, '--compare', '--layer', 'conv2', '--ber', '1e-3', '--faults', '1', '--bits', '23-30', '--trials', '4', '--methods', 'l1,random', '--eval-limit', '200', '--threads', '1', '--quiet'];
    const one = start([...args, '--json', join(dir, 'one.json')]);
    // two workers: one job per channel of conv2 (16), shared between them
    const workers = [0, 1].map(() => start(['worker', '--queue', url, '--model', lenet, '--threads', '1', '--quiet']));
    const q = await start([...args, '--json', join(dir, 'q.json'), '--queue', url]).exit;
    assert.equal(q.code, 0, q.err);
    assert.equal((await one.exit).code, 0);
    for (const w of workers) w.child.kill('SIGTERM');
    const ends = await Promise.all(workers.map((w) => w.exit));
    const jobs = ends.reduce((n, e) => n + Number(/^0 trials, (\d+) groundtruth jobs? run/m.exec(e.out)?.[1] ?? 0), 0);
    assert.equal(jobs, 16, ends.map((e) => e.out).join(''));
    const single = readFileSync(join(dir, 'one.json'), 'utf8');
    assert.equal(readFileSync(join(dir, 'q.json'), 'utf8'), single);
    assert.ok(JSON.parse(single).groundTruth.some((d: number) => d > 0), 'some exponent flip changes a prediction');
    // --queue belongs to --compare
    const bad = run(['rank', lenet, '--method', 'l1', '--queue', url]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--queue only applies to "flipguard rank --compare"/);
  } finally {
    await redis.stop();
  }
});

const tlsReady = !skipRedis && spawnSync('openssl', ['version']).status === 0;
test('Redis queue over TLS (rediss://): trusted certificate works, an untrusted one is named', { skip: tlsReady ? false : 'no redis-server or openssl binary on PATH; install them (apt-get install redis-server openssl) to run the TLS queue test', timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const g = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const tlsPort = await freePort();
  const redis = await startRedisServer(['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no']);
  try {
    for (const host of ['localhost', '127.0.0.1']) {
      const ok = run(['queue', 'status', `rediss://${host}:${tlsPort}`], { NODE_EXTRA_CA_CERTS: cert });
      assert.equal(ok.code, 0, ok.err);
      assert.equal(ok.err, '');
      assert.match(ok.out, /0 workers connected, 0 campaigns/);
    }
    const untrusted = run(['queue', 'status', `rediss://localhost:${tlsPort}`], { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(untrusted.code, 2);
    assert.match(untrusted.err, /^flipguard: The TLS certificate of Redis at rediss:\/\/localhost:\d+ is not trusted \([A-Z_]+\); give its CA certificate with NODE_EXTRA_CA_CERTS=ca\.pem/);
  } finally {
    await redis.stop();
  }
});
