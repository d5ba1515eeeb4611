import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { countModel } from '../src/graph/count.js';
import type { Model } from '../src/graph/types.js';
import { ModelRunner } from '../src/runtime/session.js';
import { buildModel } from '../src/models/index.js';
import { channelWeightIndices, computeLayers, l1Scores, randomScores, topK, type Scores } from '../src/analysis/scores.js';
import { FlipguardError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { loadDataset } from '../src/data/index.js';
import {
  channelGroups, fineTune, prune, pruneChannels, searchRatios, type PruneChannelsOptions, type RemovedChannels, type SearchRow,
} from '../src/prune/index.js';
import { randomImages } from '../src/data/random.js';

// ───────────────────────────── helpers ─────────────────────────────

function randn(rng: Rng, n: number, scale = 0.5): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

function inputs(n: number, shape: number[], seed = 5): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);
}

async function logits(model: Model, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const r = await ModelRunner.create(model);
  try {
    const out = await r.run(x, dims);
    return out[r.outputNames[0]].data as Float32Array;
  } finally {
    await r.release();
  }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

function snapshot(model: Model): Map<string, { dims: number[]; data: number[] }> {
  return new Map([...model.graph.initializers].map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, Number) }]));
}

/** conv(1→4) → BN → relu → conv(4→6) → relu → flatten → gemm(216→5) → gemm(5→3) on 1×6×6 images. */
interface SmallParams {
  c1: number; c2: number; f1: number;
  w1: Float32Array; b1: Float32Array; scale: Float32Array; shift: Float32Array; mean: Float32Array; variance: Float32Array;
  w2: Float32Array; b2: Float32Array; g1w: Float32Array; g1b: Float32Array; g2w: Float32Array; g2b: Float32Array;
}

