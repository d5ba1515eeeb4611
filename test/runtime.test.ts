import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, A, makeModel } from '../src/graph/builder.js';
import { encodeModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { ModelRunner } from '../src/runtime/session.js';
import { evaluate, predict, type ImageSet } from '../src/runtime/evaluate.js';
import { PatchableModel } from '../src/runtime/patch.js';
import { buildModel } from '../src/models/index.js';

/** y = W·flatten(x) + b on 1×2×2 images, 3 classes. */
function linearModel(): { model: Model; W: Float32Array; b: Float32Array } {
  const W = Float32Array.from([0.5, -1, 2, 0.25, -0.5, 1.5, 0, 1, 1, 1, -2, 0.75]);
  const bias = Float32Array.from([0.1, -0.2, 0.3]);
  const g = new GraphBuilder('lin');
  const x = g.input('input', ['batch', 1, 2, 2]);
  const f = g.op('Flatten', [x], { axis: A.i(1) });
  g.node('Gemm', [f, g.init('fc.weight', [3, 4], W), g.init('fc.bias', [3], bias)], { transB: A.i(1) }, { outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  return { model: makeModel(g.build()), W, b: bias };
}

function images(n: number, seed = 1): ImageSet {
  const x = new Float32Array(n * 4);
  let s = seed;
  for (let i = 0; i < x.length; i++) { s = (Math.imul(s, 48271) + 11) >>> 0; x[i] = ((s >>> 8) / 2 ** 24) * 2 - 1; }
  const y = new Uint8Array(n).map((_, i) => i % 3);
  return { name: 'random', x, y, shape: [1, 2, 2], count: n, classes: 3 };
}

test('predict gives the logits of a reference computation, for any batch size', async () => {
  const { model, W, b } = linearModel();
  const data = images(37);
  const runner = await ModelRunner.create(model);
  for (const batch of [1, 5, 37, 64]) {
    const p = await predict(runner, data, { batch });
    for (let i = 0; i < data.count; i++) {
      for (let k = 0; k < 3; k++) {
        let ref = b[k];
        for (let j = 0; j < 4; j++) ref += W[k * 4 + j] * data.x[i * 4 + j];
        assert.ok(Math.abs(p.logits[i * 3 + k] - ref) < 1e-6, `image ${i} class ${k}`);
      }
    }
  }
  await runner.release();
});

test('evaluate counts correct top-1 predictions against labels', async () => {
  const { model } = linearModel();
  const data = images(50);
  const r = await evaluate(model, data, { batch: 8 });
  const runner = await ModelRunner.create(model);
  const p = await predict(runner, data, {});
  let correct = 0;
  for (let i = 0; i < data.count; i++) {
    const row = Array.from(p.logits.subarray(i * 3, i * 3 + 3));
    if (row.indexOf(Math.max(...row)) === data.y[i]) correct++;
  }
  assert.equal(r.correct, correct);
  assert.equal(r.accuracy, correct / 50);
  await runner.release();
});

test('NaN or Inf logits give top-1 −1 (a DUE), never a class', async () => {
  const { model } = linearModel();
  const data = images(4);
  data.x[0] = NaN;
  const runner = await ModelRunner.create(model);
  const p = await predict(runner, data, {});
  assert.equal(p.top1[0], -1);
  assert.ok(p.top1[1] >= 0);
  await runner.release();
});

test('swappable parameters: feeding new values changes outputs; the clean ones are used otherwise', async () => {
  const { model } = linearModel();
  const data = images(6);
  const plain = await ModelRunner.create(model);
  const swap = await ModelRunner.create(model, { swappable: ['fc.weight', 'fc.bias'] });
  const a = await predict(plain, data, {});
  const c = await predict(swap, data, {});
  assert.deepEqual(c.logits, a.logits);
  const zeros = new Map([['fc.bias', new Float32Array(3)]]);
  const d = await predict(swap, data, { params: zeros });
  assert.notDeepEqual(d.logits, a.logits);
  await plain.release(); await swap.release();
});

test('PatchableModel flips exactly the stored bits, runs them, and restores the clean bytes', async () => {
  const model = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, seed: 3 });
  const data: ImageSet = { ...images(1), x: new Float32Array(8 * 784).map((_, i) => (i % 29) / 29), shape: [1, 28, 28], count: 8, y: new Uint8Array(8), classes: 10 };
  const pm = new PatchableModel(model);
  const clean = pm.bytes.slice();
  const flips = [{ tensor: 'conv1.weight', index: 3, bit: 30 }, { tensor: 'fc3.bias', index: 2, bit: 31 }, { tensor: 'conv2.weight', index: 100, bit: 0 }];
  const viaPatch = await pm.withFaults(flips, {}, (r) => predict(r, data, {}));
  assert.deepEqual(pm.bytes, clean, 'bytes restored');
  // reference: apply the same flips to copies of the tensors and encode a fresh model
  const inits = new Map(model.graph.initializers);
  for (const f of flips) {
    const t = inits.get(f.tensor)!;
    const copy = (t.data as Float32Array).slice();
    new Uint32Array(copy.buffer)[f.index] ^= 2 ** f.bit >>> 0;
    inits.set(f.tensor, { ...t, data: copy });
  }
  const faulty: Model = { ...model, graph: { ...model.graph, initializers: inits } };
  const ref = await ModelRunner.create(faulty);
  const viaRef = await predict(ref, data, {});
  assert.deepEqual(viaPatch.logits, viaRef.logits);
  const cleanRunner = await ModelRunner.create(model);
  const cleanPred = await predict(cleanRunner, data, {});
  assert.notDeepEqual(viaPatch.logits, cleanPred.logits);
  await ref.release(); await cleanRunner.release();
  // flipping twice is a no-op
  pm.toggle(flips); pm.toggle(flips);
  assert.deepEqual(pm.bytes, clean);
  assert.equal(encodeModel(model).length, clean.length);
});
