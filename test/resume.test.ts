/**
 * Resume property test: a real campaign's record file (LeNet-5 on 64 MNIST images) cut at random
 * byte offsets resumes to exactly the uninterrupted run, and every tampered line is refused with
 * one sentence naming the file and line while the file stays as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { loadModel } from '../src/graph/load.js';
import { loadDataset, normalizationFromMetadata } from '../src/data/index.js';
import { Rng } from '../src/util/rng.js';
import { FaultPlanner, planDigest, type WeightFault } from '../src/faults/index.js';
import { readCampaignFile, runCampaign, summaryJson, type CampaignOptions, type CampaignSummary } from '../src/campaign/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const cli = join(here, '..', 'src', 'cli', 'main.js');
const modelPath = join(repo, 'models', 'lenet5-mnist.onnx');
const model = loadModel(modelPath);
const LIMIT = 64;
const data = loadDataset({ data: 'mnist', limit: LIMIT, ...normalizationFromMetadata(model.metadata) });
const base: CampaignOptions = { model, data, bers: [1e-4, 1e-3], trials: 6, seed: 11 };

const root = mkdtempSync(join(tmpdir(), 'flipguard-resume-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let fileNo = 0;
const fresh = (name: string): string => join(root, `${name}-${fileNo++}.jsonl`);

/** A record file's text with wall times zeroed: everything else must match byte for byte. */
const noTime = (text: string): string => text.replace(/"millis":[0-9.e+-]+/g, '"millis":0');
/** The summary JSON without the one timing field. */
const summaryText = (s: CampaignSummary): string => JSON.stringify(summaryJson(s), (k, v) => (k === 'trialsPerSecond' ? undefined : v));
const recordsText = (rs: readonly object[]): string => noTime(rs.map((r) => JSON.stringify(r)).join('\n'));

const refFile = fresh('ref');
const refP = runCampaign({ ...base, out: refFile });

test('a record file cut at any byte resumes to exactly the uninterrupted records and summary', async () => {
  const ref = await refP;
  const full = readFileSync(refFile);
  assert.equal(ref.records.length, 12);
  assert.ok(ref.records.some((r) => r.accuracyDrop > 0), 'BER 1e-3 should cost LeNet-5 accuracy');
  const rng = new Rng(2024);
  const cuts = [0, 1, full.indexOf(0x0a), full.indexOf(0x0a) + 1, full.length - 1];
  while (cuts.length < 16) cuts.push(rng.int(full.length));
  for (const cut of cuts) {
    const f = fresh(`cut${cut}`);
    const prefix = full.subarray(0, cut);
    writeFileSync(f, prefix);
    const res = await runCampaign({ ...base, out: f });
    const after = readFileSync(f);
    const kept = prefix.subarray(0, prefix.lastIndexOf(0x0a) + 1);
    assert.ok(after.subarray(0, kept.length).equals(kept), `cut at ${cut}: finished lines are kept byte for byte`);
    assert.equal(noTime(after.toString('utf8')), noTime(full.toString('utf8')), `cut at ${cut}: the resumed file is the uninterrupted one`);
    assert.equal(recordsText(res.records), recordsText(ref.records), `cut at ${cut}`);
    assert.equal(summaryText(res), summaryText(ref), `cut at ${cut}`);
    assert.equal(res.ran + res.resumed, 12);
  }
});

/** One way of tampering with record line `line` (1-based, ≥ 2) of a file's lines. */
interface Tamper {
  name: string;
  apply(lines: string[], line: number): { lines: string[]; line: number };
  /** What the refusal must say besides the file and line. */
  needle: RegExp;
}

const edit = (f: (r: Record<string, unknown>) => void) => (lines: string[], line: number) => {
  const r = JSON.parse(lines[line - 1]);
  f(r);
  const out = [...lines];
  out[line - 1] = JSON.stringify(r);
  return { lines: out, line };
};

