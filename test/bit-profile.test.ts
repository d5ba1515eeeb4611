/**
 * Bit-position profile (issue 17): exact flips at one bit position per trial, seeded and
 * replayable; the drop of a cell equals the replay of its faults; the CLI prints and writes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, subset } from '../src/data/index.js';
import { readModel } from '../src/graph/onnx.js';
import { bitProfile, bitProfileFaults } from '../src/analysis/index.js';
import { evaluateFaultList } from '../src/campaign/replay.js';
import { FlipguardError } from '../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const modelPath = join(here, '..', '..', 'models', 'lenet5-mnist.onnx');
const model = readModel(modelPath);
const testSet = loadDataset({ data: 'mnist', split: 'test' });
const data = subset(testSet, Array.from({ length: 200 }, (_, i) => (i * 41) % testSet.count));

test('bit profile: k exact flips at the profiled position, same seed same numbers, each cell replays', async () => {
  const opts = { data, bits: '30,22,0', trials: 2, faults: 3, seed: 5 };
  const p = await bitProfile(model, opts);
  assert.deepEqual(p.rows.map((r) => r.bit), [0, 22, 30]);
  for (const r of p.rows) {
    for (let t = 0; t < 2; t++) {
      const f = bitProfileFaults(model, opts, r.bit, t);
      assert.equal(f.length, 3);
      assert.ok(f.every((x) => x.bit === r.bit && x.kind === 'flip'));
      assert.equal(new Set(f.map((x) => `${x.tensor}:${x.index}`)).size, 3, 'distinct weights');
    }
  }
  // the mean drop of a position is the mean of its trials' replays
  const r30 = p.rows.find((r) => r.bit === 30)!;
  let sum = 0;
  for (let t = 0; t < 2; t++) sum += (await evaluateFaultList(model, data, { weights: bitProfileFaults(model, opts, 30, t), neurons: [] })).accuracyDrop;
  assert.ok(Math.abs(r30.drop - sum / 2) < 1e-9, `${r30.drop} vs ${sum / 2}`);
  assert.ok(r30.ci95[0] <= r30.drop && r30.drop <= r30.ci95[1]);
  assert.deepEqual(await bitProfile(model, opts), p, 'deterministic from the seed');
  const other = bitProfileFaults(model, { ...opts, seed: 6 }, 30, 0);
  assert.notDeepEqual(other, bitProfileFaults(model, opts, 30, 0), 'another seed, other weights');
  await assert.rejects(bitProfile(model, { data, faults: 0 }), FlipguardError);
});

test('rank --compare --compare-unit bit prints the profile and writes it as JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bits-'));
  const json = join(dir, 'bits.json');
  const cli = join(here, '..', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'rank', modelPath, '--data', 'mnist', '--compare', '--compare-unit', 'bit', '--bits', '29-31', '--trials', '2', '--eval-limit', '100', '--json', json, '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /accuracy drop per bit position/);
  assert.match(r.stdout, /^ *30 +exponent/m);
  const j = JSON.parse(readFileSync(json, 'utf8'));
  assert.deepEqual(j.rows.map((x: { bit: number }) => x.bit), [29, 30, 31]);
  const bad = spawnSync(process.execPath, [cli, 'rank', modelPath, '--data', 'mnist', '--compare', '--compare-unit', 'bit', '--methods', 'l1'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--methods does not apply to --compare-unit bit/);
});
