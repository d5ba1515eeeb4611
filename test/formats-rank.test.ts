/**
 * Number formats (issue 15): rank on float16, bfloat16 and int8 QDQ models — every method's scores
 * through the dequantized graph, Eq. (1) against an explicitly dequantized float32 copy, and
 * `rank --compare` ground truth that flips the int8 model's stored words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { A, DataType, GraphBuilder, loadModel, makeModel, type Model } from '../src/graph/index.js';
import { loadDataset } from '../src/data/index.js';
import type { ImageSet } from '../src/runtime/evaluate.js';
import { limitImages } from '../src/campaign/run.js';
import { convertModel, dequantizedModel, quantizeModel } from '../src/formats/index.js';
import { bitProfile, compareRankings, rank, unitFaults, RANK_METHODS, type RankMethod, type Scores } from '../src/analysis/index.js';
import { cleanParameters, injectFaults, listParameters } from '../src/faults/index.js';
import { TrialEngine } from '../src/campaign/engine.js';
import { compareFormats, formatsJson, protectFormats } from '../src/workflows/formats.js';
import { Rng } from '../src/util/rng.js';

const lenet = (): Model => loadModel(fileURLToPath(new URL('../../models/lenet5-mnist.onnx', import.meta.url)));
const train = (n: number): ImageSet => limitImages(loadDataset({ data: 'mnist', split: 'train' }), n);
const testImages = (n: number): ImageSet => limitImages(loadDataset({ data: 'mnist', split: 'test' }), n);
let int8: Promise<Model> | undefined;
const lenetInt8 = (): Promise<Model> => (int8 ??= quantizeModel(lenet(), train(300), { threads: 1 }).then((r) => r.model));

/**
 * The int8 model's float32 copy built by hand: the float32 LeNet-5 (no batch norm to fold) with
 * each quantized weight and bias replaced by q · scale per output channel (zero points are 0).
 */
function dequantizedByHand(q: Model): Model {
  const f = lenet();
  const inits = new Map(f.graph.initializers);
  const get = (name: string) => q.graph.initializers.get(name)!;
  for (const [name, t] of f.graph.initializers) {
    const stored = q.graph.initializers.get(`${name}.int8`) ?? q.graph.initializers.get(`${name}.int32`);
    if (!stored) continue;
    const scale = get(`${stored.name.replace(/\.(int8|int32)$/, '')}.scale`).data as Float32Array;
    const words = stored.data as Int8Array | Int32Array;
    // Conv weights [out, …] are per axis 0; Gemm weights (transB = 1 in LeNet-5) too; biases per element
    const per = words.length / scale.length;
    inits.set(name, { ...t, data: Float32Array.from(words, (w, i) => Math.fround(w * scale[Math.floor(i / per)])) });
  }
  return { ...f, graph: { ...f.graph, initializers: inits } };
}

function assertSameShape(a: Scores, b: Scores, what: string): void {
  assert.deepEqual(a.layers.map((l) => [l.name, l.op, l.unit, l.scores.length]), b.layers.map((l) => [l.name, l.op, l.unit, l.scores.length]), what);
  for (const l of a.layers) assert.ok(l.scores.every(Number.isFinite), `${what}: ${l.name} has a non-finite score`);
}

test('rank: every method scores the float16, bfloat16 and int8 models with the float32 model\'s layers and units, all finite', async () => {
  const f = lenet();
  const data = train(40);
  const models: [string, Model][] = [['float16', convertModel(f, 'float16').model], ['bfloat16', convertModel(f, 'bfloat16').model], ['int8', await lenetInt8()]];
  for (const method of RANK_METHODS) {
    const opts = { method, data, images: 20, threads: 1, seed: 3 };
    const ref = await rank(f, opts);
    assert.equal(ref.layers.length, 5);
    for (const [name, m] of models) assertSameShape(await rank(m, opts), ref, `${method} on ${name}`);
  }
  // the float16 model's Eq. (1) is the float32 model's with its parameters rounded to float16, and close to the original's
  const f16 = convertModel(f, 'float16').model;
  const opts = { method: 'vulnerability' as const, data, images: 20, threads: 1 };
  const a = await rank(f16, opts);
  const b = await rank(f, opts);
  for (let l = 0; l < a.layers.length; l++) {
    for (let c = 0; c < a.layers[l].scores.length; c++) {
      const x = a.layers[l].scores[c], y = b.layers[l].scores[c];
      assert.ok(Math.abs(x - y) <= 0.05 * Math.abs(y) + 1e-9, `${a.layers[l].name}[${c}]: float16 ${x} vs float32 ${y}`);
    }
  }
});

