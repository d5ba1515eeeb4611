/**
 * One ranking rule and one ratio meaning for every selection by score (analysis/scores.ts): higher
 * first, NaN as −∞, ties to the lower index; a ratio is a share from 0 to 1 inclusive. Pruning and
 * hardening choose the same channels from the same scores, NaN included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildModel } from '../src/models/index.js';
import { checkRatio, computeLayers, globalTop, l1Scores, readScores, topIndices, topK, type Scores } from '../src/analysis/scores.js';
import { harden } from '../src/harden/index.js';
import { pruneChannels } from '../src/prune/index.js';
import { FlipguardError, withFlags } from '../src/errors.js';

test('NaN ranks as −∞ and ties go to the lower index, in topK, topIndices and globalTop alike', () => {
  const s = [Number.NaN, 1, Number.NEGATIVE_INFINITY, 3, Number.NaN, 1, Number.POSITIVE_INFINITY];
  assert.deepEqual(topK(s, 7), [6, 3, 1, 5, 0, 2, 4]);
  for (let k = 0; k <= s.length; k++) {
    assert.deepEqual(topIndices(s, k), topK(s, k).sort((a, b) => a - b), `k = ${k}`);
  }
  // across lists: ties go to the earlier list
  assert.deepEqual(globalTop([[Number.NaN, 2], [Number.NaN, 5, 2]], 3), [[1], [1, 2]]);
  assert.deepEqual(globalTop([[Number.NaN, 2], [Number.NaN, 5, 2]], 4), [[0, 1], [1, 2]]);
});

test('pruning and hardening choose the same channels from scores with NaN', async () => {
  const model = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 });
  const l1 = l1Scores(model);
  const conv1 = computeLayers(model)[0];
  const C = conv1.outChannels;
  assert.ok(C >= 4 && C % 2 === 0);
  // channel 0 would rank first by value; as NaN it ranks last
  const first = l1.layers[0].scores.map((v, i) => (i % 2 === 0 ? Number.NaN : v));
  first[1] = 100;
  const scores: Scores = { ...l1, layers: l1.layers.map((l, i) => (i === 0 ? { ...l, scores: first } : l)) };
  const pruned = pruneChannels(model, { scores, conv: 0.5, fc: 0, layers: [conv1.label] });
  const kept = pruned.removed.find((r) => r.layer === conv1.label)!.kept;
  const hardened = await harden(model, { method: 'tmr-channels', ratio: 0.5, scores, perLayer: true });
  const protectedChannels = (hardened.report.layers.find((l) => l.name === conv1.label) as { indices: number[] }).indices;
  assert.deepEqual(kept, protectedChannels);
  assert.deepEqual(kept, topIndices(first, C / 2));
  assert.ok(kept.includes(1) && !kept.includes(0));

  // a NaN score survives the scores file (JSON writes it as null) and ranks the same after reading
  const dir = mkdtempSync(path.join(tmpdir(), 'flipguard-ranking-'));
  try {
    const file = path.join(dir, 'scores.json');
    writeFileSync(file, JSON.stringify(scores));
    const back = readScores(file);
    assert.ok(Number.isNaN(back.layers[0].scores[0]));
    assert.deepEqual(pruneChannels(model, { scores: back, conv: 0.5, fc: 0, layers: [conv1.label] }).removed, pruned.removed);
    writeFileSync(file, JSON.stringify({ ...scores, layers: [{ ...scores.layers[0], scores: ['1'] }] }));
    assert.throws(() => readScores(file), (e: Error) => e instanceof FlipguardError && /Score 0 of layer .* not a number/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ratio is a share from 0 to 1 inclusive for hardening and pruning alike', async () => {
  for (const v of [0, 0.15, 1]) assert.equal(checkRatio(v, 'ratio'), v);
  for (const v of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '0.5', undefined]) {
    assert.throws(() => checkRatio(v, 'ratio'), (e: Error) => e instanceof FlipguardError && e.message === `The option "ratio" must be a share from 0 to 1 inclusive (e.g. 0.15 for 15%), got ${String(v)}.`);
  }
  assert.equal(withFlags('The option "conv" must be a share from 0 to 1 inclusive (e.g. 0.15 for 15%), got 2.'), '--conv must be a share from 0 to 1 inclusive (e.g. 0.15 for 15%), got 2.');
  const model = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 0.5 });
  const scores = l1Scores(model);
  await assert.rejects(harden(model, { method: 'tmr-channels', ratio: 1.5, scores }), /option "ratio" must be a share from 0 to 1 inclusive/);
  assert.throws(() => pruneChannels(model, { scores, conv: 1.5, fc: 0 }), /option "conv" must be a share from 0 to 1 inclusive/);
  // ratio 1: hardening protects every channel, pruning removes all but minKeep per layer
  const all = await harden(model, { method: 'tmr-channels', ratio: 1, scores });
  assert.equal(all.report.totals.protected, all.report.totals.units);
  const pr = pruneChannels(model, { scores, conv: 1, fc: 0, minKeep: 2 });
  for (const r of pr.removed.filter((x) => x.kind === 'conv')) assert.equal(r.kept.length, 2);
});
