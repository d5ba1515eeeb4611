/**
 * Hardening under faults (faults in the original and in the redundancy), the EDAC case logic,
 * the weight vote (in-graph vs JavaScript bitwise majority), option errors, reports, interval
 * profiling and overhead accounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../src/models/index.js';
import { loadDataset, subset } from '../src/data/index.js';
import { computeLayers, l1Scores, magnitudeScores, type Scores } from '../src/analysis/scores.js';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { decodeModel, encodeModel } from '../src/graph/onnx.js';
import { inferShapes } from '../src/graph/shapes.js';
import { countModel } from '../src/graph/count.js';
import { DataType, type Model } from '../src/graph/types.js';
import { FlipguardError } from '../src/errors.js';
import { flipBit, float32FromBits, bitsOfFloat32 } from '../src/faults/bits.js';
import { ModelRunner, type RuntimeOptions } from '../src/runtime/session.js';
import { predict, type Predictions } from '../src/runtime/evaluate.js';
import { Rng } from '../src/util/rng.js';
import {
  harden, profileIntervals, hardenedInfo, voteWeights, majority32, overheads, countHardened, type Intervals,
} from '../src/harden/index.js';
import { GraphEditor } from '../src/harden/graph-edit.js';
import { logitsOf as predictOn, neuronScores, randomImages } from './helpers/harden.js';
import { mergeDuplicate, rangeRestrict, vote3, type BothInside, type BothOutside, type OutsideRule } from '../src/harden/stages.js';

const testSet = loadDataset({ data: 'mnist', split: 'test' });
const test64 = subset(testSet, Array.from({ length: 64 }, (_, i) => (i * 31) % testSet.count));
const trainSet = loadDataset({ data: 'mnist', split: 'train' });
const train1k = subset(trainSet, Array.from({ length: 1000 }, (_, i) => (i * 8) % trainSet.count));
const lenet = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 1, seed: 5 });

async function run(model: Model, opts: RuntimeOptions = {}): Promise<Predictions> {
  const r = await ModelRunner.create(model, opts);
  try { return await predict(r, test64, { batch: 64 }); } finally { await r.release(); }
}

/** A copy of `model` with tensor `name` edited by `f` (on a copy of its data). */
function withTensor(model: Model, name: string, f: (d: Float32Array) => void): Model {
  const t = model.graph.initializers.get(name);
  assert.ok(t, `tensor ${name}`);
  const d = new Float32Array(t.data as Float32Array);
  f(d);
  const initializers = new Map(model.graph.initializers);
  initializers.set(name, { ...t, data: d });
  return { ...model, graph: { ...model.graph, initializers } };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
}

function agreement(a: Predictions, b: Predictions): number {
  let s = 0;
  for (let i = 0; i < a.top1.length; i++) if (a.top1[i] === b.top1[i]) s++;
  return s / a.top1.length;
}

/** Index of an element of row `row` (of `per` elements) with 0 < w < 2 (bit 30 clear; a flip makes it huge and positive), near the row's middle. */
function pickElement(w: Float32Array, row: number, per: number): number {
  for (let j = per >> 1; j < per; j++) if (w[row * per + j] > 0 && w[row * per + j] < 2) return j;
  throw new Error('no element with |w| < 2');
}

// ───────────────────────── EDAC case logic (SPEC §4.1) ─────────────────────────

/** Evaluates a stage built by `build(e, a, b, L, U, zero)` on value pairs (a, b) with [L, U] = [0, 1]. */
async function evalStage(pairs: [number, number][], build: (e: ReturnType<GraphEditor['after']>, a: string, b: string, L: string, U: string, zero: string) => string): Promise<Float32Array> {
  const g = new GraphBuilder('stage');
  g.input('a', ['n', 1]);
  g.input('b', ['n', 1]);
  g.node('Identity', ['a'], {}, { name: 'anchor', outputs: ['a_id'] });
  g.init('L', [1, 1], [0]);
  g.init('U', [1, 1], [1]);
  g.output('y', ['n', 1]);
  const base = makeModel(g.build());
  const ed = new GraphEditor(base);
  const e = ed.after(ed.graph.nodes[0]);
  const zero = e.scalar(0);
  const y = build(e, 'a_id', 'b', 'L', 'U', zero);
  e.renameOutput(y, 'y');
  const model = { ...base, graph: ed.finish() };
  const r = await ModelRunner.create(model, { input: 'a', optimization: 'disabled' });
  const ort = (await import('onnxruntime-node')).default;
  const a = Float32Array.from(pairs.map((p) => p[0])), b = Float32Array.from(pairs.map((p) => p[1]));
  const out = await r.runFeeds(a, [pairs.length, 1], undefined, { b: new ort.Tensor('float32', b, [pairs.length, 1]) });
  await r.release();
  return out.y.data as Float32Array;
}

