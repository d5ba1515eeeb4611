import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { encodeModel, readModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { evaluate, type ImageSet } from '../src/runtime/evaluate.js';
import { Rng } from '../src/util/rng.js';
import { FaultPlanner, injectFaults, cleanParameters } from '../src/faults/index.js';
import {
  TrialEngine, confidenceInterval, mergeRuns, NO_SHORTCUTS, normalQuantile, readCampaignFile, runCampaign, sampleSize,
  studentTQuantile, summarize, trialsForMargin, RECORD_KEYS, type CampaignOptions, type CampaignSummary, type Shortcuts, type TrialRecord,
} from '../src/campaign/index.js';
import { benchCampaign } from '../src/workflows/index.js';

const root = mkdtempSync(join(tmpdir(), 'flipguard-campaign-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let fileNo = 0;
const fresh = (name = 'run'): string => join(root, `${name}-${fileNo++}.jsonl`);

/** conv(1→4) → relu → conv(4→4) → BN → relu → flatten → gemm(256→3), plus a dead branch. */
function tinyModel(seed = 7): Model {
  const rng = new Rng(seed);
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * s);
  const b = new GraphBuilder('tiny');
  const x = b.input('x', ['N', 1, 8, 8]);
  const c1 = b.op('Conv', [x, b.init('conv1.weight', [4, 1, 3, 3], rand(36, 0.5)), b.init('conv1.bias', [4], rand(4, 0.1))], { pads: A.is([1, 1, 1, 1]), kernel_shape: A.is([3, 3]) }, 'conv1');
  const r1 = b.op('Relu', [c1], {}, 'relu1');
  const c2 = b.op('Conv', [r1, b.init('conv2.weight', [4, 4, 3, 3], rand(144, 0.3)), b.init('conv2.bias', [4], rand(4, 0.1))], { pads: A.is([1, 1, 1, 1]), kernel_shape: A.is([3, 3]) }, 'conv2');
  const bn = b.op('BatchNormalization', [c2,
    b.init('bn.scale', [4], [1, 0.9, 1.1, 1]), b.init('bn.bias', [4], [0, 0.1, -0.1, 0]),
    b.init('bn.mean', [4], [0, 0.05, 0, 0]), b.init('bn.var', [4], [1, 1.2, 0.8, 1])], { epsilon: A.f(1e-5) }, 'bn');
  const r2 = b.op('Relu', [bn], {}, 'relu2');
  b.op('Mul', [r2, b.init('dead.scale', [1], [2])], {}, 'dead_mul');
  const f = b.op('Flatten', [r2], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, b.init('fc.weight', [3, 256], rand(768, 0.2)), b.init('fc.bias', [3], rand(3, 0.1))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  return makeModel(b.build());
}

/** Random images labelled by the model itself (80 %) or at random, so accuracy is high but not 1. */
async function tinyData(model: Model, count = 48, seed = 3): Promise<ImageSet> {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: count * 64 }, () => rng.next());
  const probe: ImageSet = { name: 'random', x, y: new Uint8Array(count), shape: [1, 8, 8], count, classes: 3 };
  const { predictions } = await evaluate(model, probe);
  const y = Uint8Array.from(predictions.top1, (t) => (rng.next() < 0.8 ? t : rng.int(3)));
  return { ...probe, y };
}

const model = tinyModel();
const dataP = tinyData(model);

/** Records without wall time, canonical order. */
function strip(records: readonly TrialRecord[]): Omit<TrialRecord, 'millis'>[] {
  return [...records].sort((a, b) => a.ber - b.ber || a.trial - b.trial).map(({ millis: _m, ...r }) => r);
}
/** Summary without timing. */
function stripSummary(s: CampaignSummary): unknown {
  return { golden: s.golden, bers: s.bers.map(({ trialsPerSecond: _t, ...b }) => b) };
}

async function assertRejectsFlip(p: Promise<unknown>, ...needles: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    return true;
  });
}

