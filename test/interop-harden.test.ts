/**
 * Hardening on real exporter output (issue 13.2, 13.4): every method on each of the six torchvision
 * exports in shared/interop, checked by validateHardened on the fixture's 4 images — shapes infer,
 * onnxruntime runs the model, and the fault-free promise holds: bit-identical logits for
 * edac-nointervals, tmr-channels, tmr-neurons, and for edac and ranger with intervals profiled on
 * the same images (optimisation disabled); for tmr-weights at the default optimisation level, where
 * the vote folds into the weight before onnxruntime's Conv+BatchNorm fusion (see hardenFidelity).
 * Small ratios keep the suite's time modest (these models have 0.5–6.6 M parameters).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harden, HARDEN_METHODS, validateHardened, hardenFidelity, type HardenMethod } from '../src/harden/index.js';
import { FIXTURES, fixture } from './helpers/interop.js';
import { countDiffs, logitsOf, randomImages, scoresFor } from './helpers/harden.js';
import { convertModel } from '../src/formats/index.js';
import { countHardened } from '../src/harden/overhead.js';
import { countModel } from '../src/graph/count.js';

const RATIO: Record<HardenMethod, number> = { edac: 0.1, 'edac-nointervals': 0.1, ranger: 0, 'tmr-channels': 0.1, 'tmr-weights': 0.001, 'tmr-neurons': 0.01, 'tmr-bits': 0.01 };

for (const name of FIXTURES) {
  test(`${name}: every hardening method builds a valid model that keeps the outputs`, async () => {
    const f = fixture(name);
    for (const method of HARDEN_METHODS) {
      const r = await harden(f.model, { method, ratio: RATIO[method], scores: scoresFor(method, f.model), data: f.data, runtime: { optimization: 'disabled' } });
      assert.ok(r.report.totals.protected > 0 || method === 'ranger', `${name} ${method}: protects something`);
      const v = await validateHardened(f.model, r, f.data);
      assert.equal(v.fidelity, hardenFidelity(method, r.report.intervals).fidelity);
      assert.equal(v.fidelity, 'bitwise', `${name} ${method}: checked bit for bit`);
      assert.equal(v.sameTop1, 4, `${name} ${method}: same top-1`);
      assert.equal(v.maxAbsDiff, 0, `${name} ${method}: bit-identical logits`);
    }
  });
}

// Range checks behind the batch norm on PyTorch's batch norms (random statistics, negative scales,
// shifts that cancel s·L + t to ≈ 0): the bounds' rounding slack follows the size of the batch
// norm's terms, so no value of the profiled images crosses a mapped bound.
for (const name of FIXTURES) {
  test(`${name}: ranger behind batch norm (and activation) keeps the logits bit for bit in zeroing and saturating mode`, async () => {
    const f = fixture(name);
    for (const placement of ['after-bn', 'after-act'] as const) {
      for (const rangeMode of ['zero', 'saturate'] as const) {
        const r = await harden(f.model, { method: 'ranger', placement, rangeMode, data: f.data, runtime: { optimization: 'disabled' } });
        const v = await validateHardened(f.model, r, f.data);
        assert.equal(v.maxAbsDiff, 0, `${name} ${placement} ${rangeMode}: bit-identical logits`);
      }
    }
  });
}

// EDAC and the voter behind the widened batch norm (+ ReLU) on the same exports: the copies' own
// batch-norm parameters and the carried intervals keep the logits bit for bit.
for (const name of FIXTURES) {
  test(`${name}: edac and tmr-channels behind batch norm (and activation) keep the logits bit for bit`, async () => {
    const f = fixture(name);
    for (const method of ['edac', 'tmr-channels'] as const) {
      for (const placement of ['after-bn', 'after-act'] as const) {
        const r = await harden(f.model, { method, ratio: RATIO[method], placement, scores: scoresFor(method, f.model), data: f.data, runtime: { optimization: 'disabled' } });
        const v = await validateHardened(f.model, r, f.data);
        assert.equal(v.maxAbsDiff, 0, `${name} ${method} ${placement}: bit-identical logits`);
      }
    }
  });
}

// float16 (issue 15): the stage methods on each export converted to float16, natively (the whole graph
// in float16, onnxruntime computing most of it in float32 between its own Casts) and as float16 words
// read through Cast, keep the logits bit for bit on 16 random images (validateHardened checks 4). What
// broke it: a float32 → float16 → float32 round trip between two of flipguard's Casts (onnxruntime
// removes only those where one Cast is its own), widened dense layers whose computed weight makes
// onnxruntime's product block the sums by the output count, and stage Casts next to a node it would
// otherwise compute in float32.
for (const name of FIXTURES) {
  test(`${name}: float16, native and through Cast: the stage methods keep the logits bit for bit`, async () => {
    const f = fixture(name);
    const data = randomImages([3, 32, 32], 16, 9);
    for (const native of [true, false]) {
      const model = convertModel(f.model, 'float16', { native }).model;
      for (const method of ['edac', 'edac-nointervals', 'ranger', 'tmr-channels', 'tmr-neurons'] as const) {
        const label = `${name} ${native ? 'native' : 'through Cast'} ${method}`;
        const r = await harden(model, { method, ratio: RATIO[method], scores: scoresFor(method, f.model), data });
        const v = await validateHardened(model, r, data);
        assert.equal(v.fidelity, 'bitwise', label);
        const { runtime } = hardenFidelity(method, r.report.intervals);
        assert.equal(countDiffs((await logitsOf(r.model, data, runtime)).logits, (await logitsOf(model, data, runtime)).logits), 0, `${label}: bit-identical logits`);
        assert.ok(countHardened(r.model).macs >= countModel(model).macs, `${label}: the overhead table counts it`);
      }
    }
  });
}
