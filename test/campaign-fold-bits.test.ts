/**
 * The foldBits campaign shortcut (campaign/fold-bits.ts): a tmr-bits model's campaign votes the
 * stored copies itself and swaps the voted weights into one folded graph. Records must be
 * bit-identical to the slow path (a session per trial that folds the vote), outvoted faults must
 * change nothing, and a model whose metadata does not describe its graph must run unfolded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../src/models/index.js';
import { loadDataset, subset } from '../src/data/index.js';
import { magnitudeScores } from '../src/analysis/scores.js';
import { runCampaign } from '../src/campaign/index.js';
import { TrialEngine } from '../src/campaign/engine.js';
import { cleanParameters, injectFaults } from '../src/faults/inject.js';
import { listParameters } from '../src/faults/params.js';
import { harden, hardenedInfo, HARDENED_KEY } from '../src/harden/index.js';
import { withMetadata, type Model } from '../src/graph/types.js';
import { profileIntervals } from '../src/harden/profile.js';

const testSet = loadDataset({ data: 'mnist', split: 'test' });
const data = subset(testSet, Array.from({ length: 96 }, (_, i) => (i * 37) % testSet.count));
const train = subset(loadDataset({ data: 'mnist', split: 'train' }), 256);
const lenet = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 1, seed: 3 });

const strip = (rs: { millis: number }[]) => rs.map(({ millis: _m, ...r }) => r);

async function models(): Promise<[string, Model][]> {
  const every = (await harden(lenet, { method: 'tmr-bits', bits: [30] })).model;
  const top = (await harden(lenet, { method: 'tmr-bits', bits: [31, 30, 29], ratio: 0.1, scores: magnitudeScores(lenet) })).model;
  const intervals = await profileIntervals(lenet, train, {});
  const ranger = (await harden(lenet, { method: 'ranger', ratio: 0, intervals })).model;
  const both = (await harden(ranger, { method: 'tmr-bits', bits: [31, 30] })).model;
  return [['every weight, bit 30', every], ['top 10%, bits 31,30,29', top], ['ranger + tmr-bits 31,30', both]];
}

test('foldBits: campaign records on tmr-bits models are identical to the slow path (seeded, binomial and floor)', async () => {
  for (const [label, model] of await models()) {
    for (const count of ['binomial', 'floor'] as const) {
      const o = { model, data, bers: [1e-4, 1e-3], trials: 3, seed: 11, count };
      const fast = await runCampaign(o);
      const slow = await runCampaign({ ...o, shortcuts: { foldBits: false } });
      assert.deepEqual(strip(fast.records), strip(slow.records), `${label}, ${count}`);
      assert.deepEqual(fast.golden, slow.golden);
      assert.ok(fast.records.some((r) => r.sdcRate > 0), `${label}: some trial must change predictions, or the comparison proves little`);
    }
  }
  // parameters fed as session inputs: the voted weights are the swapped inputs
  const [, model] = (await models())[1];
  const o = { model, data, bers: [1e-3], trials: 3, seed: 4, swap: 'feed' as const };
  assert.deepEqual(strip((await runCampaign(o)).records), strip((await runCampaign({ ...o, shortcuts: { foldBits: false } })).records));
});

test('foldBits: one corrupted copy of a protected bit changes no voted weight; two copies do', async () => {
  const model = (await models())[0][1];
  const engine = await TrialEngine.create(model, data, listParameters(model), {});
  try {
    assert.equal(engine.foldedBits, true);
    const t = hardenedInfo(model)!.bits![0];
    const clean = cleanParameters(model);
    const at = 7;
    const one = injectFaults(clean, [{ tensor: t.words, index: at, bit: 30, kind: 'flip' }]);
    const o1 = await engine.evaluate(one.tensors, one.changed);
    assert.equal(o1.path, 'golden', 'an outvoted flip needs no run');
    const two = injectFaults(clean, [{ tensor: t.words, index: at, bit: 30, kind: 'flip' }, { tensor: t.planes[0], index: at >> 5, bit: at & 31, kind: 'flip' }]);
    const o2 = await engine.evaluate(two.tensors, two.changed);
    assert.notEqual(o2.path, 'golden');
  } finally {
    await engine.release();
  }
});

test('foldBits: a model whose tmr-bits metadata does not match its graph is run unfolded, with the same records', async () => {
  const model = (await models())[0][1];
  const info = hardenedInfo(model)!;
  // the metadata claims bit 29 is voted, the graph votes bit 30
  const forged = withMetadata(model, HARDENED_KEY, JSON.stringify({ ...info, bits: info.bits!.map((t) => ({ ...t, bits: [29] })) }));
  const engine = await TrialEngine.create(forged, data, listParameters(forged), {});
  try {
    assert.equal(engine.foldedBits, false);
  } finally {
    await engine.release();
  }
  // malformed entries (hostile metadata) are ignored, not a crash
  const junk = withMetadata(model, HARDENED_KEY, JSON.stringify({ ...info, bits: [null, { words: 5 }, { ...info.bits![0], planes: 'x' }], stages: [null] }));
  const e2 = await TrialEngine.create(junk, data, listParameters(junk), {});
  try {
    assert.equal(e2.foldedBits, false);
  } finally {
    await e2.release();
  }
  const o = { model: forged, data, bers: [1e-3], trials: 2, seed: 5 };
  assert.deepEqual(strip((await runCampaign(o)).records), strip((await runCampaign({ ...o, shortcuts: { foldBits: false } })).records));
});

test('foldBits on float16, bfloat16 and int8 (QDQ) tmr-bits models: engaged, and records identical to the slow path', async () => {
  const { convertModel, quantizeModel } = await import('../src/formats/index.js');
  const int8 = (await quantizeModel(lenet, train, { threads: 1 })).model;
  const f16 = convertModel(lenet, 'float16').model;
  const cases: [string, Model][] = [
    ['float16, default bit', (await harden(f16, { method: 'tmr-bits' })).model],
    // a protected mantissa bit: a stored NaN word is voted as the graph reads it (the canonical quiet NaN), or the self-check fails
    ['float16, bits 14,9,0 of the top 30%', (await harden(f16, { method: 'tmr-bits', bits: [14, 9, 0], ratio: 0.3, scores: magnitudeScores(lenet) })).model],
    ['bfloat16, bits 14,6', (await harden(convertModel(lenet, 'bfloat16').model, { method: 'tmr-bits', bits: [14, 6] })).model],
    ['int8, default bit', (await harden(int8, { method: 'tmr-bits' })).model],
    ['int8, bits 7,6 of the top 30%', (await harden(int8, { method: 'tmr-bits', bits: [7, 6], ratio: 0.3, scores: magnitudeScores(lenet) })).model],
  ];
  for (const [label, model] of cases) {
    const engine = await TrialEngine.create(model, data, listParameters(model), {});
    try {
      assert.equal(engine.foldedBits, true, `${label}: the shortcut must engage`);
    } finally {
      await engine.release();
    }
    // int8 words outside the protected bits move a weight by at most 64 steps: a higher rate is needed to change predictions
    const o = { model, data, bers: label.startsWith('int8') ? [1e-2, 1e-1] : [1e-3, 1e-2], trials: 3, seed: 11 };
    const fast = await runCampaign(o);
    const slow = await runCampaign({ ...o, shortcuts: { foldBits: false } });
    assert.deepEqual(strip(fast.records), strip(slow.records), label);
    assert.deepEqual(fast.golden, slow.golden, label);
    assert.ok(fast.records.some((r) => r.sdcRate > 0), `${label}: some trial must change predictions, or the comparison proves little`);
    // parameters fed as session inputs: voted float32 values or int8 integers are the swapped inputs
    if (label.endsWith('default bit')) {
      const f = { ...o, bers: o.bers.slice(1), swap: 'feed' as const };
      assert.deepEqual(strip((await runCampaign(f)).records), strip((await runCampaign({ ...f, shortcuts: { foldBits: false } })).records), `${label}, feed`);
    }
  }
});
