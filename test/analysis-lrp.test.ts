import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import type { Model } from '../src/graph/types.js';
import type { Dataset } from '../src/data/index.js';
import { createSession, ModelRunner } from '../src/runtime/session.js';
import { gradientGraph } from '../src/autodiff/index.js';
import { FlipguardError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import {
  relevanceGraph, runRelevance, lrpScores, foldBatchNorm, composite, epsilonRule, zPlusRule, flatRule, zBoxRule, channelWeightIndices, computeLayers,
  type Composite, type LrpRule,
} from '../src/analysis/index.js';

const normals = (r: Rng, n: number, s = 1) => Array.from({ length: n }, () => r.normal() * s);

/** Bias-free 4 → 5 → 3 ReLU net on [4, 1, 1] inputs. */
function mlp(seed = 1): Model {
  const r = new Rng(seed);
  const b = new GraphBuilder('mlp');
  const x = b.input('x', ['batch', 4, 1, 1]);
  const f = b.op('Flatten', [x], { axis: A.i(1) });
  const h = b.op('Gemm', [f, b.init('fc1.weight', [5, 4], normals(r, 20))], { transB: A.i(1) }, 'fc1');
  const a = b.op('Relu', [h], {}, 'relu');
  b.node('Gemm', [a, b.init('fc2.weight', [3, 5], normals(r, 15))], { transB: A.i(1) }, { name: 'fc2', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build());
}

/** conv(2→3) → relu → maxpool → conv(3→4) → relu → flatten → gemm(36 → 3), no biases, on [2, 6, 6]. */
function convNet(seed = 2, opts: { bn?: boolean; bias?: boolean } = {}): Model {
  const r = new Rng(seed);
  const b = new GraphBuilder('convnet');
  const x = b.input('input', ['batch', 2, 6, 6]);
  const conv = { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) };
  const bias1 = opts.bias ? [b.init('c1.bias', [3], normals(r, 3, 0.2))] : [];
  let y = b.op('Conv', [x, b.init('c1.weight', [3, 2, 3, 3], normals(r, 54, 0.5)), ...bias1], conv, 'c1');
  if (opts.bn) {
    y = b.op('BatchNormalization', [y, b.init('bn1.weight', [3], [1.2, -0.7, 0.9]), b.init('bn1.bias', [3], [0.1, 0.2, -0.3]), b.init('bn1.running_mean', [3], [0.05, -0.1, 0.2]), b.init('bn1.running_var', [3], [0.8, 1.5, 0.6])], { epsilon: A.f(1e-5) }, 'bn1');
  }
  y = b.op('Relu', [y], {}, 'r1');
  y = b.op('MaxPool', [y], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) }, 'pool');
  y = b.op('Conv', [y, b.init('c2.weight', [4, 3, 3, 3], normals(r, 108, 0.5))], conv, 'c2');
  y = b.op('Relu', [y], {}, 'r2');
  y = b.op('Flatten', [y], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [y, b.init('fc.weight', [3, 36], normals(r, 108, 0.4))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build());
}

function argmax(l: Float32Array, n: number, K: number): number[] {
  return Array.from({ length: n }, (_, i) => { let t = 0; for (let k = 1; k < K; k++) if (l[i * K + k] > l[i * K + t]) t = k; return t; });
}

async function run(model: Model, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const r = await ModelRunner.create(model);
  try { return (await r.run(x, dims))[r.outputNames[0]].data as Float32Array; } finally { await r.release(); }
}

const maxAbs = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };

test('LRP-ε on a bias-free ReLU net equals gradient × input, for the input and for every weight', async () => {
  const model = mlp();
  const r = new Rng(5);
  const n = 6;
  const x = Float32Array.from(normals(r, n * 4));
  const targets = argmax(await run(model, x, [n, 4, 1, 1]), n, 3);
  const rg = relevanceGraph(model, { composite: composite('epsilon', { epsilon: 1e-9 }), outputs: { weights: true, input: true } });
  const res = await runRelevance(rg, x, [4, 1, 1], targets);
  // reference: ∂y_t/∂(x, W) from the gradient graph with a one-hot seed
  const g = gradientGraph(model, { seed: { output: 'logits', gradInput: 'seed' }, wrt: ['x', 'fc1.weight', 'fc2.weight'] });
  const s = await createSession(g.model);
  const seed = new Float32Array(n * 3);
  targets.forEach((t, i) => { seed[i * 3 + t] = 1; });
  const out = await s.run({ x: new ort.Tensor('float32', x, [n, 4, 1, 1]), seed: new ort.Tensor('float32', seed, [n, 3]) });
  await s.release();
  const dx = out[g.gradOutputs.get('x')!].data as Float32Array;
  const scale = maxAbs(res.input!);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(res.input![i] - x[i] * dx[i]) <= 1e-5 * scale, `input ${i}: ${res.input![i]} vs ${x[i] * dx[i]}`);
  for (const w of ['fc1', 'fc2']) {
    const wv = model.graph.initializers.get(`${w}.weight`)!.data as Float32Array;
    const dw = out[g.gradOutputs.get(`${w}.weight`)!].data as Float32Array;
    const rw = res.weights.get(w)!;
    const sc = maxAbs(rw);
    for (let i = 0; i < wv.length; i++) assert.ok(Math.abs(rw[i] - wv[i] * dw[i]) <= 1e-5 * sc, `${w}[${i}]: ${rw[i]} vs ${wv[i] * dw[i]}`);
  }
});

