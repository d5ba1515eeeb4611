import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import type { Model } from '../src/graph/types.js';
import type { Dataset } from '../src/data/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { FlipguardError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import {
  rank, vulnerabilityScores, vulnerabilityProfile, taylorScores, classNeuronScores, neuronScores, mergeClassScores, normalizedRanks,
  spearman, kendallTauB, topkOverlap, averageRanks, groundTruth, compareRankings, compareWithGroundTruth, formatComparison, profilingSample, referenceSet, unitFaults,
  type Scores,
} from '../src/analysis/index.js';

// ───────────────────────────── tiny models ─────────────────────────────

/** 3 → 2 → 3 dense net (ReLU between) on [3, 1, 1] "images", hand-chosen weights. */
const W1 = [[1, -2, 0.5], [0.3, 0.8, -1]];
const B1 = [0.1, -0.2];
const W2 = [[1.5, -1], [-0.5, 2], [0.7, 0.4]];
const B2 = [0, 0.1, -0.3];

function denseNet(): Model {
  const b = new GraphBuilder('dense');
  const x = b.input('x', ['batch', 3, 1, 1]);
  const f = b.op('Flatten', [x], { axis: A.i(1) }, 'flatten');
  const h = b.op('Gemm', [f, b.init('fc1.weight', [2, 3], W1.flat()), b.init('fc1.bias', [2], B1)], { transB: A.i(1) }, 'fc1');
  const r = b.op('Relu', [h], {}, 'relu');
  b.node('Gemm', [r, b.init('fc2.weight', [3, 2], W2.flat()), b.init('fc2.bias', [3], B2)], { transB: A.i(1) }, { name: 'fc2', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build());
}

const X4 = [[1, 0.2, -0.5], [-0.3, -1, 0.4], [0.6, 0.9, 1.2], [2, -0.1, 0.3]];

function denseData(): Dataset {
  return { name: 'hand', x: Float32Array.from(X4.flat()), y: Uint8Array.from([0, 1, 2, 0]), shape: [3, 1, 1], classes: 3, count: 4 };
}

/** conv(1→C, 3×3, pad 1) → relu → flatten → gemm(C·16 → 3) on [1, 4, 4] images. */
function convNet(C = 3, seed = 11): Model {
  const r = new Rng(seed);
  const b = new GraphBuilder('conv');
  const x = b.input('input', ['batch', 1, 4, 4]);
  const c = b.op('Conv', [x, b.init('conv.weight', [C, 1, 3, 3], Array.from({ length: C * 9 }, () => r.normal() * 0.6)), b.init('conv.bias', [C], Array.from({ length: C }, () => r.normal() * 0.1))], { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) }, 'conv');
  const a = b.op('Relu', [c], {}, 'relu');
  const f = b.op('Flatten', [a], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, b.init('fc.weight', [3, C * 16], Array.from({ length: 3 * C * 16 }, () => r.normal() * 0.4)), b.init('fc.bias', [3], [0.1, -0.1, 0])], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build());
}

async function logitsOf(model: Model, x: Float32Array, dims: number[], outputs?: string[]): Promise<Record<string, Float32Array>> {
  const r = await ModelRunner.create(model, { outputs });
  try {
    const out = await r.run(x, dims);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await r.release();
  }
}

/** `count` random [1,4,4] images labelled with the model's own prediction (so all are "correct"). */
async function selfLabelled(model: Model, count: number, seed = 3): Promise<Dataset> {
  const r = new Rng(seed);
  const x = Float32Array.from({ length: count * 16 }, () => r.next());
  const l = (await logitsOf(model, x, [count, 1, 4, 4])).logits;
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) { let t = 0; for (let k = 1; k < 3; k++) if (l[i * 3 + k] > l[i * 3 + t]) t = k; y[i] = t; }
  return { name: 'self', x, y, shape: [1, 4, 4], classes: 3, count };
}