function smallNet(p: SmallParams): Model {
  const g = new GraphBuilder('small');
  const x = g.input('input', ['batch', 1, 6, 6]);
  const conv = { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) };
  let y = g.op('Conv', [x, g.init('conv1.weight', [p.c1, 1, 3, 3], p.w1), g.init('conv1.bias', [p.c1], p.b1)], conv, 'conv1');
  y = g.op('BatchNormalization', [y, g.init('bn1.weight', [p.c1], p.scale), g.init('bn1.bias', [p.c1], p.shift), g.init('bn1.running_mean', [p.c1], p.mean), g.init('bn1.running_var', [p.c1], p.variance)], { epsilon: A.f(1e-5) }, 'bn1');
  y = g.op('Relu', [y], {}, 'relu1');
  y = g.op('Conv', [y, g.init('conv2.weight', [p.c2, p.c1, 3, 3], p.w2), g.init('conv2.bias', [p.c2], p.b2)], conv, 'conv2');
  y = g.op('Relu', [y], {}, 'relu2');
  y = g.op('Flatten', [y], { axis: A.i(1) }, 'flatten');
  y = g.op('Gemm', [y, g.init('fc1.weight', [p.f1, p.c2 * 36], p.g1w), g.init('fc1.bias', [p.f1], p.g1b)], { transB: A.i(1) }, 'fc1');
  g.node('Gemm', [y, g.init('fc2.weight', [3, p.f1], p.g2w), g.init('fc2.bias', [3], p.g2b)], { transB: A.i(1) }, { name: 'fc2', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  return makeModel(g.build());
}

function smallParams(seed = 11): SmallParams {
  const rng = new Rng(seed);
  const c1 = 4, c2 = 6, f1 = 5;
  return {
    c1, c2, f1,
    w1: randn(rng, c1 * 9), b1: randn(rng, c1, 0.1),
    scale: Float32Array.from({ length: c1 }, () => 0.5 + rng.next()), shift: randn(rng, c1, 0.2),
    mean: randn(rng, c1, 0.1), variance: Float32Array.from({ length: c1 }, () => 0.5 + rng.next()),
    w2: randn(rng, c2 * c1 * 9, 0.3), b2: randn(rng, c2, 0.1),
    g1w: randn(rng, f1 * c2 * 36, 0.1), g1b: randn(rng, f1, 0.1), g2w: randn(rng, 3 * f1), g2b: randn(rng, 3, 0.1),
  };
}

/**
 * Zeroes the weights and biases of every removed channel (so that, in the zoo's default batch-norm
 * state, the channel is 0 after its activation: "dead"). Pruning a dead channel must not change
 * the logits beyond float rounding.
 */
function killRemoved(model: Model, removed: RemovedChannels[]): Model {
  const inits = new Map(model.graph.initializers);
  const copy = (name: string): Float32Array => {
    const t = inits.get(name)!;
    const data = (t.data as Float32Array).slice();
    inits.set(name, { ...t, data });
    return data;
  };
  const layers = computeLayers(model);
  for (const r of removed) {
    if (!r.removed.length) continue;
    const l = layers.find((x) => x.node.name === r.layer)!;
    const idx = channelWeightIndices(model, l);
    const w = copy(l.weight);
    const b = l.bias ? copy(l.bias) : undefined;
    for (const c of r.removed) {
      for (const i of idx(c)) w[i] = 0;
      if (b) b[c] = 0;
    }
  }
  return { ...model, graph: { ...model.graph, initializers: inits } };
}

async function checkDeadChannels(model: Model, conv: number, fc: number, extra: Partial<PruneChannelsOptions> = {}) {
  const scores = randomScores(model, { seed: 3 });
  const first = pruneChannels(model, { scores, conv, fc, ...extra });
  const dead = killRemoved(model, first.removed);
  const res = pruneChannels(dead, { scores, conv, fc, ...extra });
  assert.deepEqual(res.removed, first.removed, 'the removal depends on scores only');
  const shape = (model.graph.inputs[0].shape ?? []).slice(1) as number[];
  const x = inputs(3, shape);
  const ref = await logits(dead, x, [3, ...shape]);
  const got = await logits(res.model, x, [3, ...shape]);
  assert.ok(got.every(Number.isFinite));
  // removing channels whose contribution is exactly 0 only reorders float sums
  const d = maxRelDiff(got, ref);
  assert.ok(d <= 1e-4, `pruned logits differ from the original's by ${d}`);
  const c0 = countModel(dead), c1 = countModel(res.model);
  return { res, c0, c1 };
}

// ───────────────────────────── structured pruning ─────────────────────────────

test('ratio 0 is the identity: identical initializers and logits', async () => {
  for (const arch of ['vgg11', 'resnet20', 'densenet']) {
    const m = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 2 });
    const r = pruneChannels(m, { scores: l1Scores(m), conv: 0, fc: 0 });
    assert.deepEqual(snapshot(r.model), snapshot(m), arch);
    assert.ok(r.removed.length > 0 && r.removed.every((e) => e.removed.length === 0 && e.kept.length === e.channels));
    // ratios too small to remove a whole channel are the identity too
    const tiny = pruneChannels(m, { scores: l1Scores(m), conv: 0.005, fc: 0.005 });
    assert.deepEqual(snapshot(tiny.model), snapshot(m), arch);
    const x = inputs(4, [1, 28, 28]);
    assert.deepEqual(await logits(r.model, x, [4, 1, 28, 28]), await logits(m, x, [4, 1, 28, 28]));
  }
});