test('rank on int8: Eq. (1), l1 and LRP equal those of an explicitly dequantized float32 copy', async () => {
  const q = await lenetInt8();
  const copy = dequantizedByHand(q);
  // the library's float32 equivalent holds exactly the hand-made copy's parameters
  const dq = dequantizedModel(q);
  assert.equal(dq.activationPairs, q.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length);
  assert.ok(dq.activationPairs > 0);
  for (const [name, stored] of dq.stored) {
    const orig = stored.replace(/\.(int8|int32)$/, '');
    assert.deepEqual(dq.model.graph.initializers.get(name)!.data, copy.graph.initializers.get(orig)!.data, name);
  }
  const data = train(32);
  for (const method of ['vulnerability', 'l1', 'lrp'] as const) {
    const a = await rank(q, { method, data, images: 32, threads: 1, seed: 2 });
    const b = await rank(copy, { method, data, images: 32, threads: 1, seed: 2 });
    assertSameShape(a, b, method);
    for (let l = 0; l < a.layers.length; l++) {
      for (let c = 0; c < a.layers[l].scores.length; c++) {
        const x = a.layers[l].scores[c], y = b.layers[l].scores[c];
        assert.ok(Math.abs(x - y) <= 1e-6 * Math.max(Math.abs(y), 1e-30), `${method} ${a.layers[l].name}[${c}]: ${x} vs ${y}`);
      }
    }
  }
});

test('rank --compare on int8 flips the stored int8 words, runs, and is reproducible from its seed', async () => {
  const q = await lenetInt8();
  const opts = {
    layer: 'conv2', ber: 1e-3, data: testImages(60), trials: 2, faults: 40, bits: 'sign', seed: 4, rankData: loadDataset({ data: 'mnist', split: 'train' }), images: 20,
    methods: ['vulnerability', 'l1', 'random'] as RankMethod[], runtime: { threads: 1 },
  };
  const a = await compareRankings(q, opts);
  const b = await compareRankings(q, opts);
  assert.deepEqual(a, b);
  assert.equal(a.units.length, 16);
  assert.deepEqual(a.bits, [7]);
  assert.deepEqual(a.rows.map((r) => r.method), ['vulnerability', 'l1', 'random']);
  assert.ok(a.groundTruth.every(Number.isFinite) && a.groundTruth.some((d) => d !== 0), 'sign flips of int8 weights change predictions');
  const stored = listParameters(q).find((p) => p.node === 'conv2' && p.role === 'weight')!;
  assert.equal(stored.format, 'int8');
  for (let u = 0; u < 16; u++) {
    for (const f of unitFaults(q, opts, u, 0)) {
      assert.equal(f.tensor, stored.name);
      assert.equal(f.bit, 7);
      assert.equal(Math.floor(f.index / (stored.numel / 16)), u, 'a fault hits the unit\'s own channel');
    }
  }
  // the per-bit profile works on the 8 bits of the int8 words
  const p = await bitProfile(q, { data: testImages(40), layer: 'fc1', trials: 1, runtime: { threads: 1 } });
  assert.deepEqual(p.rows.map((r) => [r.bit, r.field]), [0, 1, 2, 3, 4, 5, 6, 7].map((b) => [b, b === 7 ? 'sign' : 'mantissa']));
});

test('rank refuses a QOperator model in one sentence naming the node and what to rank instead', async () => {
  const b = new GraphBuilder('qop');
  const x = b.input('x', ['N', 1, 6, 6]);
  const q = b.op('QuantizeLinear', [x, b.init('x.scale', [], [1 / 255]), b.init('x.zero', [], new Uint8Array([0]), DataType.UINT8)], {}, 'qx');
  const ci = b.op('ConvInteger', [q, b.init('ci.w', [2, 1, 3, 3], new Uint8Array(18).fill(2), DataType.UINT8)], {}, 'cint');
  const f = b.op('Flatten', [b.op('Cast', [ci], { to: A.i(DataType.FLOAT) })], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, b.init('fc.weight', [32, 3], new Float32Array(96).fill(0.1)), b.init('fc.bias', [3], [0, 0, 0])], {}, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  const m = makeModel(b.build(), { opset: 13 });
  await assert.rejects(rank(m, { method: 'l1' }), (e: unknown) => e instanceof FlipguardError && /"cint" \(ConvInteger\).*rank the QDQ model.*or the float32 model/.test(e.message));
});

