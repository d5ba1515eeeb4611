/**
 * Hardening native float16 models (issue 15): the whole graph computes in float16 (`convert
 * --native`, PyTorch's `model.half()`). Every method keeps the model native — copies, bounds, zeros
 * and votes in float16 words — and the hardened model's fault-free logits are the native
 * original's bit for bit (optimisation levels as hardenFidelity states them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadDataset, subset } from '../src/data/index.js';
import { convertModel } from '../src/formats/index.js';
import { readModel } from '../src/graph/index.js';
import { formatCounts } from '../src/graph/info.js';
import { wordView } from '../src/graph/dtype.js';
import { DataType, type Model } from '../src/graph/types.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import { harden, hardenFidelity, hardenedInfo, profileIntervals, validateHardened, HARDEN_METHODS, type HardenOptions } from '../src/harden/index.js';
import { TrialEngine } from '../src/campaign/engine.js';
import { runCampaign } from '../src/campaign/run.js';
import { listParameters } from '../src/faults/params.js';
import { FlipguardError } from '../src/errors.js';
import { countDiffs, logitsOf, randomImages, scoresFor } from './helpers/harden.js';
import { BLOCK_INPUT, BLOCKS, blockModel } from './helpers/blocks.js';
import { float32Nodes, keepFloat32Nodes } from '../src/harden/half-regions.js';
import { countHardened } from '../src/harden/overhead.js';
import { countModel } from '../src/graph/count.js';
import { A, GraphBuilder, makeModel } from '../src/graph/index.js';
import { HARDEN_TAG } from '../src/harden/graph-edit.js';
import { keepIoTypes } from './helpers/float16.js';

const exact: RuntimeOptions = { optimization: 'disabled' };
const zoo = (name: string): Model => readModel(fileURLToPath(new URL(`../../models/${name}-mnist.onnx`, import.meta.url)));
const images = (n: number) => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: n }, (_, i) => (i * 31) % all.count));
};

/** Element types of the floating-point initializers of `m` (its stored words). */
function floatTypes(m: Model): Set<number> {
  return new Set([...m.graph.initializers.values()].map((t) => t.dataType).filter((t) => t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.DOUBLE));
}

for (const [arch, count] of [['lenet5', 64], ['vgg11', 16]] as const) {
  test(`native float16 ${arch}: every hardening method stays float16 and is bit-exact fault-free`, async () => {
    const float = zoo(arch);
    const model = convertModel(float, 'float16', { native: true }).model;
    const data = images(count);
    const intervals = await profileIntervals(model, data, exact);
    const ref = { exact: (await logitsOf(model, data, exact)).logits, all: (await logitsOf(model, data, {})).logits };
    const variants: [string, HardenOptions][] = HARDEN_METHODS.map((method) => [method, { method, ratio: method === 'ranger' ? 0 : 0.25, scores: scoresFor(method, float), intervals }]);
    variants.push(['ranger paper saturate', { method: 'ranger', intervals, placement: 'paper', rangeMode: 'saturate' }]);
    variants.push(['ranger after-act', { method: 'ranger', intervals, placement: 'after-act' }]);
    variants.push(['edac mean', { method: 'edac', ratio: 0.25, scores: scoresFor('edac', float), intervals, bothInside: 'mean' }]);
    for (const [label, opts] of variants) {
      const { model: hm, report } = await harden(model, opts);
      assert.equal(hm.graph.inputs[0].elemType, DataType.FLOAT16, `${label}: float16 input`);
      assert.equal(hm.graph.outputs[0].elemType, DataType.FLOAT16, `${label}: float16 logits`);
      // every stored tensor (copies, bounds, fills) in float16; the stages compute in float32 between exact Casts
      assert.deepEqual([...floatTypes(hm)], [DataType.FLOAT16], `${label}: float16 initializers only`);
      // every stored parameter word is 16 bits (tmr-bits adds int32 planes)
      assert.deepEqual(formatCounts(hm).map((f) => f.format).filter((f) => f !== 'int32'), ['float16'], `${label}: parameters are float16 words`);
      if (opts.method !== 'tmr-bits') {
        const added = formatCounts(hm)[0].parameters - formatCounts(model)[0].parameters;
        assert.equal(report.addedParameters, added, `${label}: added words`);
        assert.ok(Math.abs(report.memoryOverhead - added / formatCounts(model)[0].parameters) < 1e-12, `${label}: memory in 16-bit words`);
      }
      const f = hardenFidelity(opts.method, report.intervals);
      const p = await logitsOf(hm, data, f.runtime);
      assert.equal(countDiffs(p.logits, f.runtime.optimization === 'disabled' ? ref.exact : ref.all), 0, `${label}: logits bit-equal to the native original's`);
    }
  });
}