test('Student t and normal quantiles, intervals and sample sizes', () => {
  assert.ok(Math.abs(studentTQuantile(0.975, 1) - 12.706204736) < 1e-6);
  assert.ok(Math.abs(studentTQuantile(0.975, 5) - 2.570581836) < 1e-8);
  assert.ok(Math.abs(studentTQuantile(0.975, 30) - 2.042272456) < 1e-8);
  assert.ok(Math.abs(studentTQuantile(0.995, 10) - 3.169272673) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.995) - 2.575829304) < 1e-8);
  const [lo, hi] = confidenceInterval([1, 2, 3, 4, 5, 6]);
  const h = (2.570581836 * Math.sqrt(3.5)) / Math.sqrt(6);
  assert.ok(Math.abs(lo - (3.5 - h)) < 1e-8 && Math.abs(hi - (3.5 + h)) < 1e-8);
  assert.deepEqual(confidenceInterval([1]), [NaN, NaN]);
  // Leveugle et al.: e = 5 %, 95 %, p = 0.5: 385 for an infinite population, 370 out of 10 000
  assert.equal(sampleSize({ margin: 0.05 }), 385);
  assert.equal(sampleSize({ margin: 0.05, population: 10000 }), 370);
  assert.equal(sampleSize({ margin: 0.01, confidence: 0.99, population: 1000 }), 944);
  assert.ok(sampleSize({ margin: 0.05, population: 50 }) <= 50);
  const n = trialsForMargin(2, 0.5);
  assert.ok(studentTQuantile(0.975, n - 1) * 2 / Math.sqrt(n) <= 0.5);
  assert.ok(studentTQuantile(0.975, n - 2) * 2 / Math.sqrt(n - 1) > 0.5);
});

test('confidence intervals from the stdlib distributions equal the hand-written ones they replaced to 1e-9', () => {
  // [n, confidence, lo, hi] computed by flipguard's former own t-quantile (Lanczos log-gamma +
  // incomplete beta + bisection), which the test above checks against published t tables.
  const table: [number, number, number, number][] = [
    [2, 0.9, -2.6568757573375157, 3.6568757573375157],
    [2, 0.95, -5.8531023680873355, 6.8531023680873355],
    [2, 0.99, -31.328370581435436, 32.328370581435436],
    [3, 0.9, 0.43600048065487584, 0.6306661860117908],
    [3, 0.95, 0.389911575675018, 0.6767550909916487],
    [3, 0.99, 0.20250522663605858, 0.8641614400306081],
    [5, 0.9, 1.4925566809376767, 4.5074433190623235],
    [5, 0.95, 1.0367568385224428, 4.963243161477557],
    [5, 0.99, -0.25558670475777623, 6.255586704757777],
    [10, 0.9, 22.934469190098902, 69.02553080990111],
    [10, 0.95, 17.54061055302099, 74.41938944697901],
    [10, 0.99, 5.123714625181925, 86.83628537481809],
    [50, 0.9, 1.3245951048918303, 1.7839763236795982],
    [50, 0.95, 1.2789701465497474, 1.8296012820216812],
    [50, 0.99, 1.1871272792626395, 1.921444149308789],
    [1000, 0.9, -0.36827419436482717, 0.36801599623565057],
    [1000, 0.95, -0.4389258729852638, 0.4386676748560872],
    [1000, 0.99, -0.5772096049433493, 0.5769514068141726],
  ];
  const seqs: number[][] = [[0, 1], [0.5, 0.5, 0.6], [1, 2, 3, 4, 5], [83.1, 99.4, 12.0, 55.5, 70.2, 91.9, 3.3, 0, 0, 44.4],
    Array.from({ length: 50 }, (_, i) => ((i * 37) % 23) / 7), Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10)];
  let k = 0;
  for (const xs of seqs) for (const c of [0.9, 0.95, 0.99]) {
    const [n, conf, lo, hi] = table[k++];
    assert.equal(xs.length, n); assert.equal(c, conf);
    const [l, h] = confidenceInterval(xs, c);
    assert.ok(Math.abs(l - lo) <= 1e-9 * Math.max(1, Math.abs(lo)) && Math.abs(h - hi) <= 1e-9 * Math.max(1, Math.abs(hi)), `n=${n} c=${c}: [${l}, ${h}] vs [${lo}, ${hi}]`);
  }
  assert.equal(k, table.length);
});

