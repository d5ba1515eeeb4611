/**
 * Merge property test: shard outputs of a real campaign (LeNet-5 on 64 MNIST images) in random
 * subsets, duplicated, mixed across splits or options, torn or with holes are refused with the
 * right sentence and nothing written; the complete set equals the single run byte for byte; with
 * `partial` the summary, the table and the report say PARTIAL.
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
import { mergeRuns, runCampaign, summarize, summaryJson, type CampaignOptions, type CampaignSummary, type MergeOptions, type TrialRecord } from '../src/campaign/index.js';
import { buildReportData } from '../src/report/data.js';
import { reportHtml } from '../src/report/write.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const cli = join(here, '..', 'src', 'cli', 'main.js');
const model = loadModel(join(repo, 'models', 'lenet5-mnist.onnx'));
const data = loadDataset({ data: 'mnist', limit: 64, ...normalizationFromMetadata(model.metadata) });
const base: CampaignOptions = { model, data, bers: [1e-4, 1e-3], trials: 6, seed: 11 };

const root = mkdtempSync(join(tmpdir(), 'flipguard-merge-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let fileNo = 0;
const fresh = (name: string): string => join(root, `${name}-${fileNo++}.jsonl`);

const noTime = (text: string): string => text.replace(/"millis":[0-9.e+-]+/g, '"millis":0');
const summaryText = (s: CampaignSummary): string => JSON.stringify(summaryJson(s), (k, v) => (k === 'trialsPerSecond' ? undefined : v));
const recordsText = (rs: readonly TrialRecord[]): string => noTime(rs.map((r) => JSON.stringify(r)).join('\n'));

/** A shard file and what it is. */
interface Entry { path: string; index: number; count: number }

async function shardFile(name: string, opts: Partial<CampaignOptions> & { shard?: { index: number; count: number } }): Promise<Entry> {
  const path = fresh(name);
  await runCampaign({ ...base, ...opts, out: path });
  return { path, index: opts.shard?.index ?? 0, count: opts.shard?.count ?? 1 };
}

const filesP = (async () => {
  const whole = await shardFile('whole', {});
  const s2 = [await shardFile('s0of2', { shard: { index: 0, count: 2 } }), await shardFile('s1of2', { shard: { index: 1, count: 2 } })];
  const s3 = [0, 1, 2].map((index) => shardFile(`s${index}of3`, { shard: { index, count: 3 } }));
  return { whole, s2, s3: await Promise.all(s3) };
})();

/** Runs mergeRuns with an output path and returns the refusal (asserting nothing was written). */
function refusal(files: readonly string[], opts: MergeOptions = {}): string {
  const out = fresh('refused-out');
  try {
    mergeRuns(files, { ...opts, out });
  } catch (e) {
    assert.ok(e instanceof FlipguardError, `expected a FlipguardError, got ${String(e)}`);
    assert.ok(!existsSync(out), 'a refused merge writes nothing');
    return e.message;
  }
  assert.fail(`merging ${files.join(' ')} was accepted`);
}

/** What mergeRuns must say about `sel`: undefined when it is a complete set; `missing` shards otherwise. */
function oracle(sel: readonly Entry[]): { refuse?: string; missing: number[] } {
  const [first] = sel;
  const what = (e: Entry): string => (e.count === 1 ? 'a whole run (no shard)' : `shard ${e.index}/${e.count}`);
  for (const e of sel.slice(1)) {
    if (e.count !== first.count) return { refuse: `"${e.path}" is ${what(e)} but "${first.path}" is ${what(first)}`, missing: [] };
  }
  const seen = new Map<number, Entry>();
  for (const e of sel) {
    const prev = seen.get(e.index);
    if (prev) return { refuse: `${first.count === 1 ? 'the unsharded run' : `shard ${e.index}/${e.count}`} is given twice ("${prev.path}" and "${e.path}")`, missing: [] };
    seen.set(e.index, e);
  }
  const missing: number[] = [];
  for (let i = 0; i < first.count; i++) if (!seen.has(i)) missing.push(i);
  return { missing };
}

