/**
 * The Redis queue backend: campaign trials/s in one process against 1 and 2 queue workers (CLI
 * processes, one onnxruntime thread each, coordinator in this process), and the queue's cost per
 * trial measured on a campaign whose trials cost almost nothing (a BER so low that no fault is
 * drawn: the exact no-fault shortcut answers without a run), so the difference per trial between
 * the queue and the single process is the queue's overhead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCampaign, type CampaignOptions } from '../src/campaign/index.js';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/graph/load.js';
import { formatTable } from '../src/cli/table.js';
import { redisServerAvailable, startRedisServer } from './redis-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
const modelPath = join(here, '..', '..', 'models', 'lenet5-mnist.onnx');

async function timed(opts: CampaignOptions): Promise<number> {
  const t0 = performance.now();
  const r = await runCampaign(opts);
  const s = (performance.now() - t0) / 1000;
  if (r.ran !== opts.bers.length * opts.trials) throw new Error(`expected ${opts.bers.length * opts.trials} trials, ran ${r.ran}`);
  return s;
}

/** Workers started and connected before the clock starts (their model loads on the first job). */
async function startWorkers(n: number, url: string, name: string): Promise<ChildProcess[]> {
  const ws = Array.from({ length: n }, () => spawn(process.execPath, [cli, 'worker', '--queue', url, '--queue-name', name, '--model', modelPath, '--threads', '1', '--quiet'], { stdio: 'ignore' }));
  const { Queue } = await import('bullmq');
  const q = new Queue(name, { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
  while ((await q.getWorkersCount()) < n) await new Promise((r) => setTimeout(r, 100));
  await q.close();
  return ws;
}

async function stopWorkers(ws: ChildProcess[]): Promise<void> {
  await Promise.all(ws.map((w) => new Promise((res) => { w.once('exit', res); w.kill('SIGTERM'); })));
}

/**
 * Seconds per extra trial: the campaign time at `small` and at `large` trials (two seeds, so no cell
 * is shared), divided by the difference, so fixed costs (golden run, connections) cancel out.
 */
async function perTrial(opts: CampaignOptions, small: number, large: number): Promise<number> {
  const a = await timed({ ...opts, trials: small, seed: 11 });
  const b = await timed({ ...opts, trials: large, seed: 12 });
  return (b - a) / (large - small);
}

export async function benchQueue(opts: { limit?: number; trials?: number; trivial?: [number, number] } = {}): Promise<string> {
  if (!redisServerAvailable()) return 'Skipped: no redis-server binary on PATH (apt-get install redis-server).';
  const model = loadModel(modelPath);
  const limit = opts.limit ?? 500;
  const trials = opts.trials ?? 40;
  const [small, large] = opts.trivial ?? [100, 500];
  const data = loadDataset({ data: 'mnist', split: 'test', limit });
  const base = { model, data, seed: 1, threads: 1 };
  const real = { ...base, bers: [1e-4], trials };
  // 1e-12 × ~0.2 M bits of LeNet-5: P(any fault) ≈ 2e-7 per trial, so every trial is the golden result
  const trivial = { ...base, bers: [1e-12], trials: small };
  const redis = await startRedisServer();
  try {
    const url = `redis://127.0.0.1:${redis.port}`;
    const rows: (string | number)[][] = [];
    const single = await timed(real);
    const singleTrivial = await perTrial(trivial, small, large);
    rows.push(['single process', (trials / single).toFixed(2), '1.00×', (1000 * singleTrivial).toFixed(2)]);
    const queueTrivial: number[] = [];
    for (const n of [1, 2]) {
      const name = `bench-${n}-${Date.now()}`;
      const ws = await startWorkers(n, url, name);
      try {
        // warm-up under another seed: every worker loads the model and runs its golden pass once
        await timed({ ...trivial, seed: 99, trials: 4 * n, queue: { url, name } });
        const q = await timed({ ...real, queue: { url, name } });
        const qt = await perTrial({ ...trivial, queue: { url, name } }, small, large);
        queueTrivial.push(qt);
        rows.push([`queue, ${n} worker${n > 1 ? 's' : ''}`, (trials / q).toFixed(2), `${(single / q).toFixed(2)}×`, (1000 * qt).toFixed(2)]);
      } finally {
        await stopWorkers(ws);
      }
    }
    const overhead = 1000 * (queueTrivial[0] - singleTrivial);
    return `LeNet-5, ${limit} MNIST test images per trial, BER 1e-4, ${trials} trials: wall time of the whole campaign call, including the coordinator's golden run. Trivial campaign: BER 1e-12 (no fault is drawn, so no evaluation runs), time per extra trial = (T(${large} trials) − T(${small} trials)) / ${large - small}, so fixed costs cancel. Workers are \`flipguard worker --threads 1\` processes started and warmed up beforehand (model loaded and golden pass run, on a campaign with another seed); the coordinator runs in the bench process with one onnxruntime thread; Redis is a local redis-server. All processes share the machine's 2 cores.

\`\`\`
${formatTable(['run', 'trials/s', 'speed-up', 'ms per trivial trial'], rows)}
\`\`\`

Queue overhead per trial (1 worker, trivial campaign, minus the single process's time per trivial trial): ${overhead.toFixed(2)} ms (target ≤ 5 ms).`;
  } finally {
    await redis.stop();
  }
}