test('summarize: mean, std and interval of the drop and SDC per BER', () => {
  const recs: TrialRecord[] = [1, 2, 3, 4].map((d, i) => ({ ber: 1e-3, trial: i, seed: i, faults: i, accuracy: 0.9 - d / 100, accuracyDrop: d, sdcRate: d / 10, dueRate: 0, millis: 10 }));
  recs.push({ ber: 1e-5, trial: 0, seed: 0, faults: 0, accuracy: 0.9, accuracyDrop: 0, sdcRate: 0, dueRate: 0, millis: 5 });
  const s = summarize(recs);
  assert.deepEqual(s.bers.map((b) => b.ber), [1e-5, 1e-3]);
  const b = s.bers[1];
  assert.equal(b.trials, 4);
  assert.equal(b.meanDrop, 2.5);
  assert.ok(Math.abs(b.stdDrop - Math.sqrt(5 / 3)) < 1e-12);
  assert.ok(Math.abs(b.ci95[1] - b.ci95[0] - 2 * 3.182446305 * Math.sqrt(5 / 3) / 2) < 1e-7);
  assert.ok(Math.abs(b.meanSdc - 0.25) < 1e-12);
  assert.equal(b.trialsPerSecond, 100);
  assert.ok(Math.abs(s.golden.accuracy - 0.9) < 1e-12);
});

test('a campaign writes a header and one line per trial, and the same seed gives the same result', async () => {
  const data = await dataP;
  const out1 = fresh();
  const out2 = fresh();
  const base: CampaignOptions = { model, data, bers: [1e-4, 1e-2], trials: 6, seed: 42, limit: 40 };
  const a = await runCampaign({ ...base, out: out1 });
  const b = await runCampaign({ ...base, out: out2, shortcuts: false });
  assert.deepEqual(strip(a.records), strip(b.records));
  assert.deepEqual(stripSummary(a), stripSummary(b));
  const lines = readFileSync(out1, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 1 + 12);
  const header = JSON.parse(lines[0]);
  assert.equal(header.flipguard, 'campaign');
  assert.equal(header.config.seed, 42);
  assert.equal(header.config.limit, 40);
  assert.equal(header.config.data.count, 40);
  assert.equal(header.config.count, 'binomial');
  assert.equal(header.config.bits.length, 32);
  assert.match(header.config.model, /^[0-9a-f]{64}$/);
  for (const l of lines.slice(1)) assert.deepEqual(Object.keys(JSON.parse(l)), [...RECORD_KEYS]);
  assert.equal(a.golden.count, 40);
  for (const r of a.records) {
    assert.ok(Math.abs(r.accuracyDrop - (a.golden.accuracy - r.accuracy) * 100) < 1e-9);
    assert.ok(r.sdcRate >= 0 && r.sdcRate <= 1 && r.dueRate >= 0 && r.dueRate <= 1);
  }
  assert.ok(a.records.some((r) => r.accuracyDrop !== 0 || r.sdcRate > 0), 'BER 1e-2 should do damage');
  const s = a.bers.find((x) => x.ber === 1e-2)!;
  assert.equal(s.trials, 6);
  assert.ok(s.ci95[0] <= s.meanDrop && s.meanDrop <= s.ci95[1]);
  // re-running into a finished output runs nothing and reports the same
  const again = await runCampaign({ ...base, out: out1 });
  assert.equal(again.ran, 0);
  assert.equal(again.resumed, 12);
  assert.deepEqual(stripSummary(again), stripSummary(a));
});

test('every shortcut, alone or together, gives the records of the plain path', async () => {
  const data = await dataP;
  const settings: Shortcuts[] = [
    { ...NO_SHORTCUTS, noFault: true }, { ...NO_SHORTCUTS, prefix: true }, { ...NO_SHORTCUTS, noEffect: true },
    { ...NO_SHORTCUTS, dead: true }, { ...NO_SHORTCUTS, noFault: true, noEffect: true, dead: true }, {},
  ];
  const modes: Partial<CampaignOptions>[] = [{ count: 'binomial' }, { count: 'floor' }, { count: 'binomial', kind: 'stuck1', bits: [20, 31] }, { count: 'fixed', faults: 2 }];
  const paths = new Map<string, number>();
  for (let seed = 1; seed <= 5; seed++) {
    for (const mode of modes) {
      const opts: CampaignOptions = { model, data, bers: [0, 3e-4, 2e-3, 2e-2], trials: 6, seed, ...mode };
      const plain = strip((await runCampaign({ ...opts, shortcuts: false })).records);
      for (const s of settings) {
        const got = await runCampaign({ ...opts, shortcuts: s, onProgress: (p) => paths.set(p.path, (paths.get(p.path) ?? 0) + 1) });
        assert.deepEqual(strip(got.records), plain, `seed ${seed} ${JSON.stringify(mode)} ${JSON.stringify(s)}`);
      }
    }
  }
  assert.ok((paths.get('golden') ?? 0) > 0 && (paths.get('suffix') ?? 0) > 0 && (paths.get('full') ?? 0) > 0, JSON.stringify([...paths]));
});