test('EDAC merge follows cases A–D, NaN → 0 first, with every rule option', async () => {
  const pairs: [number, number][] = [
    [0.5, 0.5], [5, 5], // A: equal → a (even outside)
    [0.5, 7], [7, 0.25], [Infinity, 0.3], [0.75, -Infinity], // B: the one inside
    [0.2, 0.6], // C: both inside
    [3, -2], // D: both outside
    [NaN, 0.25], [NaN, 4], [NaN, NaN], // NaN → 0 first: (0, .25) → C; (0, 4) → B (0); (0, 0) → A
  ];
  const expect = (bothInside: BothInside, bothOutside: BothOutside): number[] => [
    0.5, 5, 0.5, 0.25, 0.3, 0.75,
    bothInside === 'min' ? 0.2 : bothInside === 'mean' ? 0.4 : 0.2,
    bothOutside === 'zero' ? 0 : bothOutside === 'clip' ? 1 : 3,
    bothInside === 'min' ? 0 : bothInside === 'mean' ? 0.125 : 0, 0, 0,
  ];
  for (const bothInside of ['min', 'mean', 'original'] as const) {
    for (const bothOutside of ['zero', 'clip', 'original'] as const) {
      const y = await evalStage(pairs, (e, a, b, L, U, zero) => {
        const na = e.where(e.op('IsNaN', [a]), zero, a), nb = e.where(e.op('IsNaN', [b]), zero, b);
        return mergeDuplicate(e, na, nb, zero, { bounds: { L, U }, bothInside, bothOutside });
      });
      assert.deepEqual(Array.from(y), expect(bothInside, bothOutside).map((v) => Math.fround(v)), `${bothInside}/${bothOutside}`);
    }
  }
  // without intervals (edac-nointervals): a ≠ b → min
  const y = await evalStage(pairs.slice(0, 8), (e, a, b, _L, _U, zero) => mergeDuplicate(e, a, b, zero, { bothInside: 'min', bothOutside: 'zero' }));
  assert.deepEqual(Array.from(y), [0.5, 5, 0.5, 0.25, 0.3, -Infinity, 0.2, -2].map(Math.fround));
});

test('case E zeroes (or clamps) values outside [L, U] and NaN', async () => {
  const vals: [number, number][] = [[0.5, 0], [2, 0], [-1, 0], [NaN, 0], [Infinity, 0], [1, 0], [0, 0]];
  for (const rule of ['zero', 'clip'] as OutsideRule[]) {
    const y = await evalStage(vals, (e, a, _b, L, U, zero) => rangeRestrict(e, a, L, U, zero, rule));
    assert.deepEqual(Array.from(y), rule === 'zero' ? [0.5, 0, 0, 0, 0, 1, 0] : [0.5, 1, 0, 0, 1, 1, 0]);
  }
});

test('voter: value shared by two copies, else min (or median)', async () => {
  // c = a for rows where a third input is needed: build (a, b, c) with c := a + 10 except row 0
  const pairs: [number, number][] = [[1, 2], [1, 1], [3, 1], [5, 9]];
  for (const allDiffer of ['min', 'median'] as const) {
    const y = await evalStage(pairs, (e, a, b) => {
      // c: 1 for the first three rows (shared with a or b), 7 for the last (all differ)
      const c = e.where(e.op('Greater', [a, e.scalar(4)]), e.scalar(7), e.scalar(1));
      return vote3(e, a, b, c, allDiffer);
    });
    assert.deepEqual(Array.from(y), [1, 1, 1, allDiffer === 'min' ? 5 : 7]);
  }
});

// ───────────────────────── faults in the redundancy ─────────────────────────

test('EDAC masks a bit-30 flip in a duplicated channel, in the original and in the copy', async () => {
  const intervals = await profileIntervals(lenet, train1k);
  const { model: hm, report } = await harden(lenet, { method: 'edac', ratio: 0.25, scores: l1Scores(lenet), intervals });
  const conv2 = report.layers.find((l) => l.name === 'conv2')!;
  assert.equal(conv2.protected, 4);
  const c = (conv2 as { indices: number[] }).indices[0];
  const C = 16, per = 6 * 25;
  const w = hm.graph.initializers.get('conv2.weight')!.data as Float32Array;
  assert.equal(w.length, (C + 4) * per, 'one widened weight tensor: originals then copies');
  assert.ok(sameBits(w.subarray(c * per, (c + 1) * per), w.subarray(C * per, (C + 1) * per)), 'copy row holds the filter');
  const j = pickElement(w, c, per);
  const clean = await run(hm);
  const faultyOrig = await run(withTensor(hm, 'conv2.weight', (d) => flipBit(d, c * per + j, 30)));
  const faultyCopy = await run(withTensor(hm, 'conv2.weight', (d) => flipBit(d, C * per + j, 30)));
  const unprotected = await run(withTensor(lenet, 'conv2.weight', (d) => flipBit(d, c * per + j, 30)));
  const base = await run(lenet);
  assert.ok(agreement(faultyOrig, clean) >= 0.95, `original flipped: ${agreement(faultyOrig, clean)}`);
  assert.ok(agreement(faultyCopy, clean) >= 0.95, `copy flipped: ${agreement(faultyCopy, clean)}`);
  assert.ok(faultyOrig.top1.every((t) => t >= 0), 'no NaN/Inf logits');
  // the same flip does damage without protection (so the test means something)
  assert.ok(agreement(unprotected, base) < 0.9, `unprotected agreement ${agreement(unprotected, base)}`);
});