test('a pruned network equals the same network with the channels removed by hand (tolerance 1e-6)', async () => {
  const p = smallParams();
  const model = smallNet(p);
  const before = snapshot(model);
  const scores: Scores = {
    method: 'test',
    layers: [
      { name: 'conv1', op: 'Conv', unit: 'channel', scores: [0.3, 0.1, 0.9, 0.2] },
      { name: 'conv2', op: 'Conv', unit: 'channel', scores: [5, 1, 4, 2, 6, 3] },
      { name: 'fc1', op: 'Gemm', unit: 'neuron', scores: [1, 5, 2, 4, 3] },
      { name: 'fc2', op: 'Gemm', unit: 'neuron', scores: [1, 2, 3] },
    ],
  };
  const r = pruneChannels(model, { scores, conv: 0.5, fc: 0.4 });
  assert.deepEqual(snapshot(model), before, 'the input model is not modified');
  const k1 = [0, 2], k2 = [0, 2, 4], k3 = [1, 3, 4];
  assert.deepEqual(r.removed.map((e) => [e.layer, e.kept, e.removed]), [
    ['conv1', k1, [1, 3]], ['conv2', k2, [1, 3, 5]], ['fc1', k3, [0, 2]],
  ]);
  assert.deepEqual(r.skipped.map((s) => s.layer), ['fc2']);

  // the reference: slice every tensor by hand and build the same network
  const pick = (a: Float32Array, idx: number[]) => Float32Array.from(idx, (i) => a[i]);
  const w1: number[] = [];
  for (const o of k1) for (let s = 0; s < 9; s++) w1.push(p.w1[o * 9 + s]);
  const w2: number[] = [];
  for (const o of k2) for (const i of k1) for (let s = 0; s < 9; s++) w2.push(p.w2[(o * p.c1 + i) * 9 + s]);
  const g1w: number[] = [];
  for (const o of k3) for (const c of k2) for (let s = 0; s < 36; s++) g1w.push(p.g1w[o * p.c2 * 36 + c * 36 + s]);
  const g2w: number[] = [];
  for (let o = 0; o < 3; o++) for (const i of k3) g2w.push(p.g2w[o * p.f1 + i]);
  const ref = smallNet({
    c1: 2, c2: 3, f1: 3,
    w1: Float32Array.from(w1), b1: pick(p.b1, k1), scale: pick(p.scale, k1), shift: pick(p.shift, k1), mean: pick(p.mean, k1), variance: pick(p.variance, k1),
    w2: Float32Array.from(w2), b2: pick(p.b2, k2), g1w: Float32Array.from(g1w), g1b: pick(p.g1b, k3), g2w: Float32Array.from(g2w), g2b: p.g2b,
  });
  assert.deepEqual(snapshot(r.model), snapshot(ref));
  const x = inputs(16, [1, 6, 6]);
  const got = await logits(r.model, x, [16, 1, 6, 6]);
  const want = await logits(ref, x, [16, 1, 6, 6]);
  // same ops on the same values: identical up to float rounding (in practice bit-identical)
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6, `logit ${i}: ${got[i]} vs ${want[i]}`);

  // counts: parameters and MACs per image drop exactly as the layer sizes say
  const c0 = countModel(model), c1 = countModel(r.model);
  assert.equal(c0.parameters, 36 + 4 + 16 + 216 + 6 + 1080 + 5 + 15 + 3);
  assert.equal(c1.parameters, 18 + 2 + 8 + 54 + 3 + 324 + 3 + 9 + 3);
  assert.equal(c0.macs, 4 * 36 * 9 + 6 * 36 * 36 + 216 * 5 + 5 * 3);
  assert.equal(c1.macs, 2 * 36 * 9 + 3 * 36 * 18 + 108 * 3 + 3 * 3);
});

test('ties are broken deterministically (lower channel index kept) and minKeep is honoured', () => {
  const model = smallNet(smallParams());
  const flat = (n: number) => new Array(n).fill(1);
  const scores: Scores = { method: 'flat', layers: [{ name: 'conv1', op: 'Conv', unit: 'channel', scores: flat(4) }, { name: 'conv2', op: 'Conv', unit: 'channel', scores: flat(6) }, { name: 'fc1', op: 'Gemm', unit: 'neuron', scores: flat(5) }] };
  const r = pruneChannels(model, { scores, conv: 0.5, fc: 0.5 });
  assert.deepEqual(r.removed.map((e) => e.kept), [[0, 1], [0, 1, 2], [0, 1, 2]]);
  const k = pruneChannels(model, { scores, conv: 0.9, fc: 0.9, minKeep: 3 });
  assert.deepEqual(k.removed.map((e) => e.kept.length), [3, 3, 3]);
});

