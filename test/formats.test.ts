/**
 * Number formats (issue 15): the fault model per stored word — bit numbering of float16, bfloat16,
 * int8, uint8 and int32 words, flips checked by decoding, plans over mixed-format models.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlipguardError } from '../src/errors.js';
import { A, DataType, GraphBuilder, makeModel, type Model } from '../src/graph/index.js';
import {
  WORD_BITS, WORD_FORMATS, bfloat16ToNumber, decodeWord, float16ToNumber, numberToBfloat16, numberToFloat16, wordView,
  type WordFormat,
} from '../src/graph/dtype.js';
import {
  FaultPlanner, applyFaults, cleanParameters, injectFaults, listParameters, parameterFingerprint, resolveBits, selectTargets,
} from '../src/faults/index.js';
import { resolveBitsFor } from '../src/faults/bits.js';
import { Rng } from '../src/util/rng.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { encodeModel, loadModel, readModel } from '../src/graph/index.js';
import { decodeTensor } from '../src/graph/dtype.js';
import { formatCounts } from '../src/graph/info.js';
import { loadDataset } from '../src/data/index.js';
import { evaluate, type ImageSet } from '../src/runtime/evaluate.js';
import { convertModel, quantizeModel } from '../src/formats/index.js';
import { limitImages, runCampaign } from '../src/campaign/run.js';
import type { TrialRecord } from '../src/campaign/records.js';
import { randomImages } from './helpers/harden.js';
import { qoperatorModel } from './helpers/quantized.js';

function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    return true;
  });
}

/** Sample words of each format: zeros, ones, extremes, subnormals, NaN/Inf patterns, random. */
function sampleWords(format: WordFormat): number[] {
  const width = WORD_BITS[format];
  const rng = new Rng(width * 7 + format.length);
  const fixed = [0, 1, (2 ** width - 1) >>> 0, 2 ** (width - 1), 2 ** (width - 1) - 1];
  if (format === 'float16') fixed.push(0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x03ff, 0x7bff);
  if (format === 'bfloat16') fixed.push(0x3f80, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x007f, 0x7f7f);
  const random = Array.from({ length: 40 }, () => Math.floor(rng.next() * 2 ** width) >>> 0);
  return [...fixed, ...random];
}

/**
 * What the format says a word decodes to, computed from its fields (independently of decodeWord's
 * implementation): sign, exponent, mantissa for floats; two's complement for signed integers.
 */
function byFields(format: WordFormat, word: number): number {
  const fields: Record<string, [number, number]> = { float32: [23, 8], float16: [10, 5], bfloat16: [7, 8] };
  if (format in fields) {
    const [mb, eb] = fields[format];
    const width = WORD_BITS[format];
    const sign = Math.floor(word / 2 ** (width - 1)) & 1 ? -1 : 1;
    const e = Math.floor(word / 2 ** mb) & (2 ** eb - 1);
    const m = word & (2 ** mb - 1);
    const bias = 2 ** (eb - 1) - 1;
    if (e === 2 ** eb - 1) return m ? NaN : sign * Infinity;
    if (e === 0) return sign * m * 2 ** (1 - bias - mb);
    return sign * (1 + m / 2 ** mb) * 2 ** (e - bias);
  }
  const width = WORD_BITS[format];
  if (format === 'uint8') return word;
  return word >= 2 ** (width - 1) ? word - 2 ** width : word;
}

test('every format: decoding follows the format\'s fields, and a flip at bit b changes exactly that field', () => {
  for (const format of WORD_FORMATS) {
    const width = WORD_BITS[format];
    for (const w of sampleWords(format)) {
      assert.ok(Object.is(decodeWord(format, w), byFields(format, w)), `${format} word ${w.toString(16)}`);
      for (let b = 0; b < width; b++) {
        const flipped = (w ^ (2 ** b)) >>> 0;
        const want = byFields(format, flipped);
        // the decoded value after the flip is what the format's fields say
        assert.ok(Object.is(decodeWord(format, flipped), want), `${format} word ${w.toString(16)} bit ${b}`);
        if (format === 'int8' || format === 'int32') {
          // two's complement: bit b moves the value by ±2^b, and by ∓2^b at the sign bit
          const d = decodeWord(format, flipped) - decodeWord(format, w);
          assert.equal(Math.abs(d), 2 ** b);
          if (b === width - 1) assert.equal(Math.sign(d), decodeWord(format, w) < 0 ? 1 : -1);
        }
      }
    }
  }
});