const rules: [string, Composite, number][] = [
  ['ε (no bias)', { name: 'eps', first: epsilonRule(1e-9), conv: epsilonRule(1e-9), dense: epsilonRule(1e-9) }, -1],
  ['z⁺ (mixed-sign input)', { name: 'zp', first: zPlusRule(1e-9), conv: zPlusRule(1e-9), dense: epsilonRule(1e-9) }, -1],
  ['flat', { name: 'flat', first: flatRule(), conv: flatRule(), dense: flatRule() }, -1],
  ['z^B first, z⁺ conv', { name: 'zb', first: zBoxRule(0, 1, 1e-9), conv: zPlusRule(1e-9), dense: epsilonRule(1e-9) }, 0],
];

for (const [label, comp, low] of rules) {
  test(`relevance is conserved layer by layer under ${label}`, async () => {
    const model = convNet();
    const r = new Rng(7);
    const n = 5;
    const x = Float32Array.from({ length: n * 72 }, () => low + (1 - low) * r.next());
    const targets = argmax(await run(model, x, [n, 2, 6, 6]), n, 3);
    const rg = relevanceGraph(model, { composite: comp, outputs: { weights: true, conservation: true, input: true } });
    assert.deepEqual(rg.layers.map((l) => [l.name, l.rule]), [['c1', comp.first.name], ['c2', comp.conv.name], ['fc', comp.dense.name]]);
    const res = await runRelevance(rg, x, [2, 6, 6], targets, { batch: 2 });
    for (const l of rg.layers) {
      const ins = res.inputSums.get(l.name)!;
      const outs = res.outputSums.get(l.name)!;
      for (let i = 0; i < n; i++) assert.ok(Math.abs(ins[i] - outs[i]) <= 1e-4 * Math.max(1, Math.abs(outs[i])), `${l.name} image ${i}: Σ R_in ${ins[i]} vs Σ R_out ${outs[i]}`);
      // R(W) summed over a layer equals its Σ R_in when every input relevance comes through a weight (no constant-input term)
      if (l.rule !== 'zbox') {
        const rw = res.weights.get(l.name)!.reduce((a, b) => a + b, 0);
        const total = ins.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(rw - total) <= 1e-4 * Math.max(1, Math.abs(total)), `${l.name}: Σ R(W) ${rw} vs Σ R_in ${total}`);
      }
    }
    // no biases: the whole network conserves the target logit down to the input
    const perImage = 72;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < perImage; j++) s += res.input![i * perImage + j];
      assert.ok(Math.abs(s - res.topSums![i]) <= 1e-4 * Math.max(1, Math.abs(res.topSums![i])), `image ${i}: Σ R_input ${s} vs logit ${res.topSums![i]}`);
    }
  });
}

test('z⁺ gives non-negative relevance when the relevance reaching a layer is non-negative', async () => {
  const model = convNet(4);
  const r = new Rng(3);
  const x = Float32Array.from({ length: 4 * 72 }, () => r.next() * 2 - 1);
  const targets = argmax(await run(model, x, [4, 2, 6, 6]), 4, 3);
  // flat on the dense layer passes on the target logit's sign; keep images whose target logit is positive
  const comp: Composite = { name: 'pos', first: zPlusRule(), conv: zPlusRule(), dense: flatRule() };
  const logits = await run(model, x, [4, 2, 6, 6]);
  const keep = targets.map((_, i) => i).filter((i) => logits[i * 3 + targets[i]] > 0);
  assert.ok(keep.length > 0);
  const xs = new Float32Array(keep.length * 72);
  keep.forEach((i, k) => xs.set(x.subarray(i * 72, (i + 1) * 72), k * 72));
  const res = await runRelevance(relevanceGraph(model, { composite: comp, outputs: { input: true, weights: true } }), xs, [2, 6, 6], keep.map((i) => targets[i]));
  assert.ok(res.input!.every((v) => v >= -1e-6), 'input relevance ≥ 0');
  for (const l of ['c2', 'fc']) assert.ok(res.weights.get(l)!.every((v) => v >= -1e-6), `${l}: R(W) ≥ 0`);
});