test('ranger zeroes the values an exploded weight pushes out of range', async () => {
  const intervals = await profileIntervals(lenet, test64, { optimization: 'disabled' });
  const { model: hm } = await harden(lenet, { method: 'ranger', intervals });
  assert.ok(sameBits((await run(hm, { optimization: 'disabled' })).logits, (await run(lenet, { optimization: 'disabled' })).logits));
  const info = hardenedInfo(hm)!;
  const stage = info.stages[0];
  const c = 2, per = 25;
  const w = lenet.graph.initializers.get('conv1.weight')!.data as Float32Array;
  const j = pickElement(w, c, per);
  const faulty = withTensor(hm, 'conv1.weight', (d) => flipBit(d, c * per + j, 30));
  const r = await ModelRunner.create(faulty, { optimization: 'disabled', outputs: [stage.input, stage.output, 'logits'] });
  const out = await r.run(test64.x, [64, 1, 28, 28]);
  await r.release();
  const raw = out[stage.input].data as Float32Array, res = out[stage.output].data as Float32Array;
  const { lower, upper } = intervals.get('conv1')!;
  const hw = 28 * 28, C = 6;
  let exploded = 0;
  for (let n = 0; n < 64; n++) {
    for (let i = 0; i < hw; i++) {
      const k = (n * C + c) * hw + i;
      const inside = raw[k] >= lower[c] && raw[k] <= upper[c];
      if (inside) assert.equal(res[k], raw[k]);
      else { exploded++; assert.equal(res[k], 0); }
    }
  }
  assert.ok(exploded > 100, `the flip pushes values out of range (${exploded})`);
  assert.ok((out.logits.data as Float32Array).every(Number.isFinite), 'logits stay finite');
});

test('tmr-channels fully masks a flip in any one of the three copies', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-channels', ratio: 0.25, scores: l1Scores(lenet) });
  const l = report.layers.find((x) => x.name === 'conv2') as { indices: number[]; protected: number };
  const k = l.protected, c = l.indices[1], C = 16, per = 150;
  const clean = await run(hm);
  const w = hm.graph.initializers.get('conv2.weight')!.data as Float32Array;
  assert.equal(w.length, (C + 2 * k) * per);
  const j = pickElement(w, c, per);
  for (const row of [c, C + 1, C + k + 1]) {
    for (const bit of [30, 3, 31]) {
      const p = await run(withTensor(hm, 'conv2.weight', (d) => flipBit(d, row * per + j, bit)));
      assert.ok(sameBits(p.logits, clean.logits), `row ${row} bit ${bit}`);
    }
  }
  // the fully triplicated output layer masks its bias too
  const b = await run(withTensor(hm, 'fc3.bias', (d) => flipBit(d, 3, 30)));
  assert.ok(sameBits(b.logits, clean.logits));
});

test('tmr-neurons masks a flip in a replica filter and keeps unprotected positions as they are', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-neurons', ratio: 0.05, scores: neuronScores(lenet, 11), neuronReplicas: 'positions' });
  const l = report.layers.find((x) => x.name === 'conv1') as { replicatedChannels: number; graphReplicaMacs: number; protectedNeuronMacs: number; protected: number };
  assert.ok(l.replicatedChannels > 0);
  assert.equal(l.protectedNeuronMacs, 2 * l.protected * 25);
  // only the protected neurons are recomputed (per output position), not whole channels
  assert.ok(l.graphReplicaMacs >= l.protectedNeuronMacs && l.graphReplicaMacs < 2 * l.replicatedChannels * 28 * 28 * 25, `${l.graphReplicaMacs}`);
  assert.ok(report.replicaMacs!.graph >= report.replicaMacs!.protectedNeurons);
  const clean = await run(hm);
  const reps = hm.graph.initializers.get('conv1.weight.replicas')!;
  assert.deepEqual(reps.dims, [l.replicatedChannels, 2, 25]);
  for (const r of [0, 1]) {
    const p = await run(withTensor(hm, 'conv1.weight.replicas', (d) => flipBit(d, r * 25 + 12, 30)));
    assert.ok(sameBits(p.logits, clean.logits), `replica ${r + 1}`);
  }
});