test('every format: flipping any bit twice restores the stored word exactly (through injectFaults)', () => {
  for (const format of WORD_FORMATS) {
    const width = WORD_BITS[format];
    const words = sampleWords(format);
    const data = width === 8 ? new Uint8Array(words) : width === 16 ? new Uint16Array(words) : new Uint32Array(words);
    const typed = format === 'float32' ? new Float32Array(data.buffer) : format === 'int8' ? new Int8Array(data.buffer) : format === 'int32' ? new Int32Array(data.buffer) : data;
    const clean = new Map([['t', typed]]);
    for (let b = 0; b < width; b++) {
      const faults = words.map((_, index) => ({ tensor: 't', index, bit: b, kind: 'flip' as const }));
      const once = injectFaults(clean, faults);
      const ov = wordView(once.tensors.get('t')!);
      for (let i = 0; i < words.length; i++) assert.equal(ov[i], (words[i] ^ (2 ** b)) >>> 0, `${format} bit ${b}`);
      assert.equal(once.changedWords, words.length);
      const twice = injectFaults(clean, [...faults, ...faults]);
      assert.deepEqual([...wordView(twice.tensors.get('t')!)], words, `${format} bit ${b} twice`);
      assert.equal(twice.changedWords, 0);
    }
    assertFlip(() => injectFaults(clean, [{ tensor: 't', index: 0, bit: width, kind: 'flip' }]), `0–${width - 1}`);
  }
});

