/**
 * QOperator models (issue 15): the QDQ rewrite of QLinearConv / QLinearMatMul (formats/qoperator.ts)
 * computes the QOperator model's outputs bit for bit under onnxruntime's default optimisation
 * (which fuses the groups back into the integer kernels) and keeps every stored word; rank scores
 * a QOperator model like its QDQ form; every hardening method hardens it (written in QDQ form)
 * with the fault-free promise measured here; ConvInteger/MatMulInteger are refused in one sentence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, subset } from '../src/data/index.js';
import { quantizeModel } from '../src/formats/index.js';
import { qoperatorToQdq, hasQOperator } from '../src/formats/qoperator.js';
import { dequantizedModel } from '../src/formats/dequantize.js';
import { formatCounts } from '../src/graph/info.js';
import { readModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import { harden, profileIntervals, storedWordTensors, validateHardened, HARDEN_METHODS } from '../src/harden/index.js';
import { rank } from '../src/analysis/index.js';
import { FlipguardError } from '../src/errors.js';
import { countDiffs, logitsOf, scoresFor } from './helpers/harden.js';
import { decodeModel } from '../src/graph/onnx.js';
import { optimizedModelBytes } from '../src/runtime/timing.js';
import { qlinearMatMulModel, qoperatorFromQdq, qoperatorModel } from './helpers/quantized.js';
import { fileURLToPath } from 'node:url';

const exact: RuntimeOptions = { optimization: 'disabled' };
const all: RuntimeOptions = {};
const test64 = (() => {
  const d = loadDataset({ data: 'mnist', split: 'test' });
  return subset(d, Array.from({ length: 64 }, (_, i) => (i * 37) % d.count));
})();

const shipped = (name: string): string => fileURLToPath(new URL(`../../models/${name}-mnist.onnx`, import.meta.url));
const made = new Map<string, Promise<{ float: Model; qdq: Model; qop: Model }>>();
/** The shipped model quantized (QDQ) and converted to QOperator (QLinearConv kernels, integer MaxPool). */
function qopOf(name: 'lenet5' | 'vgg11'): Promise<{ float: Model; qdq: Model; qop: Model }> {
  if (!made.has(name)) {
    const float = readModel(shipped(name));
    made.set(name, quantizeModel(float, test64, { threads: 1 }).then((r) => ({ float, qdq: r.model, qop: qoperatorFromQdq(r.model) })));
  }
  return made.get(name)!;
}
const lenetQop = () => qopOf('lenet5');

const counts = (m: Model): [string, number][] => formatCounts(m).map((f) => [f.format, f.parameters]);
/** QLinearConv kernels in onnxruntime's optimised graph of `m`. */
const fusedConvs = async (m: Model): Promise<number> => decodeModel(await optimizedModelBytes(m, { threads: 1 })).graph.nodes.filter((n) => n.opType === 'QLinearConv').length;

test('QOperator LeNet-5 and VGG-11: the QDQ rewrite is bit-identical at the default level and keeps every stored word', async () => {
  for (const [name, convs] of [['lenet5', 2], ['vgg11', 8]] as const) {
    const { qop } = await qopOf(name);
    assert.equal(qop.graph.nodes.filter((n) => n.opType === 'QLinearConv').length, convs, `${name}: ${convs} QLinearConv kernels`);
    assert.ok(qop.graph.nodes.some((n) => n.opType === 'MaxPool' && qop.graph.nodes.some((p) => p.opType === 'QLinearConv' && p.outputs[0] === n.inputs[0])), 'an integer MaxPool');
    const r = qoperatorToQdq(qop);
    assert.equal(r.layers.length, convs);
    assert.ok(!hasQOperator(r.model), 'no QOperator kernel left');
    const ref = await logitsOf(qop, test64, all);
    assert.equal(countDiffs((await logitsOf(r.model, test64, all)).logits, ref.logits), 0, `${name}: bit-identical logits at the default level`);
    assert.equal(await fusedConvs(r.model), convs, `${name}: onnxruntime fuses every group back into QLinearConv`);
    // every stored word kept; added: one float32 bias scale per output channel of each QLinearConv
    const before = counts(qop), after = counts(r.model);
    assert.deepEqual(after.filter(([f]) => f !== 'float32'), before.filter(([f]) => f !== 'float32'));
    const channels = r.biasScales.reduce((sum, n) => sum + r.model.graph.initializers.get(n)!.dims[0], 0);
    assert.equal(after.find(([f]) => f === 'float32')![1] - before.find(([f]) => f === 'float32')![1], channels);
    if (name === 'lenet5') assert.equal(channels, 6 + 16);
    for (const [k, t] of qop.graph.initializers) assert.equal(r.model.graph.initializers.get(k), t, `${k} is the same initializer`);
  }
});