for (const [group, mode] of [[1, 'positions'], [2, 'positions'], [1, 'auto'], [2, 'auto']] as const) {
  test(`tmr-neurons (group ${group}, ${mode}): protected neurons come out right after a flip in the original filter, fault-free outputs are the original's`, async () => {
    // one strided, padded conv whose output is the model output, so every neuron can be checked
    const g = new GraphBuilder('conv');
    const x = g.input('input', ['batch', 4, 9, 9]);
    const rng = new Rng(21);
    const rand = (n: number): number[] => Array.from({ length: n }, () => rng.next() * 2 - 1);
    g.node('Conv', [x, g.init('conv.weight', [8, 4 / group, 3, 3], rand(8 * (4 / group) * 9)), g.init('conv.bias', [8], rand(8))],
      { pads: A.is([1, 1, 1, 1]), strides: A.is([2, 2]), group: A.i(group) }, { name: 'conv', outputs: ['y'] });
    g.output('y', ['batch', 8, 5, 5]);
    const model = makeModel(g.build());
    const images = randomImages([4, 9, 9], 16, 4);
    const { model: hm, report } = await harden(model, { method: 'tmr-neurons', ratio: 0.2, scores: neuronScores(model, 5), neuronReplicas: mode });
    // this small layer is cheaper to widen: auto takes whole channels voted at the protected positions (exact copies)
    const widened = !hm.graph.initializers.has('conv.weight.replicas');
    assert.equal(widened, mode === 'auto', 'construction');
    for (const opt of [{ optimization: 'disabled' as const }, {}]) {
      const [a, b] = [await predictOn(model, images, opt), await predictOn(hm, images, opt)];
      assert.ok(sameBits(a.logits, b.logits), `fault-free bit-identical ${JSON.stringify(opt)}`);
    }
    const l = report.layers[0] as { protected: number; replicatedChannels: number; graphReplicaMacs: number };
    assert.equal(countHardened(hm).macs - countModel(model).macs, l.graphReplicaMacs, 'replica MACs as counted');
    if (!widened) assert.ok(l.graphReplicaMacs < 2 * l.replicatedChannels * 25 * (4 / group) * 9);
    // neurons of one protected channel: which are protected (from the scores: the top 20% overall)
    const scores = neuronScores(model, 5).layers[0].scores;
    const top = new Set(scores.map((v, i) => [v, i] as const).sort((p, q) => q[0] - p[0]).slice(0, l.protected).map(([, i]) => i));
    const c = Math.floor([...top][0] / 25);
    const clean = await predictOn(model, images, {});
    const hit = await predictOn(withTensor(hm, 'conv.weight', (d) => flipBit(d, c * (4 / group) * 9 + 4, 30)), images, {});
    let fixedProt = 0, changedFree = 0;
    for (let i = 0; i < images.count; i++) {
      for (let pos = 0; pos < 25; pos++) {
        const j = i * 200 + c * 25 + pos;
        // a corrected neuron is the replicas' value: bit-exact copies when widened, else the same dot product summed in another order
        if (top.has(c * 25 + pos)) {
          const ok = widened ? bitsOfFloat32(hit.logits[j]) === bitsOfFloat32(clean.logits[j]) : Math.abs(hit.logits[j] - clean.logits[j]) <= 1e-5 * (1 + Math.abs(clean.logits[j]));
          assert.ok(ok, `image ${i} protected neuron ${pos}: ${hit.logits[j]} vs ${clean.logits[j]}`);
          fixedProt++;
        } else if (bitsOfFloat32(hit.logits[j]) !== bitsOfFloat32(clean.logits[j])) changedFree++;
      }
    }
    assert.ok(fixedProt > 0 && changedFree > 0, `${fixedProt} protected, ${changedFree} unprotected changed`);
    // a flip in either replica leaves every output as it was
    const K = (4 / group) * 9;
    const flips: [string, number][] = !widened ? [['conv.weight.replicas', 3], ['conv.weight.replicas', K + 3]]
      : group === 1 ? [['conv.weight', 8 * K + 3], ['conv.weight', (8 + l.replicatedChannels) * K + 3]] : [];
    for (const [t, at] of flips) {
      const p = await predictOn(withTensor(hm, t, (d) => flipBit(d, at, 30)), images, {});
      assert.ok(sameBits(p.logits, clean.logits), `replica word ${t}[${at}]`);
    }
  });
}

