/**
 * Native float16 models (issue 15): the whole graph computes in float16, as `model.half()` exports
 * or onnxconverter-common's conversion produce. Made here from the bundled float32 LeNet-5 by
 * `convertModel(…, { native: true })`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';
import { DataType, GraphBuilder, loadModel, makeModel, readModel, type Model } from '../src/graph/index.js';
import { formatCounts } from '../src/graph/info.js';
import { FaultPlanner, injectFaults, listParameters } from '../src/faults/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { predict } from '../src/runtime/evaluate.js';
import { loadDataset } from '../src/data/index.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { createSession, fromFloat16Words, toFloat16Words } from '../src/runtime/session.js';
import { numberToFloat16 } from '../src/graph/dtype.js';
import { convertModel } from '../src/formats/index.js';
import { bitProfile, compareRankings, rank, unitFaults } from '../src/analysis/index.js';
import { predictWithNeuronFaults, probeValues } from '../src/faults/neuron.js';
import { limitImages, runCampaign } from '../src/campaign/run.js';
import { keepIoTypes } from './helpers/float16.js';
import type { TrialRecord } from '../src/campaign/records.js';

const modelPath = fileURLToPath(new URL('../../models/lenet5-mnist.onnx', import.meta.url));
const lenet = (): Model => loadModel(modelPath);
const native = (): Model => convertModel(lenet(), 'float16', { native: true }).model;
const testSet = () => loadDataset({ data: 'mnist', split: 'test' });

test('convert --native: float16 input, parameters and logits; logits within float16 rounding of float32, same accuracy', async () => {
  const m = lenet();
  const h = native();
  assert.equal(h.graph.inputs[0].elemType, DataType.FLOAT16);
  assert.equal(h.graph.outputs[0].elemType, DataType.FLOAT16);
  assert.ok([...h.graph.initializers.values()].every((t) => t.dataType !== DataType.FLOAT), 'no float32 initializer left');
  assert.ok(h.graph.nodes.every((n) => n.opType !== 'Cast'), 'no Cast: the graph computes in float16');
  assert.deepEqual(formatCounts(h).map((f) => [f.format, f.parameters, f.bits]), [['float16', 61706, 61706 * 16]]);
  const data = limitImages(testSet(), 500);
  const a = await evaluate(m, data, { threads: 1 });
  const b = await evaluate(h, data, { threads: 1 });
  assert.ok(b.predictions.logits instanceof Float32Array);
  let dev = 0;
  let scale = 0;
  for (let i = 0; i < a.predictions.logits.length; i++) {
    dev = Math.max(dev, Math.abs(a.predictions.logits[i] - b.predictions.logits[i]));
    scale = Math.max(scale, Math.abs(a.predictions.logits[i]));
  }
  // float16 keeps 11 significant bits: inputs, parameters and every activation rounded (2⁻¹¹ ≈ 4.9e-4 each)
  assert.ok(dev > 0 && dev < scale * 1e-2, `logits moved by ${dev} (largest logit ${scale})`);
  assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.005, `accuracy float32 ${a.accuracy}, native float16 ${b.accuracy}`);
  assert.throws(() => convertModel(m, 'bfloat16', { native: true }), (e: unknown) => e instanceof FlipguardError && /option "native"/.test(e.message));
  assert.throws(() => convertModel(h, 'float16', { native: true }), (e: unknown) => e instanceof FlipguardError && /float32 model/.test(e.message));
});

test('inject on a native float16 model: faults in float16 words at bits 0–15, reproducible bit for bit from the seed', async () => {
  const h = native();
  const data = limitImages(testSet(), 100);
  const base = { model: h, data, bers: [1e-4], trials: 3, seed: 5, threads: 1 };
  const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...r }) => r);
  const a = await runCampaign(base);
  const b = await runCampaign(base);
  assert.deepEqual(strip(a.records), strip(b.records));
  const c = await runCampaign({ ...base, shortcuts: false });
  assert.deepEqual(strip(a.records), strip(c.records), 'shortcuts (cached float16 activations) change nothing');
  assert.ok(a.records.some((r) => r.accuracyDrop !== 0), 'faults in float16 words change predictions');
  const planner = new FaultPlanner(h);
  const fmt = new Map(listParameters(h).map((p) => [p.name, p.format]));
  const faults = planner.plan(5, 1e-4, 0).faults;
  assert.ok(faults.length > 0);
  for (const f of faults) { assert.equal(fmt.get(f.tensor), 'float16'); assert.ok(f.bit >= 0 && f.bit < 16); }
});

test('a node onnxruntime has no CPU kernel for is refused in one sentence naming the op and the fix', async () => {
  // float16 ops without a kernel run through onnxruntime's inserted casts; Relu on int16 has none
  const b = new GraphBuilder('g');
  const x = b.input('x', [1, 4], DataType.INT16);
  const y = b.op('Relu', [x], {}, 'relu_int16');
  b.output(y, [1, 4], DataType.INT16);
  await assert.rejects(createSession(makeModel(b.build())), (e: unknown) => {
    assert.ok(e instanceof FlipguardError);
    assert.match(e.message, /no kernel for the Relu node "relu_int16"/);
    assert.match(e.message, /convert --to float16/);
    return true;
  });
});

test('CLI: convert --native writes a float16 model that info counts and evaluate runs; bfloat16 --native refused', () => {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'fg-f16n-'));
  const out = join(dir, 'lenet.f16n.onnx');
  let r = run('convert', modelPath, '--to', 'float16', '--native', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readModel(out).graph.inputs[0].elemType, DataType.FLOAT16);
  r = run('info', out);
  assert.match(r.stdout, /float16 61,706 in 10 tensors \(987,296 bits\)/);
  r = run('evaluate', out, '--limit', '200', '--threads', '1', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /accuracy 9\d\.\d\d%/);
  const before = readFileSync(out);
  r = run('convert', modelPath, '--to', 'bfloat16', '--native', '--out', join(dir, 'b.onnx'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--native/);
  assert.deepEqual(readFileSync(out), before);
  rmSync(dir, { recursive: true, force: true });
});

test('rank on a native float16 model: Eq. (1), LRP and l1 equal the Cast-around model\'s of the same words (float32 arithmetic)', async () => {
  const h = native();
  const c = convertModel(lenet(), 'float16').model;
  let words = 0;
  for (const [name, t] of c.graph.initializers) {
    if (t.dataType !== DataType.FLOAT16) continue;
    assert.deepEqual(h.graph.initializers.get(name)!.data, t.data, `${name}: the same float16 words`);
    words++;
  }
  assert.equal(words, 10);
  const data = limitImages(loadDataset({ data: 'mnist', split: 'train' }), 32);
  for (const method of ['vulnerability', 'lrp', 'l1'] as const) {
    const opts = { method, data, images: 32, threads: 1, seed: 2 };
    const a = await rank(h, opts);
    assert.equal(a.layers.length, 5);
    assert.ok(a.layers.every((l) => l.scores.every(Number.isFinite) && l.scores.some((x) => x !== 0)), `${method}: finite, not all zero`);
    assert.deepEqual(a, await rank(c, opts), `${method}: native = Cast-around`);
  }
});

test('rank --compare and the bit profile on a native float16 model flip its float16 words and run it, reproducibly', async () => {
  const h = native();
  const opts = {
    layer: 'conv2', ber: 1e-3, data: limitImages(testSet(), 60), trials: 1, faults: 20, bits: 'exponent', seed: 4,
    rankData: loadDataset({ data: 'mnist', split: 'train' }), images: 16, methods: ['l1', 'vulnerability'] as const, runtime: { threads: 1 },
  };
  const a = await compareRankings(h, { ...opts, methods: [...opts.methods] });
  assert.deepEqual(a, await compareRankings(h, { ...opts, methods: [...opts.methods] }));
  assert.deepEqual(a.bits, [10, 11, 12, 13, 14]);
  assert.equal(a.units.length, 16);
  assert.ok(a.groundTruth.every(Number.isFinite) && a.groundTruth.some((d) => d !== 0), 'exponent flips of float16 weights change predictions');
  for (const f of unitFaults(h, opts, 3, 0)) { assert.equal(f.tensor, 'conv2.weight'); assert.ok(f.bit >= 10 && f.bit <= 14); }
  const p = await bitProfile(h, { data: limitImages(testSet(), 30), layer: 'fc3', trials: 1, runtime: { threads: 1 } });
  assert.deepEqual(p.rows.map((r) => r.bit), Array.from({ length: 16 }, (_, b) => b));
  assert.equal(p.rows[15].field, 'sign');
});

test('neuron-output faults on a native float16 model: stuck-at-0 is the element zeroed in float16; bit flips are refused in one sentence', async () => {
  const h = native();
  const data = limitImages(testSet(), 20);
  const value = h.graph.nodes[0].outputs[0];
  const at = 7 * 24 + 11;
  // oracle: the element multiplied by a float16 0 in the graph (every other element by 1)
  const shape = (await probeValues(h, [value], data.shape)).get(value)!.dims.slice(1);
  const keep = new Uint16Array(shape.reduce((a, b) => a * b, 1)).fill(numberToFloat16(1));
  keep[at] = 0;
  const g = h.graph;
  const oracle: Model = { ...h, graph: { ...g,
    initializers: new Map([...g.initializers, ['keep', { name: 'keep', dataType: DataType.FLOAT16, dims: [1, ...shape], data: keep }]]),
    nodes: [{ ...g.nodes[0], outputs: ['pre'] }, { name: 'zeroed', opType: 'Mul', domain: '', inputs: ['pre', 'keep'], outputs: [value], attributes: {} }, ...g.nodes.slice(1)] } };
  const want = (await evaluate(oracle, data, { threads: 1 })).predictions.logits;
  const got = await predictWithNeuronFaults(h, data, [{ value, index: at, kind: 'stuck0' }], { threads: 1 });
  assert.deepEqual(got.logits, want);
  assert.notDeepEqual(got.logits, (await evaluate(h, data, { threads: 1 })).predictions.logits, 'the stuck element changes the logits');
  await assert.rejects(predictWithNeuronFaults(h, data, [{ value, index: 0, kind: 'flip', bit: 14 }]), (e: unknown) => e instanceof FlipguardError && /^Value "conv1_out" is a float16 activation of a native float16 model.*use stuck0 faults there, or flip bits in the Cast-around model/.test(e.message));
});

test('a flip in a native float16 model is exactly one stored bit: fed as a faulty copy it gives the logits of the model storing that word', async () => {
  const h = native();
  const data = limitImages(testSet(), 50);
  const name = 'fc3.weight';
  const clean = h.graph.initializers.get(name)!.data as Uint16Array;
  const { tensors } = injectFaults(new Map([[name, clean]]), [{ tensor: name, index: 3, bit: 14, kind: 'flip' }]);
  const faulty = tensors.get(name) as Uint16Array;
  assert.ok(faulty instanceof Uint16Array);
  for (let i = 0; i < clean.length; i++) assert.equal(faulty[i], i === 3 ? clean[i] ^ 0x4000 : clean[i]);
  const runner = await ModelRunner.create(h, { threads: 1, swappable: [name] });
  const fed = await predict(runner, data, { params: tensors });
  const plain = await predict(runner, data);
  await runner.release();
  const t = h.graph.initializers.get(name)!;
  const stored = await evaluate({ ...h, graph: { ...h.graph, initializers: new Map([...h.graph.initializers, [name, { ...t, data: faulty }]]) } }, data, { threads: 1 });
  assert.deepEqual(fed.logits, stored.predictions.logits);
  assert.notDeepEqual(fed.logits, plain.logits);
});

test('a float16 model with float32 input and output (onnxconverter-common keep_io_types): evaluate, inject and rank run it', async () => {
  const h = native();
  const m: Model = keepIoTypes(h);
  const data = limitImages(testSet(), 100);
  const a = await evaluate(h, data, { threads: 1 });
  const b = await evaluate(m, data, { threads: 1 });
  // onnxruntime fuses the boundary Casts differently, so only float16 rounding apart
  let dev = 0;
  for (let i = 0; i < a.predictions.logits.length; i++) dev = Math.max(dev, Math.abs(a.predictions.logits[i] - b.predictions.logits[i]));
  assert.ok(dev < 0.05, `logits differ by ${dev}`);
  assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.01);
  const base = { model: m, data, bers: [1e-4], trials: 2, seed: 5, threads: 1 };
  const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...r }) => r);
  const r1 = await runCampaign(base);
  assert.deepEqual(strip((await runCampaign(base)).records), strip(r1.records), 'reproducible from the seed');
  assert.deepEqual(r1.records.map((r) => r.faults), (await runCampaign({ ...base, model: h })).records.map((r) => r.faults), 'the same stored words draw the same faults');
  // rank scores the same words in float32 arithmetic: the boundary Casts become identities
  assert.deepEqual(await rank(m, { method: 'l1' }), await rank(h, { method: 'l1' }));
});

test('images fed to a float16 input round half to even exactly like numberToFloat16, and decode back exactly', () => {
  const x = new Float32Array(200000);
  const bits = new Uint32Array(x.buffer);
  let s = 12345;
  for (let i = 0; i < x.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; bits[i] = s; }
  // ties, subnormal ties, the overflow edge, zeros, infinities
  const edge = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 2 ** -24, 65504, 65519.996, 65520, -0, 0, Infinity, -Infinity, 2 ** -14 - 2 ** -25, 1e-8, -3.5];
  x.set(edge);
  const w = toFloat16Words(x);
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) assert.equal(w[i], numberToFloat16(x[i]), `value ${x[i]}`);
  const back = fromFloat16Words(w);
  for (let i = 0; i < edge.length; i++) assert.equal(toFloat16Words(back.subarray(i, i + 1))[0], w[i]);
});

test('convert --native keeps the inputs ONNX types float32 (Resize scales) and converts ConstantOfShape fills; the model runs', async () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', ['N', 1, 2, 2]);
  const scales = b.init('scales', [4], [1, 1, 2, 2]);
  const up = b.op('Resize', [x, '', scales], { mode: { type: 'string', value: 'nearest' } } as never, 'up');
  const w = b.init('w', [3, 1, 1, 1], [0.5, -1, 2]);
  const y = b.op('Conv', [up, w], {}, 'conv');
  const flat = b.op('Flatten', [y], {}, 'flat');
  b.output(flat, ['N', 48]);
  const f32 = makeModel(b.build());
  const f16 = convertModel(f32, 'float16', { native: true }).model;
  assert.equal(f16.graph.initializers.get('scales')!.dataType, DataType.FLOAT, 'Resize scales stay float32');
  assert.equal(f16.graph.initializers.get('w')!.dataType, DataType.FLOAT16);
  const data = { name: 't', x: Float32Array.from({ length: 8 }, (_, i) => i / 4 - 1), y: new Uint8Array(2), shape: [1, 2, 2], count: 2, classes: 48 };
  const [a, h] = [await predict(await ModelRunner.create(f32), data), await predict(await ModelRunner.create(f16), data)];
  // inputs and weights are exact in float16 here, so the products are too
  assert.deepEqual(Array.from(h.logits), Array.from(a.logits));
});