test('random shard subsets: complete sets equal the single run, others are refused or marked partial', async () => {
  const { whole, s2, s3 } = await filesP;
  const single = await runCampaign({ ...base, out: whole.path }); // resumes: nothing runs
  assert.equal(single.ran, 0);
  const pool = [whole, ...s2, ...s3];
  const rng = new Rng(5);
  const seenKinds = new Set<string>();
  for (let draw = 0; draw < 40; draw++) {
    const sel = Array.from({ length: 1 + rng.int(4) }, () => pool[rng.int(pool.length)]);
    const files = sel.map((e) => e.path);
    const o = oracle(sel);
    const label = sel.map((e) => `${e.index}/${e.count}`).join(' + ');
    if (o.refuse) {
      seenKinds.add(o.refuse.includes('twice') ? 'twice' : 'mixed');
      const msg = refusal(files);
      assert.ok(msg.startsWith(o.refuse), `${label}: ${msg}`);
      assert.ok(refusal(files, { partial: true }).startsWith(o.refuse), `${label}: partial does not excuse it`);
      continue;
    }
    if (o.missing.length) {
      seenKinds.add('missing');
      const n = sel[0].count;
      const msg = refusal(files);
      assert.ok(msg.startsWith(`The merge is incomplete: ${o.missing.map((i) => `shard ${i}/${n}`).join(', ')} ${o.missing.length === 1 ? 'is' : 'are'} missing`), `${label}: ${msg}`);
      assert.match(msg, /pass option "partial" to merge what is there/);
      const r = mergeRuns(files, { partial: true });
      assert.deepEqual(r.partial?.missingShards, o.missing.map((i) => `${i}/${n}`), label);
      const present = single.records.filter((x) => !o.missing.includes(x.trial % n));
      assert.equal(recordsText(r.records), recordsText(present), label);
      assert.equal(r.partial?.missingTrials.reduce((k, m) => k + m.count, 0), single.records.length - present.length);
      const json = summaryJson(r) as { partial?: boolean };
      assert.equal(json.partial, true);
      assert.equal(summaryText({ golden: r.golden, bers: r.bers }), summaryText(summarize(present, { golden: single.golden })));
      continue;
    }
    seenKinds.add('complete');
    const out = fresh('merged');
    const r = mergeRuns(files, { out });
    assert.equal(r.partial, undefined);
    assert.equal(recordsText(r.records), recordsText(single.records), label);
    assert.equal(summaryText(r), summaryText(single), label);
    assert.equal(noTime(readFileSync(out, 'utf8')), noTime(readFileSync(whole.path, 'utf8')), `${label}: the merged file is the single run's, byte for byte`);
  }
  assert.deepEqual([...seenKinds].sort(), ['complete', 'missing', 'mixed', 'twice'], 'the draws cover every case');
});

test('shards with other options, a torn shard and a shard with a hole are refused by name', async () => {
  const { s2, s3 } = await filesP;
  const [a, b] = s2;
  const trials8 = await shardFile('trials8', { trials: 8, shard: { index: 1, count: 2 } });
  const ber = await shardFile('ber', { bers: [1e-4, 1e-2], shard: { index: 1, count: 2 } });
  const seed = await shardFile('seed', { seed: 12, shard: { index: 1, count: 2 } });
  const margin = await shardFile('margin', { margin: 5, shard: { index: 1, count: 2 } });
  assert.ok(refusal([a.path, trials8.path]).startsWith(`"${trials8.path}" has option "trials" 8 but "${a.path}" has 6;`));
  assert.ok(refusal([a.path, ber.path]).startsWith(`"${ber.path}" has BERs 0.0001,0.01 but "${a.path}" has 0.0001,0.001;`));
  assert.ok(refusal([a.path, seed.path]).startsWith(`"${seed.path}" and "${a.path}" are campaigns with different configurations (seed differ);`));
  assert.ok(refusal([a.path, margin.path]).startsWith(`"${margin.path}" has option "margin" 5 but "${a.path}" has none;`));
  assert.ok(refusal([a.path, s3[1].path]).startsWith(`"${s3[1].path}" is shard 1/3 but "${a.path}" is shard 0/2;`));
  assert.ok(refusal([a.path, a.path]).startsWith(`shard 0/2 is given twice ("${a.path}" and "${a.path}")`));
  // a torn shard: its last trial is cut in half
  const text = readFileSync(b.path, 'utf8');
  const lines = text.trimEnd().split('\n');
  const torn = fresh('torn');
  writeFileSync(torn, `${lines.slice(0, -1).join('\n')}\n${lines[lines.length - 1].slice(0, 40)}`);
  const tornMsg = refusal([a.path, torn]);
  assert.ok(tornMsg.includes(`"${torn}" ends in a torn line`), tornMsg);
  assert.ok(tornMsg.includes(`"${torn}" (shard 1/2) lacks 1 of its trials (first: BER 0.001 trial 5)`), tornMsg);
  const tp = mergeRuns([a.path, torn], { partial: true });
  assert.deepEqual(tp.partial, { missingShards: [], missingTrials: [{ ber: 1e-3, count: 1, trials: '5' }] });
  // a header claiming 10^15 trials costs no time: the count is exact, the list stops at 20
  const huge = fresh('huge');
  const h = JSON.parse(lines[0]);
  h.run.trials = 1e15;
  writeFileSync(huge, `${[JSON.stringify(h), ...lines.slice(1)].join('\n')}\n`);
  const t0 = performance.now();
  const hugeMsg = refusal([huge]);
  assert.ok(hugeMsg.startsWith(`The merge is incomplete: shard 0/2 is missing; "${huge}" (shard 1/2) lacks ${2 * (1e15 / 2 - 3)} of its trials (first: BER 0.0001 trial 7)`), hugeMsg);
  const hr = mergeRuns([huge], { partial: true });
  assert.ok(performance.now() - t0 < 2000);
  assert.deepEqual(hr.partial?.missingTrials.map((m) => m.count), [1e15 - 3, 1e15 - 3]);
  assert.equal(hr.partial?.missingTrials[0].trials, '0,2,4,6-22,…');
  // a shard with a hole (a line removed)
  const holed = fresh('holed');
  writeFileSync(holed, `${[...lines.slice(0, 2), ...lines.slice(3)].join('\n')}\n`);
  const hole = JSON.parse(lines[2]);
  assert.ok(refusal([a.path, holed]).startsWith(`The merge is incomplete: "${holed}" (shard 1/2) lacks 1 of its trials (first: BER ${hole.ber} trial ${hole.trial});`));
  // a tampered line in a shard is refused naming file and line, as on resume
  const tampered = fresh('tampered');
  const rec = JSON.parse(lines[1]);
  rec.accuracy = 7;
  writeFileSync(tampered, `${[lines[0], JSON.stringify(rec), ...lines.slice(2)].join('\n')}\n`);
  assert.match(refusal([a.path, tampered]), new RegExp(`^Line 2 of "${tampered.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" has accuracy 7`));
  // a partial merge's output cannot pass as a shard
  const part = fresh('partial');
  mergeRuns([a.path], { partial: true, out: part });
  assert.match(refusal([part, b.path]), /is itself a partial merge/);
});