test('tmr-weights masks flips in one copy, and in two copies at different bits (bitwise majority)', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(lenet) });
  const t = report.weights!.find((x) => x.weight === 'conv2.weight')!;
  const idx = hm.graph.initializers.get(t.index)!.data as Int32Array;
  const clean = await run(hm);
  const e = 5, at = idx[e];
  const cases: [string, number, number][][] = [
    [[t.weight, at, 30]], [[t.copies[0], e, 30]], [[t.copies[1], e, 31]],
    [[t.weight, at, 30], [t.copies[0], e, 29]], // two copies hit, different bits
    [[t.copies[0], e, 22], [t.copies[1], e, 30], [t.weight, at, 3]], // all three hit, different bits
  ];
  for (const flips of cases) {
    let m = hm;
    for (const [name, i, bit] of flips) m = withTensor(m, name, (d) => flipBit(d, i, bit));
    assert.ok(sameBits((await run(m)).logits, clean.logits), JSON.stringify(flips));
  }
  // memory overhead = 2 × protected / total parameters
  const params = countModel(lenet).parameters;
  assert.equal(report.addedParameters, 2 * report.totals.protected);
  assert.ok(Math.abs(report.memoryOverhead - 2 * report.totals.protected / params) < 1e-12);
  assert.equal(report.totals.protected, Math.floor(0.1 * report.totals.units));
});

test('in-graph weight vote equals the bitwise majority of the stored words (voteWeights)', async () => {
  // every element of fc1's triple is disturbed below, 60% of them in all three copies: give the
  // exact word-level vote a budget covering the whole tensor
  const { tmrWeightsTransform } = await import('../src/harden/tmr-weights.js');
  const { model: hm0, triples } = tmrWeightsTransform(lenet, { ratio: 0.3, scores: magnitudeScores(lenet), exactBudget: 1e9 });
  const hm = (await import('../src/harden/common.js')).withHardenedInfo(hm0, { method: 'tmr-weights', ratio: 0.3, ranking: 'magnitude', options: {}, layers: [], stages: [], weights: triples });
  const report = { weights: triples };
  const t = report.weights.find((x) => x.weight === 'fc1.weight')!;
  const idx = hm.graph.initializers.get(t.index)!.data as Int32Array;
  const rng = new Rng(99);
  const words = [t.weight, t.copies[0], t.copies[1]].map((n) => new Float32Array(hm.graph.initializers.get(n)!.data as Float32Array));
  const u = words.map((w) => new Uint32Array(w.buffer));
  const pos = (copy: number, j: number): number => (copy === 0 ? idx[j] : j);
  const notNaN = (x: number): number => (((x >>> 23) & 0xff) === 0xff && (x & 0x7fffff) !== 0 ? x & ~(1 << 30) : x) >>> 0;
  const special = [0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x3f800000, 0x00400000];
  for (let j = 0; j < idx.length; j++) {
    const kind = j % 5;
    if (kind === 0) continue; // untouched
    if (kind === 1) { const c = rng.int(3); u[c][pos(c, j)] = notNaN(u[c][pos(c, j)] ^ (1 << rng.int(32))); }
    if (kind === 2) { for (const c of [0, 1]) u[c][pos(c, j)] = notNaN(u[c][pos(c, j)] ^ (1 << rng.int(32))); }
    if (kind === 3) for (let c = 0; c < 3; c++) u[c][pos(c, j)] = notNaN(rng.nextU32());
    if (kind === 4) for (let c = 0; c < 3; c++) u[c][pos(c, j)] = special[rng.int(special.length)];
  }
  // one copy NaN and the other two equal: the two decide
  u[0][pos(0, 1)] = 0x7fc00001; u[1][pos(1, 1)] = u[2][pos(2, 1)] = bitsOfFloat32(0.125);
  const params = new Map([[t.weight, words[0]], [t.copies[0], words[1]], [t.copies[1], words[2]]]);
  const expected = voteWeights(hm, params).get(t.weight)!;
  assert.equal(float32FromBits(new Uint32Array(expected.buffer)[idx[1]]), 0.125);
  let m = hm;
  for (const [n, d] of params) m = withTensor(m, n, (x) => x.set(d));
  const out = hm.graph.nodes.find((n) => n.outputs[0].startsWith(`${t.weight}.voted`))!.outputs[0];
  for (const optimization of ['disabled', 'all'] as const) {
    const r = await ModelRunner.create(m, { optimization, outputs: [out] });
    const got = (await r.run(test64.x.subarray(0, 784), [1, 1, 28, 28]))[out].data as Float32Array;
    await r.release();
    // bit-equal, except that a voted word which is a NaN comes out as a NaN with another payload
    const ug = new Uint32Array(got.buffer, got.byteOffset, got.length), ue = new Uint32Array(expected.buffer);
    const bad: string[] = [];
    let nans = 0;
    for (let i = 0; i < ug.length; i++) {
      if (ug[i] === ue[i]) continue;
      if (Number.isNaN(got[i]) && Number.isNaN(expected[i])) { nans++; continue; }
      bad.push(`element ${i}: got ${ug[i].toString(16)} want ${ue[i].toString(16)}`);
    }
    assert.deepEqual(bad, [], `voted words (${optimization})`);
    assert.ok(nans < idx.length / 100, `NaN majorities ${nans}`);
  }
  assert.equal(majority32(0b1100, 0b1010, 0b0110), 0b1110);
  assert.equal(majority32(0xffffffff, 0xffffffff, 0), 0xffffffff);
});

