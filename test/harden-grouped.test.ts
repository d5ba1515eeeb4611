/**
 * Hardening on the channel structures of real exported CNNs (test/helpers/blocks.ts): depthwise
 * and grouped convs, fire modules, inception and DenseNet concatenations, with random non-trivial
 * batch norm. For every block × method: the transform builds a graph onnxruntime runs, and its
 * fault-free logits are bit-identical to the original's (optimisation disabled for the channel
 * methods, whose stage sits between conv and batch norm; default level for tmr-weights, whose vote
 * is constant-folded; intervals profiled on the same images, so no value is clipped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harden, profileIntervals, HARDEN_METHODS, countHardened } from '../src/harden/index.js';
import { countModel } from '../src/graph/count.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import { BLOCKS, BLOCK_INPUT, blockModel } from './helpers/blocks.js';
import { countDiffs, logitsOf, randomImages, scoresFor } from './helpers/harden.js';

const images = randomImages(BLOCK_INPUT, 4);

for (const block of BLOCKS) {
  test(`every hardening method keeps ${block} block outputs bit-identical`, async () => {
    const model = blockModel(block);
    const exact: RuntimeOptions = { optimization: 'disabled' };
    const intervals = await profileIntervals(model, images, exact);
    const refExact = await logitsOf(model, images, exact);
    const refAll = await logitsOf(model, images, {});
    const base = countModel(model);
    for (const method of HARDEN_METHODS) {
      const ratio = method === 'ranger' ? 0 : 0.5;
      const folded = method === 'tmr-weights' || method === 'tmr-bits'; // the vote folds into the stored weight at the default level
      const { model: hm, report } = await harden(model, { method, ratio, scores: scoresFor(method, model), intervals });
      assert.ok(report.totals.protected > 0 || method === 'ranger', `${block} ${method}: protects something`);
      const p = await logitsOf(hm, images, folded ? {} : exact);
      assert.equal(countDiffs(p.logits, folded ? refAll.logits : refExact.logits), 0, `${block} ${method}: logits bit-identical`);
      const c = countHardened(hm);
      if (method === 'ranger' || folded) assert.equal(c.macs, base.macs, `${block} ${method}: no extra MACs`);
      else assert.ok(c.macs > base.macs, `${block} ${method}: copies are counted (${c.macs} vs ${base.macs})`);
      if (method === 'tmr-neurons') assert.equal(c.macs - base.macs, report.replicaMacs!.graph, `${block}: replica MACs as reported`);
    }
  });
}