test('QLinearMatMul: the QDQ rewrite is bit-identical, per tensor and per column, with no stored word added', async () => {
  const x = { name: 'ramp', x: Float32Array.from({ length: 16 * 32 }, (_, i) => ((i * 7919) % 1000) / 1000), y: new Uint8Array(32), shape: [16], count: 32, classes: 5 };
  for (const perColumn of [false, true]) {
    const m = qlinearMatMulModel(perColumn);
    const r = qoperatorToQdq(m);
    assert.deepEqual(r.layers, ['mm']);
    assert.equal(countDiffs((await logitsOf(r.model, x, all)).logits, (await logitsOf(m, x, all)).logits), 0, `per column ${perColumn}`);
    assert.deepEqual(counts(r.model), counts(m), 'the same stored words');
  }
  // an opset-10 QLinearMatMul layer (upgraded first, one warning) hardened by a channel method and a vote: still exact
  const old = { ...qlinearMatMulModel(true), opsetImports: [{ domain: '', version: 10 }] };
  const ref = (await logitsOf(old, x, all)).logits;
  for (const method of ['tmr-channels', 'tmr-weights'] as const) {
    const warnings: string[] = [];
    const h = await harden(old, { method, ratio: 0.4, scores: await rank(old, { method: method === 'tmr-weights' ? 'magnitude' : 'l1' }), onWarning: (w) => warnings.push(w) });
    assert.equal(warnings.length, 1);
    assert.ok(h.report.totals.protected > 0);
    assert.equal(countDiffs((await logitsOf(h.model, x, all)).logits, ref), 0, `${method} on an opset-10 QLinearMatMul`);
  }
});

test('rank scores a QOperator LeNet-5 like its QDQ form (same layers and units, same values)', async () => {
  const { qdq, qop } = await lenetQop();
  const d = dequantizedModel(qop);
  assert.ok(!d.model.graph.nodes.some((n) => n.opType.includes('Quantize') || n.opType.startsWith('QLinear')), 'a float32 graph');
  // the integer MaxPools run on floats: every activation pair goes
  assert.ok(d.activationPairs >= 4);
  const train = subset(loadDataset({ data: 'mnist', split: 'train' }), 64);
  for (const method of ['vulnerability', 'lrp', 'neurons', 'l1'] as const) {
    const a = await rank(qop, { method, data: train, images: 8, threads: 1 });
    const b = await rank(qdq, { method, data: train, images: 8, threads: 1 });
    assert.deepEqual(a.layers.map((l) => [l.name, l.scores.length]), b.layers.map((l) => [l.name, l.scores.length]), `${method}: the same layers and units`);
    const flat = (s: typeof a) => s.layers.flatMap((l) => l.scores);
    const [fa, fb] = [flat(a), flat(b)];
    const scale = Math.max(...fb.map(Math.abs));
    assert.ok(fa.every((v, i) => Math.abs(v - fb[i]) <= 1e-5 * scale), `${method}: the QDQ model's scores`);
  }
});

for (const name of ['lenet5', 'vgg11'] as const) {
  test(`every hardening method on a QOperator ${name}: written in QDQ form, integer kernels kept, fault-free logits bit-identical at the default level`, async () => {
    const { float, qop } = await qopOf(name);
    // intervals profiled on the images compared: every fault-free value lies inside its interval
    const intervals = await profileIntervals(qop, test64, exact);
    const ref = await logitsOf(qop, test64, all);
    const convs = await fusedConvs(qop);
    const bits = (m: Model): number => formatCounts(m, storedWordTensors(m)).reduce((sum, f) => sum + f.bits, 0);
    for (const method of HARDEN_METHODS) {
      const ratio = method === 'ranger' ? 0 : 0.25;
      const r = await harden(qop, { method, ratio, scores: scoresFor(method, float), intervals });
      assert.ok(!hasQOperator(r.model), `${method}: written in QDQ form`);
      assert.equal(countDiffs((await logitsOf(r.model, test64, all)).logits, ref.logits), 0, `${name} ${method}: logits bit-identical to the QOperator model's`);
      assert.equal(await fusedConvs(r.model), convs, `${name} ${method}: every conv stays a QLinearConv kernel`);
      // stored bits of the given QOperator model, each word at its width
      assert.ok(Math.abs(r.report.memoryOverhead - (bits(r.model) - bits(qop)) / bits(qop)) < 1e-12, `${method}: memory in stored bits`);
      await validateHardened(qop, r, test64);
    }
  });
}

test('ConvInteger is refused by rank and harden in one sentence naming the node', async () => {
  const m = qoperatorModel();
  await assert.rejects(harden(m, { method: 'tmr-weights', ratio: 0 }), (e: unknown) => e instanceof FlipguardError && /"cint" \(ConvInteger\)/.test(e.message) && e.message.split('; ').length === 2);
  await assert.rejects(rank(m, { method: 'l1' }), (e: unknown) => e instanceof FlipguardError && /"cint" \(ConvInteger\)/.test(e.message));
});