test('tmr-weights beyond the exact budget falls back to the median of the three values', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(lenet), perLayer: true });
  for (const l of report.layers) assert.equal(l.protected, Math.max(1, Math.floor(0.1 * (l as { weights: number }).weights + 1e-9)));
  const { model: cheap } = await (async () => {
    const { tmrWeightsTransform } = await import('../src/harden/tmr-weights.js');
    return tmrWeightsTransform(lenet, { ratio: 0.1, scores: magnitudeScores(lenet), perLayer: true, exactBudget: 0 });
  })();
  assert.ok(cheap.graph.nodes.length < hm.graph.nodes.length);
  const t = report.weights![0];
  const ws = [0.5, 0.75, 0.625]; // all differ; median 0.625, bitwise majority of the words differs
  let m = cheap;
  m = withTensor(m, t.weight, (d) => { d[(hm.graph.initializers.get(t.index)!.data as Int32Array)[0]] = ws[0]; });
  m = withTensor(m, t.copies[0], (d) => { d[0] = ws[1]; });
  m = withTensor(m, t.copies[1], (d) => { d[0] = ws[2]; });
  const out = m.graph.nodes.find((n) => n.outputs[0].endsWith('.voted') && n.outputs[0].startsWith(t.weight))!.outputs[0];
  const r = await ModelRunner.create(m, { optimization: 'disabled', outputs: [out] });
  const got = (await r.run(test64.x.subarray(0, 784), [1, 1, 28, 28]))[out].data as Float32Array;
  await r.release();
  assert.equal(got[(hm.graph.initializers.get(t.index)!.data as Int32Array)[0]], 0.625);
});

// ───────────────────────── options, reports, metadata ─────────────────────────

test('harden reports d = max(1, ⌊r·C⌋) per layer, the output layer in full, and writes metadata', async () => {
  const intervals: Intervals = await profileIntervals(lenet, test64);
  const { model: hm, report } = await harden(lenet, { method: 'edac', ratio: 0.15, scores: l1Scores(lenet), intervals });
  assert.deepEqual(report.protected, { conv1: 1, conv2: 2, fc1: 18, fc2: 12, fc3: 10 });
  const added = 1 * 26 + 2 * 151 + 18 * 401 + 12 * 121 + 10 * 85 + 2 * (6 + 16 + 120 + 84 + 10);
  assert.equal(report.addedParameters, added);
  const info = hardenedInfo(hm)!;
  assert.equal(info.method, 'edac');
  assert.equal(info.ratio, 0.15);
  assert.equal(info.ranking, 'l1');
  assert.equal(hm.graph.initializers.get('conv1.edac.lower')!.dims.join(), '1,6,1,1');
  assert.equal(hm.graph.initializers.get('fc1.edac.upper')!.dims.join(), '1,120');
  // MACs: the counting view sees the widened layers
  const c0 = countModel(lenet), c1 = countHardened(hm);
  assert.equal(c1.macs - c0.macs, 1 * 28 * 28 * 25 + 2 * 10 * 10 * 150 + 18 * 400 + 12 * 120 + 10 * 84);
  assert.equal(c1.parameters - c0.parameters, added);
  // a write/read round trip gives the same model behaviour
  const back = decodeModel(encodeModel(hm));
  assert.ok(sameBits((await run(back)).logits, (await run(hm)).logits));
  // edac-nointervals and tmr-channels need no intervals; ranger protects nothing
  const nointervals = await harden(lenet, { method: 'edac-nointervals', ratio: 0.15, scores: l1Scores(lenet) });
  assert.equal(nointervals.model.graph.initializers.has('conv1.edac.lower'), false);
  const ranger = await harden(lenet, { method: 'ranger', intervals });
  assert.equal(ranger.report.totals.protected, 0);
  // an upper bound per channel; lower bounds only where a check needs them (behind the ReLU, where
  // the default after-bn check moves on this model without batch norm, bounds ≤ 0 check nothing)
  const bounds = (kind: string): number => [...ranger.model.graph.initializers.values()].filter((t) => t.name.endsWith(`.range.${kind}`)).reduce((n, t) => n + t.data.length, 0);
  assert.equal(bounds('upper'), 6 + 16 + 120 + 84 + 10);
  assert.ok(bounds('lower') >= 10 && bounds('lower') < 6 + 16 + 120 + 84 + 10, `lower bounds: the output layer's and those > 0 behind a ReLU (${bounds('lower')})`);
  assert.equal(ranger.report.addedParameters, bounds('upper') + bounds('lower'));
  assert.equal((await harden(lenet, { method: 'ranger', intervals, placement: 'paper' })).report.addedParameters, 2 * (6 + 16 + 120 + 84 + 10));
});