test('int8 campaigns: the prefix shortcut cuts before an activation\'s QDQ chain, and suffix trials equal full runs bit for bit', async () => {
  const q = await lenetInt8();
  const data = testImages(200);
  const targets = listParameters(q);
  const fast = await TrialEngine.create(q, data, targets, { threads: 1 });
  const plain = await TrialEngine.create(q, data, targets, { threads: 1, shortcuts: false });
  try {
    await fast.verifyAllCuts();
    // conv2's input (pool1_out) and fc1's (flatten_out) are read only through QuantizeLinear → DequantizeLinear
    assert.ok(fast.cutValues.includes('pool1_out') && fast.cutValues.includes('flatten_out'), fast.cutValues.join(', '));
    // …and after it: the suffix quantizes the cached (q − z)·s again, which gives back q exactly
    assert.ok(fast.cutValues.includes('pool1_out.dequantize_out'), fast.cutValues.join(', '));
    const clean = cleanParameters(q);
    const rng = new Rng(8);
    let suffix = 0;
    for (let t = 0; t < 12; t++) {
      // 3 flips in the int8 weights of one layer after conv1
      const w = targets.filter((p) => p.role === 'weight' && p.node !== 'conv1')[t % 4];
      const faults = Array.from({ length: 3 }, () => ({ tensor: w.name, index: Math.floor(rng.next() * w.numel), bit: Math.floor(rng.next() * 8), kind: 'flip' as const }));
      const inj = injectFaults(clean, faults);
      const a = await fast.evaluate(inj.tensors, inj.changed);
      const b = await plain.evaluate(inj.tensors, inj.changed);
      if (a.path === 'suffix') suffix++;
      assert.deepEqual([a.correct, a.sdc, a.due], [b.correct, b.sdc, b.due], `trial ${t} (${a.path} ${a.cut ?? ''})`);
    }
    assert.ok(suffix >= 6, `${suffix} of 12 trials ran only the suffix`);
  } finally {
    await fast.release();
    await plain.release();
  }
});

test('protectFormats: each hardening variant per format version, with its campaign, or the sentence harden refused it with', async () => {
  const data = testImages(100);
  const base = await compareFormats({ model: lenet(), data, train: train(200), formats: ['float32', 'int8'], bers: [1e-3], trials: 2, seed: 3, threads: 1 });
  const opts = { variants: 'tmr-channels:0.5', train: train(300), data, bers: [1e-3], trials: 2, seed: 3, threads: 1 };
  const a = await protectFormats(base, opts);
  for (const row of base) {
    const p = a.rows.find((r) => r.format === row.format);
    if (!p) { assert.ok(a.skipped.some((s) => s.startsWith(`${row.format} tmr-channels 50%: `)), a.skipped.join(' | ')); continue; }
    assert.equal(p.variant, 'tmr-channels 50%');
    assert.ok(p.bits > row.bits, `${row.format}: the protected version stores more bits (${p.bits} vs ${row.bits})`);
    assert.equal(p.campaign.golden.correct, row.campaign.golden.correct, `${row.format}: fault-free the protected version predicts as the unprotected`);
  }
  assert.ok(a.rows.some((r) => r.format === 'float32'), 'float32 is always protected');
  const b = await protectFormats(base, opts);
  const strip = (rows: typeof a.rows) => rows.map((r) => r.campaign.records.map(({ millis: _, ...x }) => x));
  assert.deepEqual(strip(b.rows), strip(a.rows), 'reproducible from the seed');
  const json = formatsJson([...base, ...a.rows], 'lenet5');
  assert.deepEqual(json.formats.map((f) => f.variant ?? 'none'), [...base.map(() => 'none'), ...a.rows.map(() => 'tmr-channels 50%')]);
});

test('rank on a damaged QDQ model: one sentence naming the tensor, not a crash', async () => {
  const q = await lenetInt8();
  const scale = [...q.graph.initializers.values()].find((t) => t.name.endsWith('.weight.scale'))!;
  const inits = new Map(q.graph.initializers);
  inits.set(scale.name, { ...scale, dims: [3], data: new Float32Array([0.1, 0.1, 0.1]) });
  const bad = { ...q, graph: { ...q.graph, initializers: inits } };
  await assert.rejects(rank(bad, { method: 'l1' }), (e: unknown) => e instanceof FlipguardError && /has 3 scales and \d+ zero points for \d+ slices along axis 0; fix the model\.$/.test(e.message));
});
