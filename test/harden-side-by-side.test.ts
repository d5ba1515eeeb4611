/**
 * Protected channels side by side (issue 14, side-by-side.ts): channel methods with `sideBySide`
 * reorder each layer's channels so its protected ones are the last k, and the stage works on
 * contiguous slices. Asserted: the reordered model is the original with permuted channels (bit for
 * bit the same as the original reordered by permuteChannels, same top-1 and rounding-close to the
 * original), the stages need no Gather for reordered layers, layers that cannot be reordered keep
 * the Gather stage, and misuse is refused with the option named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { rank } from '../src/analysis/index.js';
import { ModelRunner, type RuntimeOptions } from '../src/runtime/session.js';
import { predict, type Predictions, type ImageSet } from '../src/runtime/evaluate.js';
import { harden, validateHardened, type HardenMethod } from '../src/harden/index.js';
import { permuteChannels } from '../src/prune/structured.js';
import type { Model } from '../src/graph/types.js';
import { fixture } from './helpers/interop.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exact: RuntimeOptions = { optimization: 'disabled' };
const data = (() => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: 32 }, (_, i) => (i * 37) % all.count));
})();

async function logits(model: Model, images: ImageSet): Promise<Predictions> {
  const r = await ModelRunner.create(model, exact);
  try {
    return await predict(r, images, { batch: 32 });
  } finally {
    await r.release();
  }
}

const gathers = (m: Model): number => m.graph.nodes.filter((n) => n.opType === 'Gather').length;

for (const name of ['vgg11-mnist', 'resnet20-mnist']) {
  test(`${name}: side by side is the original with reordered channels, fault-free bit for bit`, async () => {
    const model = readModel(resolve(repoRoot, 'models', `${name}.onnx`));
    const scores = await rank(model, { method: 'random', unit: 'channel', seed: 1 });
    const ref = await logits(model, data);
    for (const method of ['edac', 'edac-nointervals', 'tmr-channels'] as HardenMethod[]) {
      const plain = await harden(model, { method, ratio: 0.15, scores, data, runtime: exact });
      const r = await harden(model, { method, ratio: 0.15, scores, data, runtime: exact, sideBySide: true });
      const orders = r.report.reordered ?? {};
      // vgg: every hidden layer; resnet: the blocks' first convs (the others meet in residual Adds)
      assert.ok(Object.keys(orders).length >= (name === 'vgg11-mnist' ? 8 : 9), `${method}: layers reordered: ${Object.keys(orders).length}`);
      // the report keeps the original channel numbering; each order puts those channels last
      for (const l of r.report.layers) {
        const o = orders[l.name];
        if (!o || !('indices' in l)) continue;
        assert.deepEqual(o.slice(o.length - l.protected), l.indices, `${method} ${l.name}: protected channels last`);
      }
      assert.deepEqual(r.report.layers.map((l) => l.protected), plain.report.layers.map((l) => l.protected));
      assert.ok(gathers(r.model) < gathers(plain.model) - Object.keys(orders).length, `${method}: fewer Gathers (${gathers(r.model)} vs ${gathers(plain.model)})`);
      const reordered = permuteChannels(model, new Map(Object.entries(orders))).model;
      const [a, b] = [await logits(r.model, data), await logits(reordered, data)];
      assert.deepEqual(Array.from(a.logits), Array.from(b.logits), `${method}: bit-equal to the reordered original`);
      assert.deepEqual(Array.from(a.top1), Array.from(ref.top1), `${method}: same top-1 as the original`);
      const scale = ref.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(a.logits.every((v, i) => Math.abs(v - ref.logits[i]) <= 1e-5 * scale), `${method}: logits agree with the original to rounding`);
      const v = await validateHardened(model, r, data);
      assert.deepEqual([v.fidelity, v.sameTop1], ['top1', 4], `${method}: validated (first 4 images)`);
    }
  });
}

test('googlenet (PyTorch export): side by side builds a valid model with the original top-1', async () => {
  const f = fixture('googlenet');
  const scores = await rank(f.model, { method: 'random', unit: 'channel', seed: 1 });
  const r = await harden(f.model, { method: 'edac', ratio: 0.1, scores, data: f.data, runtime: exact, sideBySide: true });
  assert.ok(Object.keys(r.report.reordered ?? {}).length > 0);
  const v = await validateHardened(f.model, r, f.data);
  assert.equal(v.fidelity, 'top1');
  assert.equal(v.sameTop1, 4);
});

test('side by side: refused for methods without channel copies, with the option named; a bad order is refused', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'lenet5-mnist.onnx'));
  await assert.rejects(harden(model, { method: 'ranger', data, sideBySide: true }), /option "sideBySide" applies to edac, edac-nointervals and tmr-channels/);
  const layer = model.graph.nodes.find((n) => n.opType === 'Conv')!;
  assert.throws(() => permuteChannels(model, new Map([[layer.name || layer.outputs[0], [0, 0, 1, 2, 3, 4]]])), /must be a permutation/);
});