const TAMPERS: Tamper[] = [
  { name: 'duplicated line', apply: (l, n) => ({ lines: [...l.slice(0, n), l[n - 1], ...l.slice(n)], line: n + 1 }), needle: /repeats BER .* trial \d+ of line \d+/ },
  { name: 'BER not in the campaign', apply: edit((r) => { r.ber = 0.5; }), needle: /BER 0\.5, which is not one of the campaign's BERs \(0\.0001, 0\.001\)/ },
  { name: 'trial out of range', apply: edit((r) => { r.trial = 6; }), needle: /trial 6, not a whole number from 0 to 5/ },
  { name: 'negative trial', apply: edit((r) => { r.trial = -1; }), needle: /trial -1, not a whole number from 0 to 5/ },
  { name: 'fractional trial', apply: edit((r) => { r.trial = 1.5; }), needle: /trial 1\.5/ },
  { name: 'accuracy 7', apply: edit((r) => { r.accuracy = 7; }), needle: /accuracy 7, not a share of the 64 evaluated images/ },
  { name: 'accuracy and drop both changed', apply: edit((r) => { r.accuracy = 0; r.accuracyDrop = 0; }), needle: /accuracyDrop 0, but golden \d+\/64 minus accuracy 0\/64/ },
  { name: 'SDC not a count of images', apply: edit((r) => { r.sdcRate = 1 / 3; }), needle: /sdcRate 0\.333/ },
  { name: 'negative DUE', apply: edit((r) => { r.dueRate = -1 / 64; }), needle: /dueRate -0\.015625/ },
  { name: 'tampered per-trial seed', apply: edit((r) => { r.seed = (r.seed as number) + 1; }), needle: /has seed \d+, but BER .* trial \d+ of campaign seed 11 draws its faults with seed \d+/ },
  { name: 'tampered fault count', apply: edit((r) => { r.faults = (r.faults as number) + 1; }), needle: /has faults \d+, but the plan of BER .* holds \d+/ },
  { name: 'tampered digest', apply: edit((r) => { r.plan = (r.plan as string).replace(/^./, (c) => (c === '0' ? '1' : '0')); }), needle: /plan digest [0-9a-f]{16}, but the plan .* regenerated from the seed has [0-9a-f]{16}/ },
  { name: 'digest not hex', apply: edit((r) => { r.plan = 'x'; }), needle: /plan "x", not a digest/ },
  { name: 'string where a number belongs', apply: edit((r) => { r.accuracy = '0.9'; }), needle: /accuracy is "0\.9", not a number/ },
  { name: 'non-JSON middle line', apply: (l, n) => { const out = [...l]; out[n - 1] = out[n - 1].slice(0, 25); return { lines: out, line: n }; }, needle: /is not JSON/ },
  { name: 'not an object', apply: (l, n) => { const out = [...l]; out[n - 1] = '[1,2,3]'; return { lines: out, line: n }; }, needle: /is not a trial record/ },
];

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FlipguardError, `expected a FlipguardError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('the tampered file was accepted');
}

test('every tampered record line is refused naming the file and line, and the file is left unchanged', async () => {
  await refP;
  const lines = readFileSync(refFile, 'utf8').trimEnd().split('\n');
  const rng = new Rng(77);
  for (let round = 0; round < 3; round++) {
    for (const t of TAMPERS) {
      const target = 2 + rng.int(lines.length - 2); // a record line, never the header
      const { lines: bad, line } = t.apply(lines, target);
      const f = fresh('tamper');
      const text = `${bad.join('\n')}\n`;
      writeFileSync(f, text);
      const msg = await refusal(runCampaign({ ...base, out: f }));
      assert.ok(msg.startsWith(`Line ${line} of "${f}" `), `${t.name}: ${msg}`);
      assert.match(msg, t.needle, t.name);
      assert.match(msg, /remove that line \(a resumed campaign reruns its trial\) or start a new output file\.$/, t.name);
      assert.equal(readFileSync(f, 'utf8'), text, `${t.name}: the file is unchanged`);
      assert.ok(!existsSync(`${f}.lock`), `${t.name}: the lock is released`);
    }
  }
});

test('a damaged header and a run line are checked too', async () => {
  await refP;
  const lines = readFileSync(refFile, 'utf8').trimEnd().split('\n');
  const header = JSON.parse(lines[0]);
  for (const [change, needle] of [
    [(h: any) => { h.run.trials = -3; }, /run has trials -3/],
    [(h: any) => { h.golden.correct = h.golden.count + 1; }, /fault-free result/],
    [(h: any) => { h.run.bers = []; }, /lists no BERs/],
  ] as [(h: any) => void, RegExp][]) {
    const h = structuredClone(header);
    change(h);
    const f = fresh('header');
    const text = [JSON.stringify(h), ...lines.slice(1)].join('\n') + '\n';
    writeFileSync(f, text);
    const msg = await refusal(runCampaign({ ...base, out: f }));
    assert.ok(msg.startsWith(`The header (line 1) of "${f}" `), msg);
    assert.match(msg, needle);
    assert.equal(readFileSync(f, 'utf8'), text);
  }
  // asking for more trials and BERs appends a run line; the grown file then reads and resumes
  const grown = fresh('grown');
  writeFileSync(grown, readFileSync(refFile));
  const more = await runCampaign({ ...base, bers: [1e-4, 1e-3, 1e-2], trials: 7, out: grown });
  assert.equal(more.resumed, 12);
  assert.equal(more.ran, 3 * 7 - 12);
  const f = readCampaignFile(grown);
  assert.equal(f.runs.length, 2);
  assert.deepEqual(f.runs[1].bers, [1e-4, 1e-3, 1e-2]);
  assert.equal(f.runs[1].trials, 7);
  // the original command still resumes the grown file (its records are the file's own cells)
  const again = await runCampaign({ ...base, out: grown });
  assert.equal(again.ran, 0);
  assert.equal(again.resumed, 21);
  // another shard than the file's is refused
  const msg = await refusal(runCampaign({ ...base, out: grown, shard: { index: 0, count: 2 } }));
  assert.match(msg, /holds the whole run \(no shard\) of its campaign but shard 0\/2 was asked for/);
});

test('record files written before plan digests still resume (seed and fault count checked)', async () => {
  const ref = await refP;
  const old = readFileSync(refFile, 'utf8').replace(/"plan":"[0-9a-f]{16}",/g, '');
  assert.ok(!old.includes('"plan"'));
  const f = fresh('old');
  writeFileSync(f, old);
  const res = await runCampaign({ ...base, out: f });
  assert.equal(res.ran, 0);
  assert.equal(res.resumed, 12);
  assert.equal(summaryText(res), summaryText(ref));
  assert.equal(readFileSync(f, 'utf8'), old, 'nothing is rewritten');
  // cut short: the rerun trials get digests, the old lines stay as they were
  const lines = old.split('\n');
  const cut = fresh('oldcut');
  writeFileSync(cut, `${lines.slice(0, 8).join('\n')}\n`);
  const res2 = await runCampaign({ ...base, out: cut });
  assert.equal(res2.resumed, 7);
  assert.equal(recordsText(res2.records.map(({ plan: _p, ...r }) => r)), recordsText(ref.records.map(({ plan: _p, ...r }) => r)));
  const after = readFileSync(cut, 'utf8').trimEnd().split('\n');
  assert.ok(after.slice(8).every((l) => /"plan":"[0-9a-f]{16}"/.test(l)));
  // an old line with a wrong fault count is still refused
  const bad = old.replace(/"faults":(\d+)/, (_m, n) => `"faults":${Number(n) + 2}`);
  const fb = fresh('oldbad');
  writeFileSync(fb, bad);
  assert.match(await refusal(runCampaign({ ...base, out: fb })), /^Line 2 of .* has faults \d+, but the plan of BER/);
});

test('the CLI refuses a tampered record file with exit 2 and one line naming file and line', async () => {
  await refP;
  const dir = mkdtempSync(join(root, 'cli-'));
  const out = join(dir, 'run.jsonl');
  const args = ['inject', modelPath, '--ber', '1e-4,1e-3', '--trials', '6', '--seed', '11', '--limit', String(LIMIT), '--out', out, '--quiet'];
  // the library's file is the CLI's file (same options): the CLI resumes it
  writeFileSync(out, readFileSync(refFile));
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  for (const [line, change, needle] of [
    [3, (r: any) => { r.ber = 0.5; }, /BER 0\.5/],
    [4, (r: any) => { r.seed = 1; }, /has seed 1, but/],
  ] as [number, (r: any) => void, RegExp][]) {
    const r = JSON.parse(lines[line - 1]);
    change(r);
    const text = [...lines.slice(0, line - 1), JSON.stringify(r), ...lines.slice(line)].join('\n') + '\n';
    writeFileSync(out, text);
    const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    assert.equal(res.status, 2, res.stderr);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.ok(res.stderr.includes(`Line ${line} of "${out}"`), res.stderr);
    assert.match(res.stderr, needle);
    assert.equal(readFileSync(out, 'utf8'), text);
  }
  // a torn last line is still dropped and redone
  writeFileSync(out, `${lines.join('\n')}\n${lines[3].slice(0, 30)}`);
  const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /0 trials run, 12 resumed/);
  assert.equal(readFileSync(out, 'utf8'), `${lines.join('\n')}\n`);
});

test('a plan digest names the multiset of faults: order-free, and any changed fault changes it', () => {
  const plan = new FaultPlanner(model).plan(11, 1e-3, 4);
  assert.ok(plan.faults.length > 100);
  const d = planDigest(plan.faults);
  assert.match(d, /^[0-9a-f]{16}$/);
  const rng = new Rng(9);
  const shuffled = [...plan.faults];
  for (let i = shuffled.length - 1; i > 0; i--) { const j = rng.int(i + 1); [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]; }
  assert.equal(planDigest(shuffled), d);
  const changed = (f: (x: WeightFault) => WeightFault): string => planDigest([f(plan.faults[0]), ...plan.faults.slice(1)]);
  const other = plan.faults.find((x) => x.tensor !== plan.faults[0].tensor)!.tensor;
  for (const alt of [
    changed((x) => ({ ...x, bit: (x.bit + 1) % 32 })), changed((x) => ({ ...x, index: x.index + 1 })),
    changed((x) => ({ ...x, tensor: other })), changed((x) => ({ ...x, kind: 'stuck1' })),
    planDigest(plan.faults.slice(1)), planDigest([...plan.faults, plan.faults[0]]),
  ]) assert.notEqual(alt, d);
  assert.equal(planDigest(new FaultPlanner(model).plan(11, 1e-3, 4).faults), d, 'same seed, same digest');
});