test('batch norm folding: same logits, BN nodes gone, names kept, and relevance of the folded model is used', async () => {
  const model = convNet(2, { bn: true, bias: true });
  const folded = foldBatchNorm(model);
  assert.deepEqual(folded.folded, [{ layer: 'c1', batchNorm: 'bn1' }]);
  assert.ok(!folded.model.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
  assert.ok(folded.model.graph.initializers.has('c1.weight'));
  assert.ok(!folded.model.graph.initializers.has('bn1.running_var'));
  assert.equal(model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 1, 'the input model is not changed');
  const r = new Rng(9);
  const x = Float32Array.from({ length: 6 * 72 }, () => r.normal());
  const a = await run(model, x, [6, 2, 6, 6]);
  const b = await run(folded.model, x, [6, 2, 6, 6]);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `logit ${i}: ${a[i]} vs ${b[i]}`);
  // a conv without bias gets a folded bias; the relevance graph reports the folding
  const noBias = foldBatchNorm(convNet(2, { bn: true }));
  assert.ok(noBias.model.graph.initializers.has('c1.folded_bias'));
  const rg = relevanceGraph(convNet(2, { bn: true }));
  assert.deepEqual(rg.folded.map((f) => f.batchNorm), ['bn1']);
  const unfolded = relevanceGraph(convNet(2, { bn: true }), { canonize: false, outputs: { conservation: true } });
  assert.equal(unfolded.folded.length, 0);
});

function selfLabelled(labels: number[], x: Float32Array): Dataset {
  return { name: 'self', x, y: Uint8Array.from(labels), shape: [2, 6, 6], classes: 3, count: labels.length };
}

test('lrpScores: per weight by default, channel sums and neuron relevance; batch size does not matter', async () => {
  const model = convNet(5);
  const r = new Rng(4);
  const n = 30;
  const x = Float32Array.from({ length: n * 72 }, () => r.next());
  const data = selfLabelled(argmax(await run(model, x, [n, 2, 6, 6]), n, 3), x);
  const w = await lrpScores(model, { data, images: n, batch: 4 });
  const w2 = await lrpScores(model, { data, images: n, batch: 30 });
  assert.deepEqual(w.layers.map((l) => [l.name, l.unit, l.scores.length]), [['c1', 'weight', 54], ['c2', 'weight', 108], ['fc', 'weight', 108]]);
  w.layers.forEach((l, j) => { const sc = maxAbs(l.scores); l.scores.forEach((v, i) => assert.ok(Math.abs(v - w2.layers[j].scores[i]) <= 1e-5 * sc, `${l.name}[${i}]`)); });
  const info = w.info as { rules: { name: string; rule: string }[]; perClass: number[]; conservation: { ratio: number }[] };
  assert.deepEqual(info.rules.map((x) => x.rule), ['flat', 'zplus', 'epsilon']);
  const counts = [0, 1, 2].map((c) => data.y.filter((y) => y === c).length);
  assert.deepEqual(info.perClass, counts.map((k) => Math.min(k, n / 3)), 'balanced: at most images/classes per class');
  const ch = await lrpScores(model, { data, images: n, unit: 'channel' });
  computeLayers(model).forEach((l, j) => {
    const idx = channelWeightIndices(model, l);
    ch.layers[j].scores.forEach((v, c) => { let s = 0; for (const i of idx(c)) s += w.layers[j].scores[i]; assert.ok(Math.abs(v - s) <= 1e-6 * (1 + Math.abs(s))); });
  });
  const neu = await lrpScores(model, { data, images: n, unit: 'neuron' });
  assert.deepEqual(neu.layers.map((l) => l.scores.length), [3 * 36, 4 * 9, 3]);
  const truth = await lrpScores(model, { data, images: n, start: 'true' });
  // correctly classified images: true class = predicted class (equal up to onnxruntime's threaded rounding)
  truth.layers.forEach((l, j) => { const sc = maxAbs(l.scores); l.scores.forEach((v, i) => assert.ok(Math.abs(v - w.layers[j].scores[i]) <= 1e-5 * sc)); });
});

test('LRP rejects ops it has no rule for and a product of two activations', () => {
  const b = new GraphBuilder('bad');
  const x = b.input('x', ['batch', 3]);
  const h = b.op('Gemm', [x, b.init('w', [3, 3], new Array(9).fill(0.1))], { transB: A.i(1) }, 'fc');
  b.node('Mul', [h, h], {}, { name: 'square', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  assert.throws(() => relevanceGraph(makeModel(b.build())), (e: Error) => e instanceof FlipguardError && /square/.test(e.message));
  const rule: LrpRule = { name: 'custom', terms: [{ input: 'keep', weight: 'positive', sign: 1 }], bias: false, epsilon: 1e-6 };
  assert.doesNotThrow(() => relevanceGraph(mlp(), { composite: { name: 'c', first: rule, conv: rule, dense: rule } }));
});