const close = (a: number, b: number, rel = 1e-4, abs = 1e-7) => Math.abs(a - b) <= abs + rel * Math.max(Math.abs(a), Math.abs(b));

/** Same layers, units and scores up to onnxruntime's multi-threaded rounding (last bits). */
function sameScores(a: Scores, b: Scores, what: string): void {
  assert.deepEqual(a.layers.map((l) => [l.name, l.unit, l.scores.length]), b.layers.map((l) => [l.name, l.unit, l.scores.length]), what);
  a.layers.forEach((l, j) => l.scores.forEach((v, i) => assert.ok(close(v, b.layers[j].scores[i], 1e-6, 1e-9), `${what} ${l.name}[${i}]: ${v} vs ${b.layers[j].scores[i]}`)));
}

// ───────────────────────────── Eq. (1) ─────────────────────────────

/** Eq. (1) by hand: per layer, per unit, mean over the images; derivatives written out for this net. */
function eq1ByHand(floor?: number): { fc1: number[]; fc2: number[] } {
  const K = 3;
  const fc1 = [0, 0];
  const fc2 = [0, 0, 0];
  for (const x of X4) {
    const h = W1.map((row, j) => row.reduce((s, w, i) => s + w * x[i], B1[j]));
    const r = h.map((v) => Math.max(0, v));
    const y = W2.map((row, c) => row.reduce((s, w, j) => s + w * r[j], B2[c]));
    const t = y.indexOf(Math.max(...y));
    const x2 = x.reduce((s, v) => s + v * v, 0);
    const r2 = r.reduce((s, v) => s + v * v, 0);
    for (let k = 0; k < K; k++) {
      if (k === t) continue;
      let d = y[t] - y[k];
      if (floor !== undefined) d = Math.max(Math.abs(d), floor);
      // ∂(y_t − y_k)/∂W2[c, j] = (δ_ct − δ_ck)·r_j ; ∂(y_t − y_k)/∂W1[j, i] = (W2[t,j] − W2[k,j])·[h_j > 0]·x_i
      for (let c = 0; c < 3; c++) fc2[c] += ((c === t || c === k ? r2 : 0) / (d * d)) / K;
      for (let j = 0; j < 2; j++) fc1[j] += (((W2[t][j] - W2[k][j]) * (h[j] > 0 ? 1 : 0)) ** 2 * x2 / (d * d)) / K;
    }
  }
  return { fc1: fc1.map((v) => v / X4.length), fc2: fc2.map((v) => v / X4.length) };
}

test('Eq. (1) equals the hand-derived value on a 3→2→3 dense net (exact, batch approximation at batch 1, robust floor)', async () => {
  const model = denseNet();
  const data = denseData();
  const hand = eq1ByHand();
  const s = await vulnerabilityScores(model, { data, images: 4, batch: 3 });
  assert.equal(s.method, 'vulnerability');
  assert.deepEqual(s.layers.map((l) => [l.name, l.unit, l.scores.length]), [['fc1', 'neuron', 2], ['fc2', 'neuron', 3]]);
  s.layers[0].scores.forEach((v, i) => assert.ok(close(v, hand.fc1[i]), `fc1[${i}]: ${v} vs ${hand.fc1[i]}`));
  s.layers[1].scores.forEach((v, i) => assert.ok(close(v, hand.fc2[i]), `fc2[${i}]: ${v} vs ${hand.fc2[i]}`));
  const info = s.info as Record<string, number>;
  assert.equal(info.images, 4);
  assert.ok(info.maxImageShare > 0.25 - 1e-9 && info.maxImageShare <= 1, 'the largest of 4 images has at least a quarter');
  assert.ok(info.effectiveImages >= 1 && info.effectiveImages <= 4);

  // summing each margin's gradient over batches of one image before squaring is exactly Eq. (1)
  const approx = await vulnerabilityScores(model, { data, images: 4, approx: 'batch', approxBatch: 1 });
  approx.layers.forEach((l, j) => l.scores.forEach((v, i) => assert.ok(close(v, s.layers[j].scores[i]), `approx ${l.name}[${i}]`)));
  // … and bigger batches give a different (cross-term) estimate
  const approx4 = await vulnerabilityScores(model, { data, images: 4, approx: 'batch', approxBatch: 4 });
  assert.notDeepEqual(approx4.layers[0].scores, approx.layers[0].scores);

  const floored = await vulnerabilityScores(model, { data, images: 4, robust: { floor: 3 } });
  const handFloor = eq1ByHand(3);
  floored.layers[1].scores.forEach((v, i) => assert.ok(close(v, handFloor.fc2[i]), `floored fc2[${i}]`));
  const trimmed = await vulnerabilityScores(model, { data, images: 4, robust: { trim: 0.25 } });
  const p = await vulnerabilityProfile(model, { data, images: 4 });
  const col = Array.from({ length: 4 }, (_, n) => p.perImage.get('fc2')![n * 3]).sort((a, b) => a - b);
  assert.ok(close(trimmed.layers[1].scores[0], (col[1] + col[2]) / 2), 'trimmed mean drops the lowest and highest image');
  await assert.rejects(vulnerabilityScores(model, { data, robust: { trim: 0.1 }, approx: 'batch' }), FlipguardError);
  await assert.rejects(vulnerabilityScores(model, { data, robust: { floor: -1 } }), FlipguardError);
});