test('shards (1, 2 and 3) merge into exactly the one-run result', async () => {
  const data = await dataP;
  const base: CampaignOptions = { model, data, bers: [1e-3, 1e-2], trials: 7, seed: 9 };
  const whole = fresh('whole');
  const one = await runCampaign({ ...base, out: whole });
  const single = mergeRuns([whole]);
  assert.deepEqual(strip(single.records), strip(one.records));
  for (const count of [2, 3]) {
    const files: string[] = [];
    for (let index = 0; index < count; index++) {
      const f = fresh(`shard${index}of${count}`);
      files.push(f);
      const r = await runCampaign({ ...base, out: f, shard: { index, count } });
      assert.ok(r.records.every((x) => x.trial % count === index));
    }
    const merged = mergeRuns(files.reverse());
    assert.deepEqual(strip(merged.records), strip(one.records));
    assert.deepEqual(stripSummary(merged), stripSummary(one));
    // the merged file reads back the same
    const out = fresh('merged');
    mergeRuns(files, { out });
    assert.deepEqual(strip(readCampaignFile(out).records), strip(one.records));
    assert.throws(() => mergeRuns(files, { out }), FlipguardError);
  }
  // another configuration is refused
  const other = fresh('other');
  await runCampaign({ ...base, seed: 10, trials: 1, out: other });
  assert.throws(() => mergeRuns([whole, other]), (e: unknown) => e instanceof FlipguardError && /different configurations \(seed differ\)/.test(e.message));
});

test('a campaign cut off mid-line resumes to the uninterrupted result without rewriting finished lines', async () => {
  const data = await dataP;
  const base: CampaignOptions = { model, data, bers: [1e-3, 1e-2], trials: 5, seed: 4, count: 'floor' };
  const full = fresh('full');
  const ref = await runCampaign({ ...base, out: full });
  const text = readFileSync(full, 'utf8');
  const lines = text.split('\n');
  // keep the header and 3 records, then half of the 4th line
  const kept = lines.slice(0, 4).join('\n') + '\n';
  const cut = fresh('cut');
  writeFileSync(cut, kept + lines[4].slice(0, 20));
  const res = await runCampaign({ ...base, out: cut });
  assert.equal(res.resumed, 3);
  assert.equal(res.ran, 7);
  const after = readFileSync(cut, 'utf8');
  assert.ok(after.startsWith(kept), 'finished lines are kept byte for byte');
  assert.deepEqual(strip(res.records), strip(ref.records));
  assert.deepEqual(stripSummary(res), stripSummary(ref));
  assert.deepEqual(strip(readCampaignFile(cut).records), strip(ref.records));
  // a torn header alone counts as no file
  const torn = fresh('torn');
  writeFileSync(torn, text.slice(0, 30));
  const r2 = await runCampaign({ ...base, out: torn });
  assert.deepEqual(strip(r2.records), strip(ref.records));
});