/** `m` with bit `bit` of element `at` of initializer `name` flipped (a copy). */
function flip(m: Model, name: string, at: number, bit: number): Model {
  const t = m.graph.initializers.get(name)!;
  const data = t.data.slice() as typeof t.data;
  wordView(data)[at] ^= 2 ** bit;
  return { ...m, graph: { ...m.graph, initializers: new Map([...m.graph.initializers, [name, { ...t, data }]]) } };
}

test('native float16: tmr-weights and tmr-bits outvote a corrupted float16 word; EDAC and TMR channels correct a corrupted copy', async () => {
  const float = zoo('lenet5');
  const model = convertModel(float, 'float16', { native: true }).model;
  const data = images(32);
  const ref = (await logitsOf(model, data, {})).logits;
  const same = async (m: Model, o: RuntimeOptions = {}): Promise<boolean> => countDiffs((await logitsOf(m, data, o)).logits, o.optimization ? (await logitsOf(model, data, o)).logits : ref) === 0;
  const tw = (await harden(model, { method: 'tmr-weights', ratio: 0.25, scores: scoresFor('tmr-weights', float) })).model;
  const t = hardenedInfo(tw)!.weights![0];
  const at = (tw.graph.initializers.get(t.index)!.data as Int32Array)[0];
  assert.equal(tw.graph.initializers.get(t.copies[0])!.dataType, DataType.FLOAT16);
  assert.ok(await same(flip(tw, t.weight, at, 14)), 'one corrupted float16 word is outvoted');
  assert.ok(await same(flip(flip(flip(tw, t.weight, at, 14), t.copies[0], 0, 13), t.copies[1], 0, 15)), 'three-way disagreement voted bitwise');
  assert.ok(!(await same(flip(flip(tw, t.weight, at, 14), t.copies[0], 0, 14))), 'two equal corrupted copies win');
  const tb = (await harden(model, { method: 'tmr-bits' })).model;
  const b = hardenedInfo(tb)!.bits![0];
  assert.deepEqual(b.bits, [14]);
  assert.equal(b.words, t.weight, 'the words are the stored float16 tensor itself');
  assert.ok(await same(flip(tb, b.words, 0, 14)), 'protected bit outvoted');
  assert.ok(!(await same(flip(tb, b.words, 0, 13))), 'an unprotected bit is not voted');
  // the output layer is duplicated (EDAC) / triplicated (TMR) whole, its copies computed by dense layers of
  // its own shape beside it (layers.ts copiesApart): a flipped exponent bit in one stored copy is corrected
  const intervals = await profileIntervals(model, data, exact);
  for (const method of ['edac', 'tmr-channels'] as const) {
    const hm = (await harden(model, { method, ratio: 0, intervals })).model;
    assert.deepEqual(hm.graph.initializers.get('fc3.weight')!.dims, [10, 84], `${method}: the original weight as it was`);
    const copies = [...hm.graph.initializers.values()].filter((t) => t.name.startsWith('fc3.weight.copies'));
    assert.deepEqual(copies.map((t) => [t.dataType, ...t.dims]), Array.from({ length: method === 'edac' ? 1 : 2 }, () => [DataType.FLOAT16, 10, 84]), `${method}: float16 copies`);
    assert.ok(await same(flip(hm, copies[0].name, 3, 14), exact), `${method}: a corrupted copy is corrected`);
    assert.ok(await same(flip(hm, 'fc3.weight', 3, 14), exact), `${method}: a corrupted original is corrected`);
  }
});

test('native float16 tmr-bits campaigns: the foldBits shortcut engages and gives the slow path\'s records', async () => {
  const model = convertModel(zoo('lenet5'), 'float16', { native: true }).model;
  const hm = (await harden(model, { method: 'tmr-bits', bits: [14, 13] })).model;
  const data = images(48);
  const engine = await TrialEngine.create(hm, data, listParameters(hm), { threads: 1 });
  try { assert.equal(engine.foldedBits, true, 'the self-check passes on float16 words'); } finally { await engine.release(); }
  const strip = (rs: { millis: number }[]) => rs.map(({ millis: _m, ...r }) => r);
  const o = { model: hm, data, bers: [1e-3], trials: 3, seed: 11, threads: 1 };
  const fast = await runCampaign(o);
  const slow = await runCampaign({ ...o, shortcuts: { foldBits: false } });
  assert.deepEqual(strip(fast.records), strip(slow.records));
  assert.ok(fast.records.some((r) => r.faults > 0));
});

test('native float16: foldBn (float32 folding) is refused in one sentence naming the option', async () => {
  const model = convertModel(zoo('lenet5'), 'float16', { native: true }).model;
  await assert.rejects(harden(model, { method: 'tmr-channels', ratio: 0, foldBn: true }), (e: unknown) => e instanceof FlipguardError && /^Folding batch norms \(option "foldBn"\).*computes in float16.*unset option "foldBn"/.test(e.message));
});