test('harden rejects bad options with a FlipguardError', async () => {
  const iv = await profileIntervals(lenet, test64);
  const bad = async (opts: Parameters<typeof harden>[1], pattern: RegExp): Promise<void> => {
    await assert.rejects(harden(lenet, opts), (e: Error) => e instanceof FlipguardError && pattern.test(e.message), JSON.stringify({ ...opts, scores: opts.scores?.method, intervals: undefined }));
  };
  for (const ratio of [-0.1, 1.5, NaN]) await bad({ method: 'edac', ratio, scores: l1Scores(lenet), intervals: iv }, /ratio/);
  await bad({ method: 'nope' as never, ratio: 0.1 }, /Unknown hardening method/);
  await bad({ method: 'edac', ratio: 0.1, scores: l1Scores(lenet) }, /intervals/);
  await bad({ method: 'ranger' }, /intervals/);
  await bad({ method: 'ranger', ratio: 0.2, intervals: iv }, /ratio 0/);
  await bad({ method: 'edac', ratio: 0.1, scores: magnitudeScores(lenet), intervals: iv }, /per weight/);
  await bad({ method: 'tmr-weights', ratio: 0.1, scores: l1Scores(lenet) }, /weight/);
  await bad({ method: 'tmr-neurons', ratio: 0.1, scores: l1Scores(lenet) }, /neuron/);
  await bad({ method: 'tmr-channels', ratio: 0.1 }, /scores/);
  const other = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 0.5 });
  await bad({ method: 'tmr-channels', ratio: 0.1, scores: l1Scores(other) }, /another model/);
  await bad({ method: 'edac', ratio: 0.1, scores: l1Scores(lenet), intervals: iv, bothInside: 'max' as never }, /bothInside/);
  await bad({ method: 'edac', ratio: 0.1, scores: l1Scores(lenet), intervals: new Map() }, /no entry for layer/);
});

test('profileIntervals gives each channel its min and max over all images and positions', async () => {
  const g = new GraphBuilder('dense');
  const x = g.input('input', ['batch', 1, 2, 2]);
  const f = g.op('Flatten', [x], { axis: A.i(1) });
  const W = [1, 0, 0, 0, 0.5, -1, 2, 0, 0, 0, 0, -3];
  g.node('Gemm', [f, g.init('fc.weight', [3, 4], W), g.init('fc.bias', [3], [0.25, 0, -1])], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  const model = makeModel(g.build());
  const n = 37, xs = new Float32Array(n * 4);
  const rng = new Rng(5);
  for (let i = 0; i < xs.length; i++) xs[i] = rng.next() * 4 - 2;
  const iv = (await profileIntervals(model, { x: xs, shape: [1, 2, 2], count: n }, { batch: 8 })).get('fc')!;
  for (let c = 0; c < 3; c++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      let v = [0.25, 0, -1][c];
      for (let k = 0; k < 4; k++) v = Math.fround(v + Math.fround(W[c * 4 + k] * xs[i * 4 + k]));
      lo = Math.min(lo, v); hi = Math.max(hi, v);
    }
    assert.ok(Math.abs(iv.lower[c] - lo) < 1e-5 && Math.abs(iv.upper[c] - hi) < 1e-5, `channel ${c}: [${iv.lower[c]}, ${iv.upper[c]}] vs [${lo}, ${hi}]`);
  }
  // conv layers: one interval per output channel
  const conv = await profileIntervals(lenet, test64, { batch: 20 });
  assert.equal(conv.get('conv1')!.lower.length, 6);
  assert.equal(conv.get('fc3')!.upper.length, 10);
});