test('depthwise conv, MatMul + Add dense layers and an explicit Reshape flatten are sliced consistently', async () => {
  const rng = new Rng(4);
  const g = new GraphBuilder('dw');
  const x = g.input('input', ['batch', 1, 6, 6]);
  const conv = { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) };
  let y = g.op('Conv', [x, g.init('c1.w', [4, 1, 3, 3], randn(rng, 36)), g.init('c1.b', [4], randn(rng, 4, 0.1))], conv, 'c1');
  y = g.op('Relu', [y], {}, 'r1');
  const dwBias = randn(rng, 4, 0.1);
  y = g.op('Conv', [y, g.init('dw.w', [4, 1, 3, 3], randn(rng, 36)), g.init('dw.b', [4], dwBias)], { ...conv, group: A.i(4) }, 'dw');
  y = g.op('Relu', [y], {}, 'r2');
  y = g.op('Reshape', [y, g.ints('shape', [-1, 144])], {}, 'reshape');
  y = g.op('MatMul', [y, g.init('d1.w', [144, 5], randn(rng, 720, 0.1))], {}, 'd1');
  y = g.op('Add', [y, g.init('d1.b', [5], randn(rng, 5, 0.1))], {}, 'd1.add');
  y = g.op('Relu', [y], {}, 'r3');
  y = g.op('MatMul', [y, g.init('d2.w', [5, 3], randn(rng, 15))], {}, 'd2');
  g.node('Add', [y, g.init('d2.b', [3], randn(rng, 3, 0.1))], {}, { name: 'd2.add', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  let model = makeModel(g.build());
  const scores: Scores = { method: 't', layers: [{ name: 'c1', op: 'Conv', unit: 'channel', scores: [3, 1, 4, 2] }, { name: 'd1', op: 'MatMul', unit: 'neuron', scores: [5, 4, 1, 3, 2] }] };
  const first = pruneChannels(model, { scores, conv: 0.5, fc: 0.4 });
  assert.deepEqual(first.removed.map((e) => [e.layer, e.removed]), [['c1', [1, 3]], ['d1', [2, 4]]]);
  assert.ok(first.skipped.some((s) => s.layer === 'dw' && /depthwise/.test(s.reason)));
  // make the removed channels dead (the depthwise conv's bias of a dead input channel too)
  model = killRemoved(model, first.removed);
  const dwb = Float32Array.from(dwBias); dwb[1] = 0; dwb[3] = 0;
  model.graph.initializers.set('dw.b', { ...model.graph.initializers.get('dw.b')!, data: dwb });
  const r = pruneChannels(model, { scores, conv: 0.5, fc: 0.4 });
  const gi = r.model.graph.initializers;
  assert.deepEqual(gi.get('dw.w')!.dims, [2, 1, 3, 3]);
  assert.equal(r.model.graph.nodes.find((n) => n.name === 'dw')!.attributes.group.value, 2);
  assert.deepEqual(Array.from(gi.get('shape')!.data as BigInt64Array, Number), [-1, 72]);
  assert.deepEqual(gi.get('d1.w')!.dims, [72, 3]);
  assert.deepEqual(gi.get('d1.b')!.dims, [3]);
  assert.deepEqual(gi.get('d2.w')!.dims, [3, 3]);
  const xs = inputs(5, [1, 6, 6]);
  assert.ok(maxRelDiff(await logits(r.model, xs, [5, 1, 6, 6]), await logits(model, xs, [5, 1, 6, 6])) <= 1e-5);
});

test('zoo models at MNIST size prune, run, shrink, and match the original when the removed channels are dead', async () => {
  const cases: [string, number][] = [['lenet5', 0.5], ['alexnet', 0.125], ['vgg11', 0.25], ['resnet20', 0.25], ['resnet18', 0.125], ['densenet', 0.25]];
  for (const [arch, width] of cases) {
    const m = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width, seed: 1 });
    const { res, c0, c1 } = await checkDeadChannels(m, 0.3, 0.5);
    assert.ok(c1.parameters < c0.parameters, `${arch}: parameters ${c0.parameters} → ${c1.parameters}`);
    assert.ok(c1.macs < c0.macs, `${arch}: MACs ${c0.macs} → ${c1.macs}`);
    assert.ok(res.removed.some((e) => e.removed.length > 0));
    // the output layer is never pruned
    const out = computeLayers(m).filter((l) => l.isOutput).map((l) => l.node.name);
    assert.ok(out.every((n) => res.skipped.some((s) => s.layer === n)) && out.every((n) => !res.removed.some((e) => e.layer === n)), arch);
    // every conv and hidden dense layer is pruned (residual groups included)
    const layers = computeLayers(m).filter((l) => !l.isOutput).map((l) => l.node.name);
    assert.deepEqual(res.removed.map((e) => e.layer).sort(), layers.sort(), arch);
  }
});