test('native float16 with float32 input and logits (keep_io_types): every method validates bit for bit', async () => {
  const float = zoo('lenet5');
  const h = convertModel(float, 'float16', { native: true }).model;
  const model = keepIoTypes(h);
  const data = images(16);
  for (const method of HARDEN_METHODS) {
    const r = await harden(model, { method, ratio: method === 'ranger' ? 0 : 0.25, scores: scoresFor(method, float), data });
    const v = await validateHardened(model, r, data);
    assert.equal(v.fidelity, 'bitwise', method);
    assert.equal(v.maxAbsDiff, 0, method);
    assert.ok(countHardened(r.model).macs >= countModel(model).macs, `${method}: counted`);
  }
});

// The channel structures of real exports (test/helpers/blocks.ts) natively in float16. onnxruntime
// computes a float16 node that has a float16 kernel in float32 when all its neighbours are computed
// in float32; a stage's or copy's Cast next to it would make it compute in float16 (the depthwise
// block's ReLU6 Clip, read by the next depthwise conv's copies): the hardened graph writes such a
// node out in float32 (half-regions.ts), and the logits stay bit for bit.
for (const name of BLOCKS) {
  test(`native float16 block ${name}: the stage methods keep the logits bit for bit`, async () => {
    const float = blockModel(name);
    const model = convertModel(float, 'float16', { native: true }).model;
    const data = randomImages([...BLOCK_INPUT], 32, 9);
    for (const method of ['edac', 'edac-nointervals', 'ranger', 'tmr-channels', 'tmr-neurons'] as const) {
      const r = await harden(model, { method, ratio: method === 'ranger' ? 0 : 0.3, scores: scoresFor(method, float), data });
      const { runtime } = hardenFidelity(method, r.report.intervals);
      assert.equal(countDiffs((await logitsOf(r.model, data, runtime)).logits, (await logitsOf(model, data, runtime)).logits), 0, `${name} ${method}: bit-identical logits`);
      // the overhead table's counting view stands in for the stages, also where float32 nodes read inside them
      assert.ok(countHardened(r.model).macs >= countModel(model).macs, `${name} ${method}: counted`);
    }
  });
}

test('native float16 depthwise block: the ReLU6 Clip that onnxruntime computes in float32 stays so next to the copies of the next depthwise conv', async () => {
  const model = convertModel(blockModel('depthwise'), 'float16', { native: true }).model;
  assert.ok((await float32Nodes(model, exact)).has('conv0_relu'), 'isolated: computed in float32 in the original');
  const r = await harden(model, { method: 'tmr-channels', ratio: 0.3, scores: scoresFor('tmr-channels', blockModel('depthwise')) });
  const g = r.model.graph;
  const made = new Map(g.nodes.map((n) => [n.outputs[0], n] as const));
  const castTo = (v: string, to: number): boolean => made.get(v)?.opType === 'Cast' && made.get(v)!.attributes.to?.value === to;
  const clip = g.nodes.find((n) => n.name === 'conv0_relu')!;
  assert.deepEqual(clip.inputs.map((v) => castTo(v, DataType.FLOAT)), [true, true, true], 'its float16 inputs cast up');
  const down = g.nodes.find((n) => n.inputs[0] === clip.outputs[0])!;
  assert.deepEqual([down.opType, down.attributes.to?.value, down.outputs[0]], ['Cast', DataType.FLOAT16, 'conv0_relu_out'], 'its output cast down under its own name');
});

// The other way round cannot be undone: a node onnxruntime computes in float16 in the original (the
// Concat feeds a Transpose, which has a float16 kernel) but in float32 next to an inserted node (a
// Relu in the Transpose's place, which has none, as have its other neighbours): refused in one
// sentence naming it and the fix.
test('native float16: a node the stages would make onnxruntime compute in float32 is refused in one sentence', async () => {
  const graph = (hardened: boolean): Model => {
    const b = new GraphBuilder('half');
    const x = b.input('x', ['N', 4], DataType.FLOAT16);
    const c = b.op('Concat', [b.op('Relu', [x], {}, 'relu1'), b.op('Relu', [x], {}, 'relu2')], { axis: A.i(1) }, 'cat');
    const t = hardened ? b.op('Relu', [c], {}, 'stage') : b.op('Transpose', [c], { perm: A.is([0, 1]) }, 'move');
    b.node('Relu', [t], {}, { name: 'out', outputs: ['y'] });
    b.output('y', ['N', 8], DataType.FLOAT16);
    const g = b.build();
    if (hardened) g.nodes.find((n) => n.name === 'stage')!.docString = HARDEN_TAG;
    return makeModel(g, { opset: 17 });
  };
  assert.ok(!(await float32Nodes(graph(false), exact)).has('cat'), 'float16 in the original');
  assert.ok((await float32Nodes(graph(true), exact)).has('cat'), 'float32 beside the inserted Relu');
  await assert.rejects(keepFloat32Nodes(graph(false), graph(true), exact), (e: unknown) => e instanceof FlipguardError && /^onnxruntime computes node "cat" \(Concat\) of this native float16 model in float16, but next to the hardening stages in float32, .*converted to float16 without option "native"/.test(e.message));
});
