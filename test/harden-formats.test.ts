/**
 * Hardening models stored in other number formats (issue 15): float16/bfloat16 (parameters stored
 * as 16-bit words and read through Cast, `convert`) and int8 QDQ (`quantize`). Every method keeps
 * the stored words in their format, copies included, and the hardened model computes the
 * unhardened model's logits bit for bit when no fault is present (optimisation levels as in
 * test/harden.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../src/models/index.js';
import { loadDataset, subset } from '../src/data/index.js';
import { convertModel, quantizeModel } from '../src/formats/index.js';
import { DataType, type Model } from '../src/graph/types.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import { countHardened, harden, hardenedInfo, overheads, profileIntervals, HARDEN_METHODS, type HardenMethod } from '../src/harden/index.js';
import { wordView } from '../src/graph/dtype.js';
import { FlipguardError } from '../src/errors.js';
import { decodeModel, encodeModel } from '../src/graph/onnx.js';
import { optimizedModelBytes } from '../src/runtime/timing.js';
import { qoperatorModel } from './helpers/quantized.js';
import { formatCounts } from '../src/graph/info.js';
import { runCampaign } from '../src/campaign/run.js';
import type { TrialRecord } from '../src/campaign/records.js';
import { runCli } from './security-helpers.js';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countDiffs, logitsOf, scoresFor } from './helpers/harden.js';

const test64 = (() => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: 64 }, (_, i) => (i * 31) % all.count));
})();
const exact: RuntimeOptions = { optimization: 'disabled' };

/** Data types of the initializers of `m` that are read through a Cast to float32 (the stored parameters and their copies). */
function castStored(m: Model): Set<number> {
  const inits = m.graph.initializers;
  const toFloat = m.graph.nodes.filter((n) => n.opType === 'Cast' && n.attributes.to?.type === 'int' && n.attributes.to.value === DataType.FLOAT);
  return new Set(toFloat.filter((n) => inits.has(n.inputs[0])).map((n) => inits.get(n.inputs[0])!.dataType));
}

/** Every method on `model` (whose float32 original is `float`): fault-free logits bit-equal to the unhardened model's. */
async function everyMethod(float: Model, model: Model, label: string, check: (m: Model, method: HardenMethod) => void): Promise<void> {
  const intervals = await profileIntervals(model, test64, exact);
  const refExact = await logitsOf(model, test64, exact);
  const refAll = await logitsOf(model, test64, {});
  for (const method of HARDEN_METHODS) {
    const ratio = method === 'ranger' ? 0 : 0.25;
    // scores of the float32 original: the same layers, units and counts
    const { model: hm, report } = await harden(model, { method, ratio, scores: scoresFor(method, float), intervals });
    assert.ok(report.totals.protected > 0 || method === 'ranger', `${label} ${method} protects something`);
    check(hm, method);
    const folded = method === 'tmr-weights' || method === 'tmr-bits';
    const p = await logitsOf(hm, test64, folded ? {} : exact);
    assert.equal(countDiffs(p.logits, (folded ? refAll : refExact).logits), 0, `${label} ${method}: logits bit-equal`);
  }
}

for (const arch of ['lenet5', 'mobilenetv2'] as const) {
  for (const to of ['float16', 'bfloat16'] as const) {
    test(`${to} ${arch}: every hardening method keeps the words in ${to} and is bit-exact fault-free`, async () => {
      const float = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 3 });
      const model = convertModel(float, to).model;
      const dt = to === 'float16' ? DataType.FLOAT16 : DataType.BFLOAT16;
      await everyMethod(float, model, `${to} ${arch}`, (hm, method) => {
        const floats = [...hm.graph.initializers.values()].filter((t) => t.dataType === DataType.FLOAT && !/range|edac|interval|lower|upper|fill/.test(t.name));
        assert.deepEqual([...castStored(hm)], [dt], `${method}: parameters stored as ${to} only`);
        assert.deepEqual(floats.map((t) => t.name), [], `${method}: no float32 copies of parameters`);
      });
    });
  }
}

/** `m` with bit `bit` of element `at` of initializer `name` flipped (a copy; `m` is unchanged). */
function flip(m: Model, name: string, at: number, bit: number): Model {
  const t = m.graph.initializers.get(name)!;
  const data = t.data.slice() as typeof t.data;
  const w = wordView(data);
  w[at] ^= 2 ** bit;
  const initializers = new Map(m.graph.initializers);
  initializers.set(name, { ...t, data });
  return { ...m, graph: { ...m.graph, initializers } };
}