test('scores do not depend on the batch size, and rankings are deterministic under a seed', async () => {
  const model = convNet();
  const data = await selfLabelled(model, 40);
  const a = await rank(model, { method: 'vulnerability', data, images: 12, batch: 5, seed: 4 });
  const b = await rank(model, { method: 'vulnerability', data, images: 12, batch: 12, seed: 4 });
  a.layers.forEach((l, j) => l.scores.forEach((v, i) => assert.ok(close(v, b.layers[j].scores[i], 1e-5), `vulnerability ${l.name}[${i}]`)));
  const again = await rank(model, { method: 'vulnerability', data, images: 12, batch: 5, seed: 4 });
  sameScores(again, a, 'vulnerability');
  assert.deepEqual((again.info as { indices: number[] }).indices, (a.info as { indices: number[] }).indices);
  const other = await rank(model, { method: 'vulnerability', data, images: 12, seed: 5 });
  assert.notDeepEqual((other.info as { indices: number[] }).indices, (a.info as { indices: number[] }).indices);
  // the sample is the first N of a seeded permutation: N + 1 images extend N
  assert.deepEqual(profilingSample(data, 13, 4).indices.slice(0, 12), (a.info as { indices: number[] }).indices);

  for (const method of ['lrp', 'neurons', 'taylor'] as const) {
    const x = await rank(model, { method, data, images: 30, batch: 7 });
    const y = await rank(model, { method, data, images: 30, batch: 30 });
    x.layers.forEach((l, j) => l.scores.forEach((v, i) => assert.ok(close(v, y.layers[j].scores[i], 1e-4, 1e-6), `${method} ${l.name}[${i}]: ${v} vs ${y.layers[j].scores[i]}`)));
    sameScores(await rank(model, { method, data, images: 30, batch: 7 }), x, method);
  }
  const r1 = await rank(model, { method: 'random', seed: 9 });
  assert.deepEqual((await rank(model, { method: 'random', seed: 9 })).layers, r1.layers);
  assert.notDeepEqual((await rank(model, { method: 'random', seed: 10 })).layers, r1.layers);
});