test('residual groups: channels meeting at an Add are pruned identically, by summed normalised scores', async () => {
  const m = buildModel('resnet20', { inputShape: [1, 28, 28], classes: 10, width: 0.5, seed: 1 });
  const groups = channelGroups(m).filter((gr) => gr.layers.length > 1);
  assert.deepEqual(groups.map((gr) => [...gr.layers].sort()), [
    ['conv1', 'layer1.0.conv2', 'layer1.1.conv2', 'layer1.2.conv2'],
    ['layer2.0.conv2', 'layer2.0.downsample.0', 'layer2.1.conv2', 'layer2.2.conv2'],
    ['layer3.0.conv2', 'layer3.0.downsample.0', 'layer3.1.conv2', 'layer3.2.conv2'],
  ]);
  assert.ok(groups.every((gr) => gr.status === 'prunable'));
  // the same scores in every member (different scales): the group keeps the top of those scores
  const base = randomScores(m, { seed: 9 });
  const pattern = new Map<number, number[]>();
  const scores: Scores = {
    method: 'scaled',
    layers: base.layers.map((l, i) => {
      if (!pattern.has(l.scores.length)) pattern.set(l.scores.length, l.scores);
      return { ...l, scores: pattern.get(l.scores.length)!.map((v) => v * (i + 1)) };
    }),
  };
  const r = pruneChannels(m, { scores, conv: 0.5, fc: 0 });
  for (const gr of groups) {
    const entries = r.removed.filter((e) => gr.layers.includes(e.layer));
    assert.equal(entries.length, gr.layers.length);
    const c = gr.channels;
    const want = topK(pattern.get(c)!, c - Math.floor(c / 2)).sort((a, b) => a - b);
    for (const e of entries) {
      assert.deepEqual(e.kept, want, e.layer);
      assert.deepEqual([...e.group!].sort(), [...gr.layers].sort());
    }
  }
  // inner convs are independent single layers
  assert.ok(r.removed.filter((e) => /conv1$/.test(e.layer) && e.layer !== 'conv1').every((e) => !e.group && e.removed.length > 0));
  const x = inputs(2, [1, 28, 28]);
  assert.equal((await logits(r.model, x, [2, 1, 28, 28])).length, 20);

  // residual: 'skip' leaves the groups alone and reports them; inner convs are still pruned
  const s = pruneChannels(m, { scores, conv: 0.5, fc: 0, residual: 'skip' });
  for (const gr of groups) for (const l of gr.layers) {
    assert.ok(s.skipped.some((k) => k.layer === l && /residual/.test(k.reason)), l);
    assert.ok(!s.removed.some((e) => e.layer === l));
  }
  assert.ok(s.removed.length === 9 && s.removed.every((e) => e.removed.length > 0));
  assert.ok(countModel(s.model).macs < countModel(m).macs);
  assert.equal((await logits(s.model, x, [2, 1, 28, 28])).length, 20);
  // the layers option prunes a whole group when one member is named
  const one = pruneChannels(m, { scores, conv: 0.5, fc: 0, layers: ['layer2.1.conv2'] });
  assert.deepEqual(one.removed.map((e) => e.layer).sort(), [...groups[1].layers].sort());
});

test('layers that cannot be sliced safely are skipped and reported, or throw with skipUnprunable: false', async () => {
  const rng = new Rng(8);
  const g = new GraphBuilder('t');
  const x = g.input('input', ['batch', 1, 6, 6]);
  const conv = { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) };
  let y = g.op('Conv', [x, g.init('c1.w', [4, 1, 3, 3], randn(rng, 36))], conv, 'c1');
  y = g.op('Transpose', [y], { perm: A.is([0, 1, 3, 2]) }, 'transpose');
  y = g.op('Conv', [y, g.init('c2.w', [4, 4, 3, 3], randn(rng, 144))], conv, 'c2');
  y = g.op('Flatten', [y], { axis: A.i(1) }, 'flatten');
  g.node('Gemm', [y, g.init('fc.w', [3, 144], randn(rng, 432, 0.1))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  const model = makeModel(g.build());
  const scores = l1Scores(model);
  const r = pruneChannels(model, { scores, conv: 0.5, fc: 0 });
  assert.deepEqual(r.removed.map((e) => e.layer), ['c2']);
  const sk = r.skipped.find((s) => s.layer === 'c1');
  assert.ok(sk && /Transpose/.test(sk.reason), JSON.stringify(r.skipped));
  assert.ok(r.skipped.some((s) => s.layer === 'fc' && /output/.test(s.reason)));
  const xs = inputs(2, [1, 6, 6]);
  assert.equal((await logits(r.model, xs, [2, 1, 6, 6])).length, 6);
  assert.throws(() => pruneChannels(model, { scores, conv: 0.5, fc: 0, skipUnprunable: false }), (e: Error) => e instanceof FlipguardError && /"c1"/.test(e.message));
  // nothing to remove from it: no error
  assert.doesNotThrow(() => pruneChannels(model, { scores, conv: 0.1, fc: 0, skipUnprunable: false }));
});

test('bad options are FlipguardErrors', () => {
  const m = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 0.5 });
  const scores = l1Scores(m);
  const bad = (opts: object, re: RegExp) => assert.throws(() => pruneChannels(m, { scores, conv: 0.5, fc: 0.5, ...opts }), (e: Error) => e instanceof FlipguardError && re.test(e.message), JSON.stringify(opts));
  bad({ conv: -0.1 }, /option "conv" must be a share from 0 to 1/);
  bad({ fc: 1.5 }, /option "fc" must be a share from 0 to 1/);
  bad({ fc: Number.NaN }, /option "fc"/);
  bad({ conv: '0.5' }, /option "conv"/);
  bad({ minKeep: 0 }, /minKeep/);
  bad({ layers: ['fc3'] }, /output/);
  bad({ layers: ['nope'] }, /No conv or dense layer named "nope"/);
  bad({ scores: { method: 'x', layers: [...scores.layers, { name: 'ghost', op: 'Conv', unit: 'channel', scores: [1] }] } }, /"ghost"/);
  bad({ scores: { method: 'x', layers: scores.layers.filter((l) => l.name !== 'conv2') } }, /no entry for layer "conv2"/);
  bad({ scores: { method: 'x', layers: scores.layers.map((l) => (l.name === 'conv1' ? { ...l, scores: l.scores.slice(1) } : l)) } }, /conv1/);
  bad({ scores: { method: 'x', layers: scores.layers.map((l) => (l.name === 'conv1' ? { ...l, scores: l.scores.map(() => Number.POSITIVE_INFINITY) } : l)) } }, /infinite/);
  bad({ residual: 'maybe' }, /residual/);
});

