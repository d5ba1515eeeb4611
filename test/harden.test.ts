/**
 * Fault-free equivalence of every hardening transform on every zoo architecture (MNIST size,
 * width 0.25, random init), on 64 real MNIST test images.
 *
 * What is asserted (see src/harden/index.ts for why):
 * - channel methods (edac, edac-nointervals, ranger, tmr-channels, tmr-neurons): logits bit-equal
 *   to the original's with onnxruntime graph optimisations disabled (intervals profiled on the same
 *   images, so every value is inside its interval);
 * - tmr-weights: logits bit-equal at the default optimisation level (the vote is constant-folded
 *   into the weight);
 * - every method at the default level: same top-1 and logits within 1e-5 of the largest |logit|
 *   (the original model gets Conv+BatchNorm fusion the hardened one cannot have); intervals widened
 *   by a 1e-3 margin there, since fusion moves values by a few ulps, also at an interval's edge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, ARCHS } from '../src/models/index.js';
import { loadDataset, subset } from '../src/data/index.js';
import { modelFingerprint } from '../src/faults/fingerprint.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import type { Predictions } from '../src/runtime/evaluate.js';
import { harden, profileIntervals, hardenedInfo, HARDEN_METHODS } from '../src/harden/index.js';
import { countDiffs, logitsOf, scoresFor } from './helpers/harden.js';
import type { Model } from '../src/graph/types.js';

const test64 = (() => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: 64 }, (_, i) => (i * 31) % all.count));
})();

async function logits(model: Model, opts: RuntimeOptions): Promise<Predictions> {
  return logitsOf(model, test64, opts);
}

for (const arch of ARCHS) {
  test(`fault-free equivalence of every hardening method on ${arch}`, async () => {
    const model = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 3 });
    const fp = modelFingerprint(model);
    const exact: RuntimeOptions = { optimization: 'disabled' };
    const intervals = await profileIntervals(model, test64, exact);
    const refExact = await logits(model, exact);
    const refAll = await logits(model, {});
    const maxAbs = refAll.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const method of HARDEN_METHODS) {
      const scores = scoresFor(method, model);
      const ratio = method === 'ranger' ? 0 : 0.25;
      const { model: hm, report } = await harden(model, { method, ratio, scores, intervals });
      assert.equal(hardenedInfo(hm)?.method, method);
      assert.ok(report.totals.protected > 0 || method === 'ranger', `${method} protects something`);
      assert.ok(hm.graph.nodes.every((n) => n.domain === ''), 'default-domain ops only');
      if (method === 'tmr-weights' || method === 'tmr-bits') {
        const p = await logits(hm, {});
        assert.equal(countDiffs(p.logits, refAll.logits), 0, `${arch} ${method}: logits bit-equal (default optimisation)`);
      } else {
        const p = await logits(hm, exact);
        assert.equal(countDiffs(p.logits, refExact.logits), 0, `${arch} ${method}: logits bit-equal (optimisation disabled)`);
        // default optimisation level: rounding-level agreement (intervals given a small margin)
        const loose = method === 'edac' || method === 'ranger'
          ? (await harden(model, { method, ratio, scores, intervals, margin: 1e-3 })).model : hm;
        const q = await logits(loose, {});
        for (let i = 0; i < q.logits.length; i++) {
          assert.ok(Math.abs(q.logits[i] - refAll.logits[i]) <= 1e-5 * maxAbs, `${arch} ${method}: logit ${i} ${q.logits[i]} vs ${refAll.logits[i]}`);
        }
        assert.deepEqual(Array.from(q.top1), Array.from(refAll.top1), `${arch} ${method}: same top-1`);
      }
    }
    assert.equal(modelFingerprint(model), fp, 'the input model is not mutated');
  });
}
