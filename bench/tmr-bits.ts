/**
 * tmr-bits (issue 17): time per pass and session creation of critical-bit TMR models against the
 * original, all models of one network timed in one run (passes interleaved, median), next to the
 * stored-bit overhead. The vote folds into the weights at session creation, so inference time
 * should stay at ≈ 1.0×; the price is paid once per session (and so once per campaign trial).
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { rank } from '../src/analysis/index.js';
import { harden, countHardened, type HardenOptions } from '../src/harden/index.js';
import { timeInferenceMany } from '../src/runtime/timing.js';
import { ModelRunner } from '../src/runtime/session.js';
import type { Model } from '../src/graph/types.js';
import { formatTable } from '../src/cli/table.js';
import { runCampaign } from '../src/campaign/index.js';
import { convertModel, quantizeModel } from '../src/formats/index.js';
import type { ImageSet } from '../src/runtime/evaluate.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const VARIANTS: { name: string; opts: Omit<HardenOptions, 'scores'> }[] = [
  { name: 'tmr-bits 30, every weight', opts: { method: 'tmr-bits', bits: [30] } },
  { name: 'tmr-bits 31,30,29, every weight', opts: { method: 'tmr-bits', bits: [31, 30, 29] } },
  { name: 'tmr-bits 30, top 15%', opts: { method: 'tmr-bits', bits: [30], ratio: 0.15 } },
  { name: 'tmr-weights 15%', opts: { method: 'tmr-weights', ratio: 0.15 } },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Median milliseconds to create a session (graph optimisation, i.e. the vote's folding, included). */
async function sessionMs(model: Model, threads: number, runs = 3): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await ModelRunner.create(model, { threads });
    ms.push(performance.now() - t);
    await r.release();
  }
  return ms.sort((a, b) => a - b)[runs >> 1];
}

export function tmrBitsCommand(): string {
  return 'npm run bench -- tmrbits';
}

export async function benchTmrBits(): Promise<string> {
  const threads = 2, runs = 5, images = 2000;
  const test = subset(loadDataset({ data: 'mnist', split: 'test' }), images);
  const rows: (string | number)[][] = [];
  for (const name of ['vgg11-mnist', 'resnet20-mnist']) {
    const model = readModel(resolve(repoRoot, 'models', `${name}.onnx`));
    const scores = await rank(model, { method: 'random', unit: 'weight', seed: 1 });
    const made = [];
    for (const v of VARIANTS) made.push({ v, h: await harden(model, { ...v.opts, scores }) });
    const times = await timeInferenceMany([model, ...made.map((x) => x.h.model)], test, { threads, repeats: runs, batch: 256 });
    const base = countHardened(model);
    const s0 = await sessionMs(model, threads);
    rows.push([name, 'original', '1.000', `${(times[0].msPerPass / 1000).toFixed(3)} s`, `${s0.toFixed(0)} ms`]);
    for (const [i, { v, h }] of made.entries()) {
      const cnt = countHardened(h.model);
      rows.push([name, v.name, (cnt.storedBytes / base.storedBytes).toFixed(3), `${(times[i + 1].msPerPass / times[0].msPerPass).toFixed(2)}×`, `${(await sessionMs(h.model, threads)).toFixed(0)} ms`]);
    }
  }
  return `Hardened ÷ original time per pass (${threads} threads, batch 256, ${images} MNIST test images, median of ${runs} interleaved passes; rankings seeded random) and median session creation (3 runs). Machine shared with other helpers' tests (load average 8–12): ratios are within one run.\n\n\`\`\`\n${formatTable(['model', 'variant', 'stored bytes ×', 'time ×', 'session creation'], rows)}\n\`\`\``;
}

export function tmrBitsCampaignCommand(): string {
  return 'npm run bench -- tmrbits-campaign';
}

/** Header of the foldBits tables. */
const FOLD_HEADER = ['model', 'variant', 's/trial slow', 's/trial foldBits', 'speed-up', 'trials/s slow', 'trials/s foldBits', 'records'];