// ───────────────────────────── search, fine-tuning, prune ─────────────────────────────

/** A monotone synthetic accuracy: 0.9 minus 10 points per unit of MAC reduction. */
function macEvaluator(m0: number, calls: { n: number }) {
  return async (model: Model) => {
    calls.n++;
    return 0.9 - 0.1 * (1 - countModel(model).macs / m0);
  };
}

test('the ratio search respects the accuracy threshold and finds the grid optimum (injected evaluator)', async () => {
  const m = buildModel('vgg11', { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 1 });
  const m0 = countModel(m).macs;
  const convRatios = [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5];
  const fcRatios = [0, 0.2, 0.5, 0.8];
  const common = { scores: l1Scores(m), convRatios, fcRatios, threshold: 3, epochs: 0 } as const;
  const results: Record<string, Awaited<ReturnType<typeof searchRatios>>> = {};
  for (const strategy of ['exhaustive', 'ordered', 'staircase'] as const) {
    const calls = { n: 0 };
    const progress: SearchRow[] = [];
    const res = await searchRatios(m, { ...common, strategy, evaluate: macEvaluator(m0, calls), onProgress: (p) => progress.push(p.row) });
    results[strategy] = res;
    assert.equal(res.baseline.accuracy, 0.9);
    assert.ok(progress.length > 0);
    for (const row of res.rows) {
      if (row.status === 'accepted') assert.ok(row.drop! <= 3 + 1e-9, `${row.conv}/${row.fc}`);
      if (row.status === 'rejected') assert.ok(row.drop! > 3);
    }
    assert.ok(res.chosen.accepted && res.chosen.drop! <= 3);
    assert.equal(res.grid.length, convRatios.length * fcRatios.length);
    assert.equal(countModel(res.model).macs, res.chosen.macs);
  }
  const ex = results.exhaustive;
  const accepted = ex.grid.filter((r) => r.accepted);
  const best = accepted.reduce((a, b) => (b.macs < a.macs || (b.macs === a.macs && b.parameters < a.parameters) ? b : a));
  assert.ok(best.conv > 0, 'the threshold lets some pruning through');
  for (const s of ['exhaustive', 'ordered', 'staircase']) {
    assert.deepEqual([results[s].chosen.macs, results[s].chosen.parameters], [best.macs, best.parameters], s);
  }
  assert.ok(results.staircase.evaluations <= convRatios.length + fcRatios.length - 1);
  assert.ok(results.ordered.evaluations < results.exhaustive.evaluations);
  // inferred outcomes agree with the exhaustive truth
  for (const r of results.staircase.grid) {
    const truth = ex.grid.find((t) => t.conv === r.conv && t.fc === r.fc)!;
    if (r.accepted !== null) assert.equal(r.accepted, truth.accepted, `${r.conv}/${r.fc} ${r.status}`);
  }
  // threshold 0: nothing that loses accuracy is accepted
  const strict = await searchRatios(m, { ...common, threshold: 0, strategy: 'ordered', evaluate: macEvaluator(m0, { n: 0 }) });
  assert.equal(strict.chosen.macs, m0);
  await assert.rejects(searchRatios(m, { ...common, convRatios: [0, 1.5], evaluate: macEvaluator(m0, { n: 0 }) }), /option "convRatios" must be a share from 0 to 1 inclusive/);
  await assert.rejects(searchRatios(m, { ...common, threshold: -1, evaluate: macEvaluator(m0, { n: 0 }) }), FlipguardError);
  await assert.rejects(searchRatios(m, { ...common, epochs: 1, evaluate: macEvaluator(m0, { n: 0 }) }), /training data/);
});