test('a campaign killed with SIGKILL resumes to the uninterrupted result', async () => {
  const data = await dataP;
  const dir = mkdtempSync(join(root, 'kill-'));
  const modelPath = join(dir, 'tiny.onnx');
  writeFileSync(modelPath, encodeModel(model));
  writeFileSync(join(dir, 'x.bin'), data.x);
  writeFileSync(join(dir, 'y.bin'), data.y);
  const loaded = readModel(modelPath);
  const campaignJs = fileURLToPath(new URL('../src/campaign/index.js', import.meta.url));
  const onnxJs = fileURLToPath(new URL('../src/graph/onnx.js', import.meta.url));
  const script = join(dir, 'child.mjs');
  const opts = { bers: [1e-3, 1e-2], trials: 8, seed: 21 };
  writeFileSync(script, `
import { readFileSync } from 'node:fs';
const { runCampaign } = await import(${JSON.stringify(campaignJs)});
const { readModel } = await import(${JSON.stringify(onnxJs)});
const [modelPath, dir, out] = process.argv.slice(2);
const xb = readFileSync(dir + '/x.bin'); const yb = readFileSync(dir + '/y.bin');
const x = new Float32Array(xb.buffer.slice(xb.byteOffset, xb.byteOffset + xb.byteLength));
const y = new Uint8Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.byteLength));
const data = { name: 'random', x, y, shape: [1, 8, 8], count: y.length, classes: 3 };
const sleep = new Int32Array(new SharedArrayBuffer(4));
await runCampaign({ model: readModel(modelPath), data, ...${JSON.stringify(opts)}, out,
  onProgress: () => Atomics.wait(sleep, 0, 0, 40) });
`);
  const out = join(dir, 'out.jsonl');
  const child = spawn(process.execPath, [script, modelPath, dir, out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const t0 = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 10));
    const n = existsSync(out) ? readFileSync(out, 'utf8').split('\n').length - 1 : 0;
    if (n >= 5) break;
    if (Date.now() - t0 > 15000 || child.exitCode !== null) assert.fail(`child did not write records in time: ${stderr}`);
  }
  child.kill('SIGKILL');
  await exited;
  const before = readFileSync(out, 'utf8');
  const finished = before.slice(0, before.lastIndexOf('\n') + 1);
  const nBefore = readCampaignFile(out).records.length;
  assert.ok(nBefore >= 4 && nBefore < 16, `killed after ${nBefore} records`);
  appendFileSync(out, '{"ber":0.01,"trial":7,"se'); // and a torn last line on top
  const resumed = await runCampaign({ model: loaded, data, ...opts, out });
  assert.equal(resumed.resumed, nBefore);
  assert.ok(readFileSync(out, 'utf8').startsWith(finished));
  const ref = await runCampaign({ model: loaded, data, ...opts, out: fresh('ref') });
  assert.deepEqual(strip(resumed.records), strip(ref.records));
  assert.deepEqual(stripSummary(resumed), stripSummary(ref));
});

test('an output from another model or configuration is refused and left untouched', async () => {
  const data = await dataP;
  const out = fresh('refuse');
  await runCampaign({ model, data, bers: [1e-3], trials: 2, seed: 1, out });
  const before = readFileSync(out);
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 2, seed: 2, out }), 'different configuration', 'seed');
  await assertRejectsFlip(runCampaign({ model: tinyModel(8), data, bers: [1e-3], trials: 2, seed: 1, out }), 'model');
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 2, seed: 1, out, bits: 'exponent' }), 'bits');
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 2, seed: 1, out, limit: 10 }), 'data');
  assert.deepEqual(readFileSync(out), before);
  const foreign = fresh('foreign');
  writeFileSync(foreign, 'name,value\n1,2\n');
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 1, out: foreign }), 'not a flipguard campaign file');
  const foreign2 = fresh('foreign2');
  writeFileSync(foreign2, 'hello');
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 1, out: foreign2 }), 'not a flipguard campaign file');
  assert.equal(readFileSync(foreign2, 'utf8'), 'hello');
  // another live process holding the output's lock is refused; a dead one's lock is taken over
  writeFileSync(`${out}.lock`, String(process.ppid));
  await assertRejectsFlip(runCampaign({ model, data, bers: [1e-3], trials: 2, seed: 1, out }), 'Another flipguard process');
  writeFileSync(`${out}.lock`, '999999999');
  // more trials or BERs into the same output extend it
  const more = await runCampaign({ model, data, bers: [1e-3, 1e-2], trials: 3, seed: 1, out });
  assert.equal(more.resumed, 2);
  assert.equal(more.ran, 4);
  assert.ok(!existsSync(`${out}.lock`));
});

test('bad options are FlipguardErrors', async () => {
  const data = await dataP;
  const base: CampaignOptions = { model, data, bers: [1e-3], trials: 1 };
  for (const ber of [NaN, -0.1, 1.01]) await assertRejectsFlip(runCampaign({ ...base, bers: [ber] }), 'BER');
  await assertRejectsFlip(runCampaign({ ...base, bers: [] }), 'BER');
  await assertRejectsFlip(runCampaign({ ...base, bits: [0, 32] }), '32');
  await assertRejectsFlip(runCampaign({ ...base, targets: { names: 'lstm*' } }), 'selects no parameter');
  await assertRejectsFlip(runCampaign({ ...base, trials: 0 }), 'trials');
  await assertRejectsFlip(runCampaign({ ...base, margin: 0 }), 'margin');
  await assertRejectsFlip(runCampaign({ ...base, shard: { index: 2, count: 2 } }), 'Shard');
  await assertRejectsFlip(runCampaign({ ...base, limit: 0 }), 'limit');
  await assertRejectsFlip(runCampaign({ ...base, data: { ...data, shape: [1, 9, 9] } }), 'shape');
});