/** Data types of the initializers that DequantizeLinear nodes of `m` read as their quantized input. */
function dqStored(m: Model): Set<number> {
  const inits = m.graph.initializers;
  return new Set(m.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && inits.has(n.inputs[0])).map((n) => inits.get(n.inputs[0])!.dataType));
}

const int8Models = new Map<string, Promise<Model>>();
/** The zoo model `arch` quantized (QDQ) on the test images. */
function int8(arch: 'lenet5' | 'mobilenetv2'): { float: Model; q: Promise<Model> } {
  const float = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 3 });
  if (!int8Models.has(arch)) int8Models.set(arch, quantizeModel(float, test64, { threads: 1 }).then((r) => r.model));
  return { float, q: int8Models.get(arch)! };
}

for (const to of ['float16', 'bfloat16', 'int8'] as const) {
  test(`${to}: tmr-weights and tmr-bits outvote corrupted ${to} words, and two corrupted copies get through`, async () => {
    const float = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 0.25, seed: 3 });
    const model = to === 'int8' ? await int8('lenet5').q : convertModel(float, to).model;
    // the word's top bit, the one below it, and a third one (float: exponent top 14, 13, sign 15; int8: sign 7, 6, 5)
    const [top, next, other] = to === 'int8' ? [7, 6, 5] : [14, 13, 15];
    const ref = (await logitsOf(model, test64, {})).logits;
    const same = async (m: Model): Promise<boolean> => countDiffs((await logitsOf(m, test64, {})).logits, ref) === 0;

    const tw = await harden(model, { method: 'tmr-weights', ratio: 0.25, scores: scoresFor('tmr-weights', float) });
    const t = hardenedInfo(tw.model)!.weights![0];
    const at = (tw.model.graph.initializers.get(t.index)!.data as Int32Array)[0];
    // the top bit of one protected weight in copy 1: outvoted
    assert.ok(await same(flip(tw.model, t.weight, at, top)), 'one corrupted copy is outvoted');
    // three copies differing in three different bits: the word-level majority is the original word
    assert.ok(await same(flip(flip(flip(tw.model, t.weight, at, top), t.copies[0], 0, next), t.copies[1], 0, other)), 'three-way disagreement voted bitwise');
    assert.ok(!(await same(flip(flip(tw.model, t.weight, at, top), t.copies[0], 0, top))), 'two copies with the same flip win the vote');

    const tb = await harden(model, { method: 'tmr-bits' });
    const b = hardenedInfo(tb.model)!.bits![0];
    assert.deepEqual(b.bits, [top], `default bit of ${to}`);
    assert.equal(b.words, t.weight, `the words are the stored ${to} tensor itself`);
    assert.ok(await same(tb.model), 'fault-free bit-equal');
    assert.ok(await same(flip(tb.model, b.words, 0, top)), 'protected bit outvoted');
    assert.ok(!(await same(flip(flip(tb.model, b.words, 0, top), b.planes[0], 0, 0))), 'two corrupted copies of the bit get through');
    assert.ok(!(await same(flip(tb.model, b.words, 0, next))), 'an unprotected bit is not voted');
    const width = to === 'int8' ? 8 : 16;
    await assert.rejects(harden(model, { method: 'tmr-bits', bits: [30] }), (e: unknown) => e instanceof FlipguardError && new RegExp(`bits.*30.*bits 0–${width - 1}`).test(e.message));
  });
}

for (const arch of ['lenet5', 'mobilenetv2'] as const) {
  test(`int8 QDQ ${arch}: every hardening method keeps int8/int32 words and is bit-exact fault-free`, async () => {
    const { float, q } = int8(arch);
    const model = await q;
    await everyMethod(float, model, `int8 ${arch}`, (hm, method) => {
      const types = dqStored(hm);
      assert.ok([...types].every((t) => t === DataType.INT8 || t === DataType.INT32 || t === DataType.UINT8), `${method}: quantized tensors stay integers`);
      const floats = [...hm.graph.initializers.values()].filter((t) => t.dataType === DataType.FLOAT && /weight|bias/.test(t.name) && !/scale/.test(t.name));
      assert.deepEqual(floats.map((t) => t.name), [], `${method}: no float32 copies of weights or biases`);
    });
  });
}