test('fineTune (1 epoch, 2 steps) and a real search/prune run on MNIST', async () => {
  const train = loadDataset({ data: 'mnist', split: 'train', limit: 128 });
  const testSet = loadDataset({ data: 'mnist', split: 'test', limit: 64 });
  const m = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 0.5, seed: 1 });
  const same = await fineTune(m, train, { epochs: 0 });
  assert.equal(same.model, m);
  const t = await fineTune(m, train, { epochs: 1, maxStepsPerEpoch: 2, batch: 32, evalData: testSet });
  assert.equal(t.history.length, 1);
  assert.notDeepEqual(snapshot(t.model).get('conv1.weight'), snapshot(m).get('conv1.weight'));

  const res = await searchRatios(m, {
    scores: l1Scores(m), convRatios: [0, 0.25], fcRatios: [0, 0.5], threshold: 100, strategy: 'ordered',
    trainData: train, evalData: testSet, epochs: 1, fineTune: { maxStepsPerEpoch: 2, batch: 32 },
  });
  assert.deepEqual([res.chosen.conv, res.chosen.fc], [0.25, 0.5]);
  assert.equal(res.evaluations, 1);
});

test('prune() returns the pruned model and a JSON-able report (fixed ratios and search)', async () => {
  const m = buildModel('alexnet', { inputShape: [1, 28, 28], classes: 10, width: 0.125, seed: 1 });
  const m0 = countModel(m).macs;
  const evalData = randomImages(64, [1, 28, 28], 10, 3);
  const tuned: string[] = [];
  const fixed = await prune(m, {
    scores: l1Scores(m), rank: 'l1', conv: 0.2, fc: 0.5, evalData, timeRepeats: 1,
    evaluate: macEvaluator(m0, { n: 0 }), fineTuneModel: async (model, p) => { tuned.push(`${p.conv}/${p.fc}`); return model; },
  });
  const rep = fixed.report;
  assert.deepEqual(JSON.parse(JSON.stringify(rep)), rep);
  assert.deepEqual(tuned, ['0.2/0.5']);
  assert.deepEqual(rep.ratios, { conv: 0.2, fc: 0.5 });
  assert.equal(rep.rank, 'l1');
  assert.ok(rep.parameters.after < rep.parameters.before && rep.macs.after < rep.macs.before && rep.parameters.ratio < 1);
  assert.equal(rep.accuracy.before, 0.9);
  assert.ok(rep.accuracy.after! < 0.9 && Math.abs(rep.accuracy.drop! - 100 * (0.9 - rep.accuracy.after!)) < 1e-9);
  assert.ok(rep.timeMs && rep.timeMs.before > 0 && rep.timeMs.after > 0);
  assert.equal(countModel(fixed.model).macs, rep.macs.after);
  assert.ok(rep.layers.length === 7 && rep.skipped.some((s) => s.layer === 'fc3'));

  const searched = await prune(m, {
    scores: l1Scores(m), search: { convRatios: [0, 0.1, 0.3], fcRatios: [0, 0.5, 0.9], threshold: 2 }, epochs: 0,
    evaluate: macEvaluator(m0, { n: 0 }), measureTime: false,
  });
  const sr = searched.report;
  assert.deepEqual(JSON.parse(JSON.stringify(sr)), sr);
  assert.ok(sr.search && sr.search.rows.length > 0 && sr.search.grid.length === 9);
  assert.ok(sr.accuracy.drop! <= 2 && sr.timeMs === null);
  assert.deepEqual(sr.ratios, { conv: sr.search.rows.find((r) => r.macs === sr.macs.after && r.accepted)!.conv, fc: sr.ratios.fc });

  await assert.rejects(prune(m, { scores: l1Scores(m), conv: 0.1, epochs: 0 }), /both pruning ratios/);
  await assert.rejects(prune(m, { scores: l1Scores(m), conv: 0.1, fc: 0.1 }), /training set/);
});