test('overheads: parameter, byte, MAC and time ratios against the original', async () => {
  const { model: hm, report } = await harden(lenet, { method: 'tmr-channels', ratio: 0.25, scores: l1Scores(lenet) });
  const o = await overheads(lenet, hm, test64, { runs: 2, batch: 32 });
  const p0 = countModel(lenet).parameters;
  assert.equal(o.parameters.original, p0);
  assert.equal(o.parameters.hardened, p0 + report.addedParameters);
  assert.ok(Math.abs(o.parameters.ratio - (p0 + report.addedParameters) / p0) < 1e-12);
  assert.ok(o.storedBytes.hardened > o.storedBytes.original);
  assert.ok(o.macs.ratio > 1 && o.macs.ratio < 3);
  assert.ok(o.time.original > 0 && o.time.hardened > 0 && o.time.ratio > 0);
  assert.equal(o.time.images, 64);
  // weight TMR adds no MACs
  const tw = await harden(lenet, { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(lenet) });
  assert.equal(countHardened(tw.model).macs, countModel(lenet).macs);
  assert.equal(DataType.FLOAT, 1);
});

test('dense layers stored as MatMul + Add or Gemm without transB are hardened too, and so are grouped convs', async () => {
  const g = new GraphBuilder('mlp');
  const x = g.input('input', ['batch', 1, 2, 2]);
  const f = g.op('Flatten', [x], { axis: A.i(1) });
  const rng = new Rng(3);
  const rand = (n: number): number[] => Array.from({ length: n }, () => rng.next() * 2 - 1);
  const mm = g.op('MatMul', [f, g.init('mm.weight', [4, 5], rand(20))], {}, 'mm');
  const h = g.op('Relu', [g.op('Add', [mm, g.init('mm.bias', [5], rand(5))], {}, 'mm_add')]);
  g.node('Gemm', [h, g.init('out.weight', [5, 3], rand(15)), g.init('out.bias', [3], rand(3))], { transB: A.i(0) }, { name: 'out', outputs: ['logits'] });
  g.output('logits', ['batch', 3]);
  const model = makeModel(g.build());
  const n = 40, xs = Float32Array.from({ length: n * 4 }, () => rng.next() * 2 - 1);
  const data = { name: 'rand', x: xs, y: new Uint8Array(n), shape: [1, 2, 2] as [number, number, number], count: n, classes: 3 };
  const exact: RuntimeOptions = { optimization: 'disabled' };
  const intervals = await profileIntervals(model, data, exact);
  const logitsOf = async (m: Model): Promise<Float32Array> => {
    const r = await ModelRunner.create(m, exact);
    try { return (await predict(r, data, { batch: 16 })).logits; } finally { await r.release(); }
  };
  const ref = await logitsOf(model);
  const neuron: Scores = { method: 'r', layers: [{ name: 'mm', op: 'MatMul', unit: 'neuron', scores: rand(5) }, { name: 'out', op: 'Gemm', unit: 'neuron', scores: rand(3) }] };
  for (const [method, scores] of [['edac', l1Scores(model)], ['edac-nointervals', l1Scores(model)], ['ranger', undefined], ['tmr-channels', l1Scores(model)], ['tmr-weights', magnitudeScores(model)], ['tmr-neurons', neuron]] as const) {
    const { model: hm, report } = await harden(model, { method, ratio: method === 'ranger' ? 0 : 0.4, scores, intervals });
    assert.ok(sameBits(await logitsOf(hm), ref), method);
    if (method === 'edac') {
      assert.equal(report.protected.mm, 2);
      assert.deepEqual(hm.graph.initializers.get('mm.weight')!.dims, [4, 7]);
      assert.deepEqual(hm.graph.initializers.get('mm.bias')!.dims, [7]);
      assert.deepEqual(hm.graph.initializers.get('out.weight')!.dims, [5, 6]);
    }
  }
  // a grouped convolution gets its copies from a copy conv over whole groups (layers.ts)
  const gc = new GraphBuilder('grouped');
  const xi = gc.input('input', ['batch', 2, 4, 4]);
  const y = gc.op('Conv', [xi, gc.init('c.weight', [4, 1, 3, 3], rand(36))], { group: A.i(2), kernel_shape: A.is([3, 3]) }, 'c');
  gc.node('Gemm', [gc.op('Flatten', [y], { axis: A.i(1) }), gc.init('fc.weight', [2, 16], rand(32))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  gc.output('logits', ['batch', 2]);
  const grouped = makeModel(gc.build());
  const tc = await harden(grouped, { method: 'tmr-channels', ratio: 0.5, scores: l1Scores(grouped) });
  assert.deepEqual(tc.report.layers.map((l) => l.protected), [2, 2]);
  const gx = randomImages([2, 4, 4], 4, 9, 2);
  assert.ok(sameBits((await predictOn(tc.model, gx, exact)).logits, (await predictOn(grouped, gx, exact)).logits), 'grouped conv: tmr-channels logits bit-identical');
  const tw = await harden(grouped, { method: 'tmr-weights', ratio: 0.5, scores: magnitudeScores(grouped) });
  assert.ok(tw.report.totals.protected > 0);
});