/** One row: the same seeded campaign on `h` by the slow path and by foldBits, in this process. */
async function foldRow(name: string, variant: string, h: Model, data: ImageSet, o: { ber: number; trials: number; threads: number }): Promise<(string | number)[]> {
  const rate: number[] = [];
  const perTrial: number[] = [];
  const recs: string[] = [];
  for (const foldBits of [false, true]) {
    const t = performance.now();
    const r = await runCampaign({ model: h, data, bers: [o.ber], trials: o.trials, seed: 1, threads: o.threads, shortcuts: { foldBits } });
    rate.push(o.trials / ((performance.now() - t) / 1000));
    perTrial.push(median(r.records.map((x) => x.millis)));
    recs.push(JSON.stringify(r.records.map(({ millis: _m, ...x }) => x)));
  }
  return [name, variant, (perTrial[0] / 1000).toFixed(2), (perTrial[1] / 1000).toFixed(2), `${(perTrial[0] / perTrial[1]).toFixed(1)}×`, rate[0].toFixed(2), rate[1].toFixed(2), recs[0] === recs[1] ? 'identical' : 'DIFFER'];
}

/**
 * Campaign trials/s on tmr-bits models with and without the foldBits shortcut (same process, same
 * seeded trials, records compared field by field apart from the time).
 */
export async function benchTmrBitsCampaign(): Promise<string> {
  const threads = 2, images = 2000, trials = 8, ber = 1e-5;
  const test = subset(loadDataset({ data: 'mnist', split: 'test' }), images);
  const rows: (string | number)[][] = [];
  for (const name of ['vgg11-mnist', 'resnet20-mnist']) {
    const model = readModel(resolve(repoRoot, 'models', `${name}.onnx`));
    const scores = await rank(model, { method: 'random', unit: 'weight', seed: 1 });
    for (const v of VARIANTS.filter((x) => x.opts.method === 'tmr-bits')) {
      rows.push(await foldRow(name, v.name, (await harden(model, { ...v.opts, scores })).model, test, { ber, trials, threads }));
    }
  }
  return `Median seconds per campaign trial (from the records) and whole-campaign trials/s (golden run and start-up included) at BER ${ber} (${trials} seeded trials, ${images} MNIST test images, ${threads} threads), the slow path (a session per trial folds the vote) against foldBits (votes in JavaScript, voted weights swapped into one folded graph), in one process. Loaded machine (other helpers' tests): compare within a row.\n\n\`\`\`\n${formatTable(FOLD_HEADER, rows)}\n\`\`\``;
}

export function tmrBitsCampaignFormatsCommand(): string {
  return 'npm run bench -- tmrbits-campaign-formats';
}

/** foldBits on the other stored formats: vgg11-mnist converted to float16 and quantized to int8 (QDQ), tmr-bits at the format's default bit. */
export async function benchTmrBitsCampaignFormats(): Promise<string> {
  const threads = 2, images = 1000, trials = 4, ber = 1e-5;
  const test = subset(loadDataset({ data: 'mnist', split: 'test' }), images);
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const int8 = (await quantizeModel(model, subset(loadDataset({ data: 'mnist', split: 'train' }), 200), { threads })).model;
  const rows: (string | number)[][] = [];
  for (const [variant, m] of [['float16, tmr-bits 14, every weight', convertModel(model, 'float16').model], ['int8 QDQ, tmr-bits 7, every weight', int8]] as const) {
    rows.push(await foldRow('vgg11-mnist', variant, (await harden(m, { method: 'tmr-bits' })).model, test, { ber, trials, threads }));
  }
  return `Median seconds per campaign trial and whole-campaign trials/s (golden run and start-up included) at BER ${ber} (${trials} seeded trials, ${images} MNIST test images, ${threads} threads), slow path against foldBits, in one process. Loaded machine (other helpers' tests and benches on 2 cores): compare within a row.\n\n\`\`\`\n${formatTable(FOLD_HEADER, rows)}\n\`\`\``;
}