test('float16 and bfloat16 conversions round to nearest even and decode exactly', () => {
  assert.equal(numberToFloat16(1), 0x3c00);
  assert.equal(numberToFloat16(65504), 0x7bff);
  assert.equal(numberToFloat16(65520), 0x7c00); // half an ulp above the largest finite rounds to Inf
  assert.equal(numberToFloat16(65519.99), 0x7bff);
  assert.equal(numberToFloat16(2 ** -24), 0x0001);
  assert.equal(numberToFloat16(2 ** -25), 0x0000); // tie to even (0)
  assert.equal(numberToFloat16(3 * 2 ** -25), 0x0002); // tie to even (2)
  assert.equal(numberToFloat16(1 + 2 ** -11), 0x3c00); // tie → even mantissa
  assert.equal(numberToFloat16(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(numberToFloat16(-0), 0x8000);
  assert.ok(Number.isNaN(float16ToNumber(numberToFloat16(NaN))));
  for (let h = 0; h < 0x10000; h++) {
    const v = float16ToNumber(h);
    if (!Number.isNaN(v)) assert.equal(numberToFloat16(v), h, `float16 ${h.toString(16)} round trip`);
  }
  assert.equal(numberToBfloat16(1), 0x3f80);
  assert.equal(numberToBfloat16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(numberToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
  for (let h = 0; h < 0x10000; h += 7) {
    const v = bfloat16ToNumber(h);
    if (!Number.isNaN(v)) assert.equal(numberToBfloat16(v), h);
  }
});

test('bit selections resolve per format: names pick the format\'s field, numbers the bits the word has', () => {
  assert.deepEqual(resolveBitsFor('exponent', 'float16'), [10, 11, 12, 13, 14]);
  assert.deepEqual(resolveBitsFor('mantissa', 'bfloat16'), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(resolveBitsFor('exponent', 'bfloat16'), [7, 8, 9, 10, 11, 12, 13, 14]);
  assert.deepEqual(resolveBitsFor('sign', 'int8'), [7]);
  assert.deepEqual(resolveBitsFor('sign', 'uint8'), []);
  assert.deepEqual(resolveBitsFor('exponent', 'int8'), []);
  assert.deepEqual(resolveBitsFor(undefined, 'int8'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(resolveBitsFor('0-31', 'float16').length, 16);
  assert.deepEqual(resolveBitsFor('6-9', 'uint8'), [6, 7]);
  assert.deepEqual(resolveBitsFor('exponent', 'float32'), resolveBits('exponent'));
});

/**
 * A small quantized model: x → Conv(W16 as float16 + Cast) → QDQ int8 Conv (per-channel weight,
 * int32 bias) → Gemm with bfloat16 weights (Cast), so every format is a target.
 */
function mixedModel(): Model {
  const rng = new Rng(5);
  const b = new GraphBuilder('mixed');
  const x = b.input('x', ['N', 1, 6, 6]);
  const w1 = b.init('conv1.weight', [2, 1, 3, 3], Uint16Array.from({ length: 18 }, () => numberToFloat16(rng.normal() * 0.5)), DataType.FLOAT16);
  const c1 = b.op('Conv', [x, b.op('Cast', [w1], { to: A.i(DataType.FLOAT) }), b.init('conv1.bias', [2], [0.1, -0.1])], { kernel_shape: A.is([3, 3]) }, 'conv1');
  const r1 = b.op('Relu', [c1], {}, 'relu1');
  const qa = b.op('QuantizeLinear', [r1, b.init('act.scale', [], [0.02]), b.init('act.zero', [], new Uint8Array([0]), DataType.UINT8)], {}, 'q_act');
  const da = b.op('DequantizeLinear', [qa, b.init('act.scale2', [], [0.02]), b.init('act.zero2', [], new Uint8Array([0]), DataType.UINT8)], {}, 'dq_act');
  const wq = b.init('conv2.weight_q', [3, 2, 3, 3], Int8Array.from({ length: 54 }, () => Math.round(rng.normal() * 40)), DataType.INT8);
  const ws = b.init('conv2.weight_scale', [3], [0.01, 0.02, 0.015]);
  const wz = b.init('conv2.weight_zero', [3], new Int8Array(3), DataType.INT8);
  const wd = b.op('DequantizeLinear', [wq, ws, wz], { axis: A.i(0) }, 'dq_w2');
  const bq = b.init('conv2.bias_q', [3], new Int32Array([100, -50, 7]), DataType.INT32);
  const bd = b.op('DequantizeLinear', [bq, b.init('conv2.bias_scale', [3], [0.0002, 0.0004, 0.0003])], { axis: A.i(0) }, 'dq_b2');
  const c2 = b.op('Conv', [da, wd, bd], { kernel_shape: A.is([3, 3]) }, 'conv2');
  const f = b.op('Flatten', [b.op('Relu', [c2], {}, 'relu2')], { axis: A.i(1) }, 'flatten');
  const w3 = b.init('fc.weight', [12, 4], Uint16Array.from({ length: 48 }, () => numberToBfloat16(rng.normal() * 0.3)), DataType.BFLOAT16);
  b.node('Gemm', [f, b.op('Cast', [w3], { to: A.i(DataType.FLOAT) }), b.init('fc.bias', [4], [0, 0.1, 0.2, 0.3])], {}, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 4]);
  return makeModel(b.build(), { opset: 13 });
}

test('a mixed-format model lists every stored word format with layer and role; filters select by format', () => {
  const m = mixedModel();
  const ps = new Map(listParameters(m).map((p) => [p.name, p]));
  const want: [string, WordFormat, string, string][] = [
    ['conv1.weight', 'float16', 'conv1', 'weight'],
    ['act.zero', 'uint8', 'q_act', 'zero_point'],
    ['act.scale', 'float32', 'q_act', 'scale'],
    ['conv2.weight_q', 'int8', 'conv2', 'weight'],
    ['conv2.weight_scale', 'float32', 'conv2', 'scale'],
    ['conv2.weight_zero', 'int8', 'conv2', 'zero_point'],
    ['conv2.bias_q', 'int32', 'conv2', 'bias'],
    ['conv2.bias_scale', 'float32', 'conv2', 'scale'],
    ['fc.weight', 'bfloat16', 'fc', 'weight'],
  ];
  for (const [name, format, node, role] of want) {
    const p = ps.get(name);
    assert.ok(p, name);
    assert.deepEqual([p.format, p.node, p.role], [format, node, role], name);
  }
  assert.deepEqual(selectTargets(m, { formats: 'int8' }).map((p) => p.name), ['conv2.weight_q', 'conv2.weight_zero']);
  assert.deepEqual(selectTargets(m, { roles: ['scale'], names: 'conv2*' }).map((p) => p.name), ['conv2.weight_scale', 'conv2.bias_scale']);
});

test('plans over mixed formats: positions per stored bit, bits inside each word, seeded and reproducible', () => {
  const m = mixedModel();
  const planner = new FaultPlanner(m);
  const params = new Map(listParameters(m).map((p) => [p.name, p]));
  const expected = planner.targets.reduce((s, t) => s + t.numel * WORD_BITS[t.format], 0);
  assert.equal(planner.totalBits, expected);
  const a = planner.plan(3, 0.02, 0);
  assert.deepEqual(new FaultPlanner(m).plan(3, 0.02, 0), a);
  assert.ok(a.faults.length > 0);
  const formatsHit = new Set<WordFormat>();
  for (const f of a.faults) {
    const p = params.get(f.tensor)!;
    assert.ok(f.bit < WORD_BITS[p.format] && f.index < p.numel, `${f.tensor}[${f.index}] bit ${f.bit}`);
    formatsHit.add(p.format);
  }
  assert.ok(formatsHit.has('int8') && formatsHit.has('float16') && formatsHit.has('bfloat16'));
  // injected faults decode as the format says, and leave the clean model untouched
  const clean = cleanParameters(m);
  const out = applyFaults(clean, a);
  for (const [name, data] of out) assert.equal(data.constructor, clean.get(name)!.constructor);
  // exponent selection: per format exponent bits; int tensors have none and drop out
  const exp = new FaultPlanner(m, { bits: 'exponent' });
  assert.ok(exp.targets.every((t) => t.format === 'float32' || t.format === 'float16' || t.format === 'bfloat16'));
  for (const f of exp.plan(1, 0.05, 0).faults) {
    const p = params.get(f.tensor)!;
    assert.ok(resolveBitsFor('exponent', p.format).includes(f.bit));
  }
  assertFlip(() => new FaultPlanner(m, { bits: 'exponent', targets: { formats: 'int8' } }), 'no bit');
  // the fingerprint covers the int8 words: changing one changes the plans' seed
  const m2 = mixedModel();
  (m2.graph.initializers.get('conv2.weight_q')!.data as Int8Array)[0] ^= 1;
  assert.notEqual(parameterFingerprint(m2), parameterFingerprint(m));
});

// ---------------------------------------------------------------- convert, quantize, campaigns

const modelsDir = new URL('../../models/', import.meta.url);
const lenet = (): Model => loadModel(fileURLToPath(new URL('lenet5-mnist.onnx', modelsDir)));
const trainSet = (): ImageSet => loadDataset({ data: 'mnist', split: 'train' });
const testSet = (): ImageSet => loadDataset({ data: 'mnist', split: 'test' });
let int8: Promise<Model> | undefined;
/** LeNet-5 quantized once for the tests below. */
function lenetInt8(): Promise<Model> {
  int8 ??= quantizeModel(lenet(), trainSet(), { threads: 1 }).then((r) => r.model);
  return int8;
}

test('convert: float16/bfloat16 words hold the rounded parameters, and the logits equal those of the rounded float32 model', async () => {
  const m = lenet();
  const data = limitImages(testSet(), 200);
  const orig = await evaluate(m, data, { threads: 1 });
  for (const to of ['float16', 'bfloat16'] as const) {
    const r = convertModel(m, to);
    const stored = listParameters(r.model);
    assert.ok(stored.length > 0 && stored.every((p) => p.format === to), `${to}: every parameter stored as ${to}`);
    assert.deepEqual(formatCounts(r.model).map((f) => [f.format, f.parameters, f.bits]), [[to, 61706, 61706 * 16]]);
    // the float32 model with each parameter rounded to the format: what the converted model computes
    const rounded: Model = { ...m, graph: { ...m.graph, initializers: new Map([...m.graph.initializers].map(([n, t]) => {
      const w = r.model.graph.initializers.get(n);
      if (!w || w.dataType === t.dataType) return [n, t];
      const dec = decodeTensor(w.dataType, w.data);
      return [n, { ...t, data: Float32Array.from(dec) }];
    })) } };
    const a = await evaluate(r.model, data, { threads: 1 });
    const b = await evaluate(rounded, data, { threads: 1 });
    let worst = 0;
    for (let i = 0; i < a.predictions.logits.length; i++) worst = Math.max(worst, Math.abs(a.predictions.logits[i] - b.predictions.logits[i]));
    assert.ok(worst <= 1e-5, `${to}: logits differ from the rounded float32 model by ${worst}`);
    // and from the original float32 model only by the format's rounding (bfloat16 keeps 8 bits)
    let dev = 0;
    let scale = 0;
    for (let i = 0; i < a.predictions.logits.length; i++) {
      dev = Math.max(dev, Math.abs(a.predictions.logits[i] - orig.predictions.logits[i]));
      scale = Math.max(scale, Math.abs(orig.predictions.logits[i]));
    }
    assert.ok(dev > 0 && dev < scale * (to === 'float16' ? 2e-3 : 3e-2), `${to}: logits moved by ${dev} (largest logit ${scale})`);
    assert.ok(Math.abs(a.accuracy - orig.accuracy) <= 0.01);
  }
  assertFlip(() => convertModel(m, 'int4' as never), 'option "to"');
});

test('quantize: per-channel int8 weights, QDQ activations, within 0.5 points of float32 on LeNet-5, integer kernels in onnxruntime', async () => {
  const m = lenet();
  const q = await lenetInt8();
  const ops = q.graph.nodes.map((n) => n.opType);
  assert.ok(ops.includes('QuantizeLinear') && ops.includes('DequantizeLinear'));
  const weights = listParameters(q).filter((p) => p.role === 'weight');
  assert.equal(weights.length, 5);
  assert.ok(weights.every((p) => p.format === 'int8'));
  // every int8 weight decodes (through its per-channel scale) to within half a step of the float32 weight
  const folded = m.graph.initializers;
  for (const p of weights) {
    const orig = folded.get(p.name.replace(/\.int8$/, ''));
    if (!orig) continue; // batch-norm-folded weights (none in LeNet-5)
    const scale = q.graph.initializers.get(p.name.replace(/\.int8$/, '.scale'))!.data as Float32Array;
    const words = q.graph.initializers.get(p.name)!.data as Int8Array;
    const per = words.length / scale.length;
    for (let i = 0; i < words.length; i++) {
      const s = scale[Math.floor(i / per)];
      assert.ok(Math.abs(words[i] * s - (orig.data as Float32Array)[i]) <= s / 2 + 1e-7, `${p.name}[${i}]`);
    }
  }
  const test = testSet();
  const f = await evaluate(m, test, { threads: 1 });
  const i = await evaluate(q, test, { threads: 1 });
  assert.ok(Math.abs(i.accuracy - f.accuracy) <= 0.005, `int8 ${i.accuracy} vs float32 ${f.accuracy}`);
  // onnxruntime turns the QDQ convolutions into its integer QLinearConv kernel
  const dir = mkdtempSync(join(tmpdir(), 'fg-q-'));
  const optimized = join(dir, 'opt.onnx');
  const s = await ort.InferenceSession.create(encodeModel(q), { optimizedModelFilePath: optimized, graphOptimizationLevel: 'all' });
  await s.release();
  const kinds = readModel(optimized).graph.nodes.map((n) => n.opType);
  assert.equal(kinds.filter((k) => k === 'QLinearConv').length, 2, kinds.join(' '));
  rmSync(dir, { recursive: true, force: true });
  await assert.rejects(quantizeModel(m, trainSet(), { calibration: 'kl' as never }), /--calibration|calibration/);
});

test('percentile calibration narrows activation ranges compared with min/max', async () => {
  const m = lenet();
  const data = limitImages(trainSet(), 300);
  const a = await quantizeModel(m, data, { threads: 1 });
  const b = await quantizeModel(m, data, { threads: 1, calibration: 'percentile', percentile: 99.9 });
  assert.equal(a.activations.length, b.activations.length);
  for (let k = 0; k < a.activations.length; k++) {
    assert.ok(b.activations[k].hi <= a.activations[k].hi && b.activations[k].lo >= a.activations[k].lo);
  }
  assert.ok(b.activations.some((x, k) => x.hi < a.activations[k].hi));
});

test('a campaign on the int8 model is reproducible bit for bit from its seed, with and without shortcuts', async () => {
  const q = await lenetInt8();
  const data = limitImages(testSet(), 100);
  const base = { model: q, data, bers: [1e-4, 1e-3], trials: 4, seed: 9, threads: 1 };
  const a = await runCampaign(base);
  const b = await runCampaign({ ...base, shortcuts: false });
  const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...r }) => r);
  assert.deepEqual(strip(a.records), strip(b.records));
  assert.ok(a.records.some((r) => r.accuracyDrop !== 0), 'faults in int8 words change predictions');
  // the faults land in int8, uint8, int32 and float32 (scale) words, at bits inside each word
  const planner = new FaultPlanner(q);
  const fmt = new Map(listParameters(q).map((p) => [p.name, p.format]));
  const hit = new Set<string>();
  for (let t = 0; t < 4; t++) for (const f of planner.plan(9, 1e-3, t).faults) { hit.add(fmt.get(f.tensor)!); assert.ok(f.bit < WORD_BITS[fmt.get(f.tensor)!]); }
  assert.ok(hit.has('int8'));
});

// ---------------------------------------------------------------- CLI

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
function runCli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: convert and quantize write new files only, refuse bad options in one sentence, info shows bits per format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fmt-cli-'));
  const src = fileURLToPath(new URL('lenet5-mnist.onnx', modelsDir));
  const out = join(dir, 'lenet.f16.onnx');
  let r = runCli('convert', src, '--to', 'float16', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.equal(listParameters(readModel(out)).filter((p) => p.format === 'float16').length, 10);
  const info = runCli('info', out);
  assert.match(info.out, /float16 61,706 in 10 tensors \(987,296 bits\)/);
  const before = readFileSync(out);
  r = runCli('convert', src, '--to', 'bfloat16', '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, /--force/);
  assert.deepEqual(readFileSync(out), before, 'an existing output is not clobbered');
  r = runCli('convert', src, '--out', join(dir, 'x.onnx'));
  assert.equal(r.code, 2);
  assert.match(r.err, /--to float16/);
  r = runCli('quantize', src, '--data', 'mnist', '--out', join(dir, 'q.onnx'), '--calibration', 'kl');
  assert.equal(r.code, 2);
  assert.ok(!existsSync(join(dir, 'q.onnx')));
  r = runCli('quantize', src, '--data', 'mnist', '--out', join(dir, 'q.onnx'), '--images', '200', '--threads', '1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /5 layers int8/);
  assert.match(r.out, /float32 98\.25%, int8 9\d\.\d\d%/);
  rmSync(dir, { recursive: true, force: true });
});

test('CLI: inject --formats compares the formats of one model in one table', () => {
  const src = fileURLToPath(new URL('lenet5-mnist.onnx', modelsDir));
  const r = runCli('inject', src, '--formats', 'float32,bfloat16,int8', '--ber', '1e-4', '--trials', '2', '--limit', '100', '--threads', '1', '--quiet');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  for (const [f, bits] of [['float32', '1,974,592'], ['bfloat16', '987,296'], ['int8', '']] as const) {
    const line = lines.find((l) => l.startsWith(f));
    assert.ok(line, `${f} row`);
    if (bits) assert.ok(line.includes(bits), line);
  }
  const bad = runCli('inject', src, '--formats', 'float32,int4', '--ber', '1e-4', '--trials', '2');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /int4/);
});

test('QOperator models (QLinearConv, ConvInteger) list their integer words as targets and run campaigns reproducibly', async () => {
  const m = qoperatorModel();
  const ps = new Map(listParameters(m).map((p) => [p.name, p]));
  for (const [name, format, node, role] of [
    ['qconv.w', 'int8', 'qconv', 'weight'], ['qconv.bias', 'int32', 'qconv', 'bias'], ['qconv.w_scale', 'float32', 'qconv', 'scale'],
    ['qconv.w_zero', 'int8', 'qconv', 'zero_point'], ['ci.w', 'uint8', 'cint', 'weight'], ['ci.wz', 'uint8', 'cint', 'zero_point'],
  ] as const) assert.deepEqual([ps.get(name)?.format, ps.get(name)?.node, ps.get(name)?.role], [format, node, role], name);
  assert.deepEqual(formatCounts(m).map((f) => f.format), ['float32', 'int8', 'uint8', 'int32']);
  const data = randomImages([1, 6, 6], 40, 3, 3);
  const base = { model: m, data, bers: [5e-2], trials: 3, seed: 4, threads: 1, targets: { formats: ['int8', 'int32', 'uint8'] as WordFormat[] } };
  const a = await runCampaign(base);
  const b2 = await runCampaign({ ...base, shortcuts: false });
  const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...r }) => r);
  assert.deepEqual(strip(a.records), strip(b2.records));
  assert.ok(a.records.every((r) => r.faults > 0));
});
