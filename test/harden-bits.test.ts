/**
 * tmr-bits (critical-bit TMR, issue 17): fault-free logits bit-identical to the original's, one
 * corrupted copy of a protected bit outvoted and two not (explicit fault lists through the
 * campaign's injection path), memory accounting, and the stored words and planes as fault targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../src/models/index.js';
import { loadDataset, subset } from '../src/data/index.js';
import { magnitudeScores } from '../src/analysis/scores.js';
import type { Model } from '../src/graph/types.js';
import { cleanParameters, injectFaults } from '../src/faults/inject.js';
import { listParameters } from '../src/faults/params.js';
import { planFaults, type WeightFault } from '../src/faults/plan.js';

import { PatchableModel } from '../src/runtime/patch.js';
import { predict, type Predictions } from '../src/runtime/evaluate.js';
import { FlipguardError } from '../src/errors.js';
import { harden, overheads, type BitTriple } from '../src/harden/index.js';
import { logitsOf, countDiffs, voteBits } from './helpers/harden.js';
import { modelInfo } from '../src/graph/info.js';
import { storedWordTensors } from '../src/harden/common.js';

const testSet = loadDataset({ data: 'mnist', split: 'test' });
const data = subset(testSet, Array.from({ length: 64 }, (_, i) => (i * 37) % testSet.count));
const base = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 1, seed: 3 });

/** `model` with weight `name`[at] set to `value` (a weight in ±[1, 2): one bit-30 flip makes it a NaN). */
function withWeight(model: Model, name: string, at: number, value: number): Model {
  const t = model.graph.initializers.get(name)!;
  const d = new Float32Array(t.data as Float32Array);
  d[at] = value;
  const initializers = new Map(model.graph.initializers);
  initializers.set(name, { ...t, data: d });
  return { ...model, graph: { ...model.graph, initializers } };
}
const lenet = withWeight(base, 'conv2.weight', 40, -1.625);

/** Logits of `model` with `faults` injected the way campaigns do (stored bytes patched, session from them). */
async function faulted(model: Model, faults: WeightFault[]): Promise<Predictions> {
  const { tensors } = injectFaults(cleanParameters(model), faults);
  return new PatchableModel(model).withFaults([], {}, (r) => predict(r, data, { batch: data.count }), tensors);
}
const flip = (tensor: string, index: number, bit: number): WeightFault => ({ tensor, index, bit, kind: 'flip' });

/** Position of protected weight `at` in its planes (j) and the plane row of `bit`. */
function planeBit(model: Model, t: BitTriple, at: number, bit: number): number {
  const j = t.index ? Array.from(model.graph.initializers.get(t.index)!.data as Int32Array).indexOf(at) : at;
  assert.ok(j >= 0, `weight ${at} is protected`);
  return t.bits.indexOf(bit) * Math.ceil(t.protected / 32) * 32 + j;
}