test('QOperator models with ConvInteger/MatMulInteger are refused in one sentence naming the node and the fix, by the library and the CLI (exit 2, nothing written)', async () => {
  const qop = qoperatorModel();
  const fix = /flipguard harden cannot take the node "cint" \(ConvInteger\) apart.*flipguard quantize/;
  await assert.rejects(harden(qop, { method: 'tmr-weights', ratio: 0 }), (e: unknown) => e instanceof FlipguardError && fix.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-qop-'));
  try {
    const src = join(dir, 'qop.onnx');
    writeFileSync(src, encodeModel(qop));
    const out = join(dir, 'h.onnx');
    const r = await runCli(['harden', src, '--method', 'tmr-bits', '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.err, fix);
    assert.equal(r.err.trim().split('\n').length, 1, 'one sentence');
    assert.ok(!existsSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('int8 QDQ: ranger checks in the dequantized domain and tmr-weights/tmr-bits fold, so onnxruntime keeps every QLinearConv and the logits stay bit-equal at the default level', async () => {
  const { float, q } = int8('lenet5');
  const model = await q;
  const fused = async (m: Model): Promise<number> => decodeModel(await optimizedModelBytes(m, { threads: 1 })).graph.nodes.filter((n) => n.opType === 'QLinearConv').length;
  const want = await fused(model);
  assert.ok(want >= 2, 'the QDQ model runs integer convs');
  const ref = await logitsOf(model, test64, {});
  const intervals = await profileIntervals(model, test64, exact);
  for (const [label, opts] of [
    ['ranger', { method: 'ranger', intervals }],
    ['ranger saturate', { method: 'ranger', intervals, rangeMode: 'saturate' }],
    ['tmr-weights', { method: 'tmr-weights', ratio: 0.25, scores: scoresFor('tmr-weights', float) }],
    ['tmr-bits', { method: 'tmr-bits', bits: [7, 6] }],
  ] as const) {
    const hm = (await harden(model, opts as never)).model;
    assert.equal(await fused(hm), want, `${label}: every QLinearConv kept`);
    assert.equal(countHardened(hm).macs, countHardened(model).macs, `${label}: counted like the original (no MACs added)`);
    const p = await logitsOf(hm, test64, {});
    assert.equal(countDiffs(p.logits, ref.logits), 0, `${label}: logits bit-equal at the default level`);
  }
  // EDAC compares copies at the conv output, inside the QDQ group: the conv runs in float there
  const edac = (await harden(model, { method: 'edac', ratio: 0.25, scores: scoresFor('edac', float), intervals })).model;
  assert.ok(await fused(edac) < want, 'EDAC gives up the integer conv kernels');
});

test('memory is counted in stored bits per format (an int8 copy is 8 bits, a float16 copy 16), and campaigns on hardened int8/float16 models are reproducible from their seed', async () => {
  const { float, q } = int8('lenet5');
  const f16 = convertModel(float, 'float16').model;
  for (const [model, width] of [[await q, 8], [f16, 16]] as const) {
    const bits = (m: Model): number => formatCounts(m).reduce((s, f) => s + f.bits, 0);
    const r = await harden(model, { method: 'tmr-weights', ratio: 0.25, scores: scoresFor('tmr-weights', float) });
    const p = r.report.totals.protected;
    assert.equal(r.report.addedParameters, 2 * p, 'two stored copies per protected weight');
    assert.ok(Math.abs(r.report.memoryOverhead * bits(model) - 2 * p * width) < 1e-6, `memory overhead = 2·${width} bits per protected weight`);
    const ov = await overheads(model, r.model, subset(test64, [0, 1, 2, 3]), { runs: 1, threads: 1 });
    assert.equal(ov.parameterBits!.hardened - ov.parameterBits!.original, 2 * p * width);
    assert.equal(ov.macs.ratio, 1, 'the vote adds no MACs');
    // seeded campaign over every stored word (copies included): same seed, same records
    const base = { model: r.model, data: subset(test64, Array.from({ length: 16 }, (_, i) => i)), bers: [2e-3], trials: 3, seed: 9, threads: 1 };
    const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...x }) => x);
    const a = await runCampaign(base);
    const b = await runCampaign(base);
    assert.deepEqual(strip(a.records), strip(b.records));
    assert.ok(a.records.some((x) => x.faults > 0), 'faults were injected');
    const c = await runCampaign({ ...base, seed: 10 });
    assert.notDeepEqual(strip(a.records).map((x) => x.faults), strip(c.records).map((x) => x.faults), 'another seed, other faults');
  }
});