test('the margin rule stops early, and stops at the same place when sharded', async () => {
  const data = await dataP;
  const base: CampaignOptions = { model, data, bers: [1e-3, 2e-2], trials: 30, seed: 5, margin: 50, minTrials: 4 };
  const one = await runCampaign({ ...base, out: fresh('margin') });
  for (const b of one.bers) { assert.equal(b.trials, 4); assert.ok(b.stoppedEarly); }
  assert.equal(one.records.length, 8);
  const files = [0, 1, 2].map(() => fresh('mshard'));
  for (let i = 0; i < 3; i++) await runCampaign({ ...base, out: files[i], shard: { index: i, count: 3 } });
  const merged = mergeRuns(files);
  assert.deepEqual(strip(merged.records), strip(one.records));
  assert.deepEqual(stripSummary(merged), stripSummary(one));
  // a tight margin is not reached where drops vary: every trial runs
  const tight = await runCampaign({ ...base, bers: [1e-3], trials: 6, margin: 1e-9 });
  assert.ok(tight.bers[0].stdDrop > 0);
  assert.equal(tight.records.length, 6);
  assert.ok(!tight.bers[0].stoppedEarly);
});

test('benchCampaign returns a table with every setting agreeing', async () => {
  const data = await dataP;
  const r = await benchCampaign({ model, data, bers: [1e-3, 1e-2], trials: 3 });
  assert.equal(r.rows.length, 2 * 5);
  assert.ok(r.rows.every((x) => x.identical), r.table);
  assert.ok(r.imagesPerSecond > 0);
  assert.match(r.table, /\| BER \| setting/);
});

test('the engine picks the latest cut before the first faulted tensor, and respects the cache budget', async () => {
  const data = await dataP;
  const planner = new FaultPlanner(model);
  // minPrefixShare 0: every cut is a candidate here (the default skips cuts whose prefix holds < 25% of the MACs)
  const e = await TrialEngine.create(model, data, planner.targets, { minPrefixShare: 0 });
  try {
    assert.deepEqual(e.cutValues, ['relu1_out', 'flatten_out']);
    await e.verifyAllCuts();
    assert.deepEqual(e.rejectedCuts, []);
    const clean = cleanParameters(model);
    const run = async (tensor: string, bit = 30): Promise<string> => {
      const inj = injectFaults(clean, [{ tensor, index: 0, bit, kind: 'flip' }]);
      const o = await e.evaluate(inj.tensors, inj.changed);
      return o.path === 'suffix' ? `suffix@${o.cut}` : o.path;
    };
    assert.equal(await run('fc.weight'), 'suffix@flatten_out');
    assert.equal(await run('bn.var'), 'suffix@relu1_out');
    assert.equal(await run('conv2.bias'), 'suffix@relu1_out');
    assert.equal(await run('conv1.weight'), 'full');
    assert.equal(await run('dead.scale'), 'golden');
    const both = injectFaults(clean, [{ tensor: 'fc.bias', index: 0, bit: 3, kind: 'flip' }, { tensor: 'conv1.bias', index: 0, bit: 3, kind: 'flip' }]);
    assert.equal((await e.evaluate(both.tensors, both.changed)).path, 'full');
  } finally {
    await e.release();
  }
  const small = await TrialEngine.create(model, data, planner.targets, { cacheBytes: data.count * 256 * 4, minPrefixShare: 0 });
  assert.deepEqual(small.cutValues, ['flatten_out']);
  await small.release();
  const none = await TrialEngine.create(model, data, planner.targets, { cacheBytes: 16, minPrefixShare: 0 });
  const cheap = await TrialEngine.create(model, data, planner.targets, { minPrefixShare: 1 });
  assert.deepEqual(cheap.cutValues, [], 'no cut skips all of the compute');
  await cheap.release();
  assert.deepEqual(none.cutValues, []);
  await none.release();
});
