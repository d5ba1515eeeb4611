import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../src/data/index.js';
import { buildModel } from '../src/models/index.js';
import { train, trainableParameters } from '../src/train/train.js';
import { createOptimizer, scheduledLr } from '../src/train/optim.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { FlipguardError } from '../src/errors.js';

test('SGD with momentum and weight decay follows the textbook update', () => {
  const p = new Map([['w', Float32Array.from([1, -2])]]);
  const g = new Map([['w', Float32Array.from([0.5, 0.25])]]);
  const opt = createOptimizer({ optimizer: 'sgd', momentum: 0.9, weightDecay: 0.1 });
  opt.step(p, g, 0.1);
  // v = g + wd·w = [0.6, 0.05]; w -= 0.1·v
  assert.ok(Math.abs(p.get('w')![0] - (1 - 0.06)) < 1e-6);
  assert.ok(Math.abs(p.get('w')![1] - (-2 - 0.005)) < 1e-6);
  opt.step(p, g, 0.1);
  // v = 0.9·0.6 + 0.5 + 0.1·0.94 = 1.134
  assert.ok(Math.abs(p.get('w')![0] - (0.94 - 0.1134)) < 1e-6);
});

test('Adam\'s first step moves each parameter by lr against the gradient sign', () => {
  const p = new Map([['w', Float32Array.from([1, -2, 3])]]);
  const g = new Map([['w', Float32Array.from([0.5, -0.25, 4])]]);
  createOptimizer({ optimizer: 'adam' }).step(p, g, 0.01);
  assert.deepEqual(Array.from(p.get('w')!, (v) => Number(v.toFixed(5))), [0.99, -1.99, 2.99]);
});

test('schedules: step decays by gamma, cosine ends near zero', () => {
  assert.equal(scheduledLr(1, 0, 9, { schedule: 'step' }), 1);
  assert.ok(Math.abs(scheduledLr(1, 3, 9, { schedule: 'step' }) - 0.1) < 1e-12);
  assert.ok(Math.abs(scheduledLr(1, 4.5, 9, { schedule: 'cosine' }) - 0.5) < 1e-12);
  assert.ok(scheduledLr(1, 8.99, 9, { schedule: 'cosine' }) < 1e-3);
});

test('training lowers the loss, updates batch-norm statistics, keeps the input model, and is seeded', async () => {
  const trainData = loadDataset({ data: 'mnist', split: 'train', limit: 512 });
  const evalData = loadDataset({ data: 'mnist', split: 'test', limit: 200 });
  const model = buildModel('vgg11', { inputShape: [1, 28, 28], classes: 10, width: 0.125, seed: 1 });
  const before = model.graph.initializers.get('conv1.weight')!.data.slice();
  const opts = { epochs: 2, batch: 32, optimizer: 'adam' as const, lr: 0.003, seed: 7, evalData };
  const r1 = await train(model, trainData, opts);
  assert.ok(r1.history[1].loss < r1.history[0].loss, `loss ${r1.history.map((h) => h.loss)}`);
  const base = (await evaluate(model, evalData)).accuracy;
  const after = (await evaluate(r1.model, evalData)).accuracy;
  assert.ok(after > base + 0.2, `accuracy ${base} → ${after}`);
  assert.equal(r1.bestAccuracy, Math.max(...r1.history.map((h) => h.evalAccuracy!)));
  // running statistics moved away from their initial 0 / 1
  const { runningStats } = trainableParameters(model);
  assert.ok(runningStats.length > 0);
  const mean = r1.model.graph.initializers.get(runningStats[0].mean)!.data as Float32Array;
  assert.ok(mean.some((v) => Math.abs(v) > 1e-3));
  // the input model is untouched
  assert.deepEqual(model.graph.initializers.get('conv1.weight')!.data, before);
  // same seed, same result
  const r2 = await train(model, trainData, opts);
  assert.deepEqual(r2.history.map((h) => h.loss), r1.history.map((h) => h.loss));
});

test('bad training options are refused with one sentence', async () => {
  const data = loadDataset({ data: 'mnist', split: 'train', limit: 8 });
  const model = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 });
  await assert.rejects(train(model, data, { epochs: 0 }), FlipguardError);
  await assert.rejects(train(model, data, { epochs: 1, lr: -1 }), /The option "lr" must be a number > 0/);
  await assert.rejects(train(model, data, { epochs: 1, optimizer: 'sgd', momentum: 1.5 }), /The option "momentum" must be in \[0, 1\)/);
});