test('rank checks methods, units and data', async () => {
  const model = convNet();
  await assert.rejects(rank(model, { method: 'nope' as never }), (e: Error) => e instanceof FlipguardError && /Unknown ranking method "nope"/.test(e.message));
  await assert.rejects(rank(model, { method: 'vulnerability', unit: 'weight' }), FlipguardError);
  await assert.rejects(rank(model, { method: 'lrp' }), (e: Error) => e instanceof FlipguardError && /training images/.test(e.message));
  const mag = await rank(model, { method: 'magnitude', unit: 'channel' });
  const l1 = await rank(model, { method: 'l1' });
  assert.deepEqual(mag.layers.map((l) => l.scores), l1.layers.map((l) => l.scores));
  const rn = await rank(model, { method: 'random', unit: 'neuron' });
  assert.deepEqual(rn.layers.map((l) => [l.unit, l.scores.length]), [['neuron', 48], ['neuron', 3]]);
});

// ───────────────────────────── Taylor ─────────────────────────────

test('Taylor |w·∂L/∂w| equals the hand-computed cross-entropy gradient summed over the images', async () => {
  const Wt = [[0.5, -1, 0.2], [0.3, 0.4, -0.6], [-0.2, 0.1, 0.9]];
  const bt = [0.05, -0.1, 0.2];
  const b = new GraphBuilder('lin');
  const x = b.input('x', ['batch', 3, 1, 1]);
  const f = b.op('Flatten', [x], { axis: A.i(1) });
  b.node('Gemm', [f, b.init('fc.weight', [3, 3], Wt.flat()), b.init('fc.bias', [3], bt)], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  const model = makeModel(b.build());
  const data = denseData();
  const G = Wt.map((row) => row.map(() => 0));
  X4.forEach((xi, n) => {
    const z = Wt.map((row, c) => row.reduce((s, w, i) => s + w * xi[i], bt[c]));
    const m = Math.max(...z);
    const ez = z.map((v) => Math.exp(v - m));
    const sum = ez.reduce((a, v) => a + v, 0);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 3; i++) G[c][i] += (ez[c] / sum - (c === data.y[n] ? 1 : 0)) * xi[i];
  });
  for (const batch of [1, 3, 4]) {
    const s = await taylorScores(model, { data, images: 4, batch });
    assert.equal(s.layers[0].unit, 'weight');
    s.layers[0].scores.forEach((v, k) => {
      const want = Math.abs(Wt[Math.floor(k / 3)][k % 3] * G[Math.floor(k / 3)][k % 3]);
      assert.ok(close(v, want, 1e-4, 1e-6), `batch ${batch} weight ${k}: ${v} vs ${want}`);
    });
  }
  const ch = await taylorScores(model, { data, images: 4, unit: 'channel' });
  assert.equal(ch.layers[0].unit, 'neuron');
  ch.layers[0].scores.forEach((v, c) => assert.ok(close(v, Wt[c].reduce((s, w, i) => s + Math.abs(w * G[c][i]), 0), 1e-4, 1e-6)));
});

// ───────────────────────────── neurons ─────────────────────────────