test('grouped convs keep their groups: equal removals per group, input channels sliced per group', async () => {
  const rng = new Rng(9);
  const g = new GraphBuilder('grouped');
  const x = g.input('input', ['batch', 2, 6, 6]);
  const k3 = { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) };
  const conv = (name: string, y: string, dims: number[], attrs: Record<string, ReturnType<typeof A.i>> = {}) => g.op('Relu', [g.op('Conv', [y, g.init(`${name}.w`, dims, randn(rng, dims.reduce((a, b) => a * b, 1))), g.init(`${name}.b`, [dims[0]], randn(rng, dims[0], 0.1))], attrs, name)]);
  let y = conv('c1', x, [8, 2, 3, 3], k3);
  y = conv('g2', y, [16, 2, 3, 3], { ...k3, group: A.i(4) }); // 8 → 16 in 4 groups
  y = conv('g3', y, [8, 8, 1, 1], { group: A.i(2) }); // 16 → 8 in 2 groups
  y = conv('c4', y, [6, 8, 1, 1]);
  y = g.op('Flatten', [g.op('GlobalAveragePool', [y])], { axis: A.i(1) });
  g.node('Gemm', [y, g.init('fc.w', [3, 6], randn(rng, 18)), g.init('fc.b', [3], randn(rng, 3, 0.1))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  const model = makeModel(g.build());
  // c1 feeds 4 groups, g2 is 4 groups and feeds 2 (lcm 4), g3 is 2 groups
  assert.deepEqual(channelGroups(model).map((gr) => [gr.layers[0], gr.status, gr.blocks ?? 1]), [['c1', 'prunable', 4], ['g2', 'prunable', 4], ['g3', 'prunable', 2], ['c4', 'prunable', 1], ['fc', 'output', 1]]);
  const { res } = await checkDeadChannels(model, 0.5, 0);
  const kept = (layer: string) => res.removed.find((e) => e.layer === layer)!.kept;
  const perBlock = (k: number[], size: number) => k.reduce((acc, c) => { acc[Math.floor(c / size)]++; return acc; }, new Array(k.length ? Math.max(...k.map((c) => Math.floor(c / size))) + 1 : 0).fill(0));
  assert.deepEqual(perBlock(kept('c1'), 2), [1, 1, 1, 1], 'c1 loses one channel in each of g2\'s 4 input groups');
  assert.deepEqual(perBlock(kept('g2'), 4), [2, 2, 2, 2]);
  assert.deepEqual(perBlock(kept('g3'), 4), [2, 2]);
  const gi = res.model.graph.initializers;
  assert.deepEqual(['c1.w', 'g2.w', 'g3.w', 'c4.w'].map((n) => gi.get(n)!.dims), [[4, 2, 3, 3], [8, 1, 3, 3], [4, 4, 1, 1], [3, 4, 1, 1]]);
  assert.deepEqual(res.model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.attributes.group?.value ?? 1), [1, 4, 2, 1], 'group counts are kept');
  // a grouped conv that reads concatenated channels is left alone, with the reason
  const b = new GraphBuilder('concat');
  const xi = b.input('input', ['batch', 2, 6, 6]);
  const a1 = b.op('Conv', [xi, b.init('a.w', [4, 2, 1, 1], randn(rng, 8))], {}, 'a');
  const a2 = b.op('Conv', [xi, b.init('b.w', [4, 2, 1, 1], randn(rng, 8))], {}, 'b');
  const cat = b.op('Concat', [a1, a2], { axis: A.i(1) });
  const gc = b.op('Conv', [cat, b.init('gc.w', [4, 4, 1, 1], randn(rng, 16))], { group: A.i(2) }, 'gc');
  b.node('Gemm', [b.op('Flatten', [b.op('GlobalAveragePool', [gc])], { axis: A.i(1) }), b.init('o.w', [3, 4], randn(rng, 12))], { transB: A.i(1) }, { name: 'o', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  const cr = pruneChannels(makeModel(b.build()), { scores: l1Scores(makeModel(b.build())), conv: 0.5, fc: 0 });
  assert.ok(cr.skipped.some((s) => s.layer === 'a' && /grouped Conv "gc" \(group 2\) together with other channels/.test(s.reason)), JSON.stringify(cr.skipped));
  assert.deepEqual(cr.removed.find((e) => e.layer === 'gc')!.kept.length, 2);
});