test('a partial merge is marked in the summary JSON, the CLI table and the report', async () => {
  const { s2 } = await filesP;
  const [a, b] = s2;
  const dir = mkdtempSync(join(root, 'cli-'));
  const out = join(dir, 'merged.jsonl');
  const json = join(dir, 'summary.json');
  const refused = spawnSync(process.execPath, [cli, 'merge', a.path, '--out', out, '--json', json], { encoding: 'utf8' });
  assert.equal(refused.status, 2, refused.stderr);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /shard 1\/2 is missing; .* or pass --partial to merge what is there/);
  assert.ok(!existsSync(out) && !existsSync(json), 'a refused merge writes nothing');
  const mixed = spawnSync(process.execPath, [cli, 'merge', a.path, b.path, b.path], { encoding: 'utf8' });
  assert.equal(mixed.status, 2);
  assert.match(mixed.stderr, /shard 1\/2 is given twice/);
  const r = spawnSync(process.execPath, [cli, 'merge', a.path, '--partial', '--out', out, '--json', json], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /PARTIAL: shard 1\/2 missing; trials missing per BER: BER 0\.0001: 3 \(1,3,5\), BER 0\.001: 3 \(1,3,5\)/);
  const s = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(s.partial, true);
  assert.deepEqual(s.missing.missingShards, ['1/2']);
  assert.deepEqual(s.bers.map((x: { trials: number }) => x.trials), [3, 3]);
  // the report shows a banner for the summary JSON and for the merged record file
  for (const input of [json, out]) {
    const data = buildReportData({ inputs: [input] });
    assert.match(data.campaigns[0].partial ?? '', /^PARTIAL: shard 1\/2 missing/);
    const { html } = reportHtml(data);
    assert.match(html, /<div class="partial" role="alert"><b>Campaign &quot;[^<]+&quot; is a partial merge<\/b>: its statistics leave out missing trials\. PARTIAL: shard 1\/2 missing/);
  }
  // the report holds the runner's record files to the same rules: a forged BER row is refused
  const forged = join(dir, 'forged.jsonl');
  const lines = readFileSync(b.path, 'utf8').trimEnd().split('\n');
  const rec = JSON.parse(lines[2]);
  rec.ber = 0.5;
  writeFileSync(forged, `${[...lines.slice(0, 2), JSON.stringify(rec), ...lines.slice(3)].join('\n')}\n`);
  assert.throws(() => buildReportData({ inputs: [forged] }), (e: unknown) => e instanceof FlipguardError && e.message.startsWith(`Line 3 of "${forged}" has BER 0.5, which is not one of the campaign's BERs`));
  // a complete merge has no banner
  const full = join(dir, 'full.json');
  assert.equal(spawnSync(process.execPath, [cli, 'merge', a.path, b.path, '--json', full], { encoding: 'utf8' }).status, 0);
  assert.equal(JSON.parse(readFileSync(full, 'utf8')).partial, undefined);
  assert.doesNotMatch(reportHtml(buildReportData({ inputs: [full] })).html, /class="partial"/);
});