test('neuron scores: class means of |a| per (channel, row, col), rank-normalised and merged', async () => {
  const model = convNet(2);
  const data = await selfLabelled(model, 60, 8);
  const cs = await classNeuronScores(model, { data, images: 60, batch: 7 });
  assert.deepEqual(cs.layers.map((l) => [l.name, l.units]), [['conv', 32], ['fc', 3]]);
  // reference: the conv output in JavaScript, averaged per class over the reference set's images
  const ref = await referenceSet(model, data, { total: 60, seed: 0 });
  assert.deepEqual(cs.perClass, ref.perClass);
  const out = await logitsOf(model, ref.data.x, [ref.data.count, 1, 4, 4], ['conv_out', 'logits']);
  const conv = out[Object.keys(out).find((k) => k !== 'logits')!];
  const mean = new Float64Array(3 * 32);
  for (let n = 0; n < ref.data.count; n++) for (let e = 0; e < 32; e++) mean[ref.data.y[n] * 32 + e] += Math.abs(conv[n * 32 + e]) / ref.perClass[ref.data.y[n]];
  let compared = 0;
  for (let c = 0; c < 3; c++) {
    if (!ref.perClass[c]) continue;
    compared++;
    for (let e = 0; e < 32; e++) assert.ok(close(cs.layers[0].classScores[c * 32 + e], mean[c * 32 + e], 1e-5), `class ${c} neuron ${e}`);
  }
  assert.ok(compared >= 2);
  const s = await neuronScores(model, { data, images: 60 });
  assert.deepEqual(s.layers.map((l) => [l.unit, l.scores.length]), [['neuron', 32], ['neuron', 3]]);
  s.layers[0].scores.forEach((v) => assert.ok(v >= 0 && v <= 1));
  for (const score of ['gradient', 'lrp'] as const) {
    const g = await neuronScores(model, { data, images: 60, score });
    assert.deepEqual(g.layers.map((l) => l.scores.length), [32, 3], score);
  }
  // merge rules on hand data
  const cls = [1, 2, 3, 3, 2, 1];
  assert.deepEqual(Array.from(normalizedRanks([5, 1, 5, 2])), [(2.5) / 3, 0, 2.5 / 3, 1 / 3]);
  assert.deepEqual(mergeClassScores(cls, 2, 3, [1, 1], 'max'), [1, 0.5, 1]);
  assert.deepEqual(mergeClassScores(cls, 2, 3, [1, 1], 'mean'), [0.5, 0.5, 0.5]);
  assert.deepEqual(mergeClassScores(cls, 2, 3, [1, 1], 'topq', 0.34), [1, 2, 1]);
  assert.deepEqual(mergeClassScores(cls, 2, 3, [1, 0], 'max'), [0, 0.5, 1], 'a class without images is left out');
  assert.throws(() => mergeClassScores(cls, 2, 3, [1, 1], 'topq', 0), FlipguardError);
});

// ───────────────────────────── correlations and ground truth ─────────────────────────────

test('Spearman, Kendall τ-b and top-k overlap on hand data', () => {
  assert.ok(close(spearman([1, 2, 3, 4], [1, 3, 2, 4]), 0.8, 1e-12));
  assert.ok(close(kendallTauB([1, 2, 3, 4], [1, 3, 2, 4]), 4 / 6, 1e-12));
  assert.ok(close(spearman([10, 20, 30], [3, 2, 1]), -1, 1e-12));
  assert.deepEqual(Array.from(averageRanks([3, 1, 3])), [2.5, 1, 2.5]);
  assert.ok(close(spearman([1, 1, 2], [1, 2, 3]), 1.5 / Math.sqrt(3), 1e-12), 'ties take average ranks');
  assert.ok(close(kendallTauB([1, 1, 2], [1, 2, 3]), 2 / Math.sqrt(6), 1e-12), 'τ-b corrects for ties');
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(kendallTauB([1, 1, 1], [1, 2, 3])));
  assert.equal(topkOverlap([4, 3, 2, 1], [4, 1, 2, 3], 2), 0.5);
  assert.equal(topkOverlap([4, 3, 2, 1], [4, 3, 0, 0], 2), 1);
  assert.throws(() => spearman([1, 2], [1, 2, 3]), FlipguardError);
});