for (const [label, opts] of [
  ['every weight, bit 30', { bits: [30] }],
  ['top 10% by magnitude, bits 31,30,29', { bits: [31, 30, 29], ratio: 0.1, scores: magnitudeScores(lenet) }],
] as const) {
  test(`tmr-bits (${label}): bit-identical without faults; one corrupted copy outvoted, two not`, async () => {
    const { model: hm, report } = await harden(lenet, { method: 'tmr-bits', ...opts });
    const original = await logitsOf(lenet, data, {});
    const clean = await logitsOf(hm, data, {});
    assert.equal(countDiffs(clean.logits, original.logits), 0, 'fault-free logits bit for bit');
    const t = report.bits!.find((x) => x.weight === 'conv2.weight')!;
    assert.ok(!hm.graph.initializers.has('conv2.weight'), 'the float weight is replaced by its words');
    const at = 40; // protected in both settings (|w| = 1.625 is the largest weight)
    const pb = planeBit(hm, t, at, 30);
    const sameAsClean = async (faults: WeightFault[]): Promise<void> => {
      assert.equal(countDiffs((await faulted(hm, faults)).logits, clean.logits), 0, JSON.stringify(faults));
    };
    // one copy corrupted (the word — a NaN after the flip — or either plane): outvoted exactly
    await sameAsClean([flip(t.words, at, 30)]);
    await sameAsClean([flip(t.planes[0], pb >> 5, pb & 31)]);
    await sameAsClean([flip(t.planes[1], pb >> 5, pb & 31)]);
    // two copies of one bit corrupted: the flip wins, exactly as in the unprotected model (at a
    // weight in (0, 1); at `at` the flip makes a NaN, whose payload the graph does not keep)
    const w0 = lenet.graph.initializers.get('conv2.weight')!.data as Float32Array;
    const prot = t.index ? Array.from(hm.graph.initializers.get(t.index)!.data as Int32Array) : Array.from(w0.keys());
    const at2 = prot.find((i) => i !== at && Math.abs(w0[i]) > 0.01 && Math.abs(w0[i]) < 1)!;
    const pb2 = planeBit(hm, t, at2, 30);
    const unprotected = await faulted(lenet, [flip('conv2.weight', at2, 30)]);
    const two = await faulted(hm, [flip(t.words, at2, 30), flip(t.planes[1], pb2 >> 5, pb2 & 31)]);
    assert.equal(countDiffs(two.logits, unprotected.logits), 0, 'two copies: same logits as the faulted original');
    assert.ok(countDiffs(two.logits, clean.logits) > 0, 'two copies: the flip changes the logits');
    const twoNaN = await faulted(hm, [flip(t.words, at, 30), flip(t.planes[0], pb >> 5, pb & 31)]);
    assert.ok(twoNaN.logits.some((v) => Number.isNaN(v)), 'two copies of the NaN-making flip: NaN logits');
    // a bit that is not protected acts as in the original model
    const low = await faulted(hm, [flip(t.words, at, 22)]);
    assert.equal(countDiffs(low.logits, (await faulted(lenet, [flip('conv2.weight', at, 22)])).logits), 0);
    // the JavaScript vote agrees with the graph's
    const { tensors } = injectFaults(cleanParameters(hm), [flip(t.words, at, 30), flip(t.planes[0], (pb + 1) >> 5, (pb + 1) & 31)]);
    const w = voteBits(hm, tensors).get('conv2.weight')!;
    assert.equal(countDiffs(w, lenet.graph.initializers.get('conv2.weight')!.data as Float32Array), 0);

    // memory: 2 extra bits per protected bit per protected weight (planes padded to 32-bit words)
    const k = opts.bits.length;
    const params = listParameters(lenet).reduce((s, p) => s + p.numel, 0);
    const padded = report.bits!.reduce((s, b) => s + 2 * k * Math.ceil(b.protected / 32) * 32, 0);
    assert.equal(report.addedBits, padded);
    assert.ok(padded >= 2 * k * report.totals.protected && padded < 2 * k * (report.totals.protected + 32 * report.bits!.length));
    assert.ok(Math.abs(report.memoryOverhead - padded / (32 * params)) < 1e-12);
    const ov = await overheads(lenet, hm, data, { runs: 1 });
    assert.ok(Math.abs(ov.parameters.ratio - (1 + padded / 32 / params)) < 1e-12, 'stored words and planes count as parameters');
    // `flipguard info` counts the same: the int32 words are the weights, the planes are added
    const info = modelInfo(hm, storedWordTensors(hm));
    assert.equal(info.parameters, params + padded / 32);
    assert.equal(info.layers.reduce((s, l) => s + l.parameters, 0), info.parameters, 'every stored word belongs to a layer');
  });
}

test('tmr-bits words and planes are fault targets of campaigns, role weight', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-bits', bits: [30, 29] });
  const targets = listParameters(hm);
  for (const t of report.bits!) {
    for (const n of [t.words, ...t.planes]) {
      const p = targets.find((x) => x.name === n);
      assert.ok(p, `${n} is a target`);
      assert.equal(p.role, 'weight');
      assert.equal(p.live, true);
    }
  }
  // every stored bit counts: the targets hold the original's bits plus the planes
  const bits = (m: Model): number => listParameters(m).reduce((s, p) => s + p.numel * 32, 0);
  assert.equal(bits(hm), bits(lenet) + report.addedBits!);
  const plan = planFaults(hm, { ber: 1e-3, seed: 4 });
  assert.ok(plan.faults.some((f) => f.tensor.includes('.tmrbits.plane')), 'a plan at BER 1e-3 hits some plane');
  assert.deepEqual(planFaults(hm, { ber: 1e-3, seed: 4 }).faults, plan.faults, 'same seed, same faults');
});

test('tmr-bits rejects bad bit lists with a sentence naming the option', async () => {
  for (const bits of [[], [32], [30, 30], [-1]]) {
    await assert.rejects(harden(lenet, { method: 'tmr-bits', bits }), (e: Error) => e instanceof FlipguardError && /bits/.test(e.message));
  }
  await assert.rejects(harden(lenet, { method: 'tmr-bits', ratio: 0.2 }), /scores/);
});