test('ground truth faults only the unit, and compareRankings gives correlations in [−1, 1]', async () => {
  const model = convNet(4, 21);
  const train = await selfLabelled(model, 40, 1);
  const evalData = await selfLabelled(model, 60, 2);
  const gt = await groundTruth(model, { layer: 'conv', ber: 1e-3, data: evalData, trials: 3, faults: 2, bits: 'exponent', seed: 5 });
  assert.equal(gt.drops.length, 4);
  assert.deepEqual(gt.meanFaults, [2, 2, 2, 2]);
  assert.deepEqual(gt.bits, [23, 24, 25, 26, 27, 28, 29, 30]);
  gt.drops.forEach((d) => assert.ok(Number.isFinite(d) && d >= -100 && d <= 100));
  assert.equal(gt.goldenAccuracy, 1, 'self-labelled images are all correct');
  // every fault of a cell lies in that channel's weights (the filter conv.weight[c]) and the allowed bits
  for (let c = 0; c < 4; c++) {
    for (let t = 0; t < 3; t++) {
      const f = unitFaults(model, { layer: 'conv', ber: 1e-3, faults: 2, bits: 'exponent', seed: 5 }, c, t);
      assert.equal(f.length, 2);
      for (const x of f) { assert.equal(x.tensor, 'conv.weight'); assert.ok(x.index >= c * 9 && x.index < (c + 1) * 9); assert.ok(x.bit >= 23 && x.bit <= 30); }
    }
  }
  // replayable: the same seed gives the same ground truth
  assert.deepEqual((await groundTruth(model, { layer: 'conv', ber: 1e-3, data: evalData, trials: 3, faults: 2, bits: 'exponent', seed: 5 })).drops, gt.drops);
  // BER draws over one unit: Binomial(numel·bits, BER) faults per trial
  const ber = await groundTruth(model, { layer: 'conv', ber: 0.05, data: evalData, trials: 4, seed: 1 });
  const mean = ber.meanFaults.reduce((a, b) => a + b, 0) / 4;
  assert.ok(mean > 0.05 * 9 * 32 * 0.5 && mean < 0.05 * 9 * 32 * 1.5, `mean faults ${mean} ≈ ${0.05 * 9 * 32}`);

  const cmp = await compareRankings(model, { layer: 'conv', ber: 1e-3, data: evalData, trials: 3, faults: 2, bits: 'exponent', seed: 5, methods: ['vulnerability', 'lrp', 'l1', 'magnitude', 'random'], rankData: train, images: 20, groundTruth: gt });
  assert.equal(cmp.layer, 'conv');
  assert.equal(cmp.ber, 1e-3);
  assert.deepEqual(cmp.groundTruth, gt.drops);
  assert.deepEqual(cmp.rows.map((r) => r.method), ['vulnerability', 'lrp', 'l1', 'magnitude', 'random']);
  for (const r of cmp.rows) {
    for (const v of [r.spearman, r.kendall]) assert.ok(v >= -1 && v <= 1, `${r.method}: ${v}`);
    assert.ok(r.topkOverlap >= 0 && r.topkOverlap <= 1);
  }
  assert.equal(cmp.k, 1);
  assert.match(formatComparison(cmp), /Spearman/);
  // hand scores against a hand ground truth
  const hand: Scores = { method: 'hand', layers: [{ name: 'conv', op: 'Conv', unit: 'channel', scores: [1, 3, 2, 4] }] };
  const c2 = compareWithGroundTruth(model, { ...gt, drops: [1, 2, 3, 4] }, [hand], 2);
  assert.ok(close(c2.rows[0].spearman, 0.8, 1e-12));
  assert.equal(c2.rows[0].topkOverlap, 0.5);
  // exhaustive: every (weight, bit) of each channel once — here 9 weights × bit 30
  const ex = await groundTruth(model, { layer: 'conv', ber: 1e-3, data: evalData, exhaustive: true, bits: '30' });
  assert.equal(ex.trials, 9);
  assert.ok(ex.exhaustive);
  assert.deepEqual(ex.meanFaults, [1, 1, 1, 1]);
  assert.ok(ex.drops.some((d) => d > 0), 'exponent-MSB flips of conv weights hurt');
  // weight-level ground truth: a seeded sample of single weights
  const w = await groundTruth(model, { layer: 'conv', ber: 1e-3, data: evalData, trials: 1, faults: 1, bits: '30', unit: 'weight', sample: 5 });
  assert.equal(w.units.length, 5);
  assert.ok(w.units.every((i) => i >= 0 && i < 36));
  await assert.rejects(groundTruth(model, { layer: 'nope', ber: 1e-3, data: evalData }), (e: Error) => e instanceof FlipguardError && /conv, fc/.test(e.message));
  await assert.rejects(compareRankings(model, { layer: 'conv', ber: 1e-3, data: evalData, methods: ['lrp'] }), FlipguardError);
});
