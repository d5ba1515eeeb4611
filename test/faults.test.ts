import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlipguardError } from '../src/errors.js';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import type { Model } from '../src/graph/types.js';
import { ModelRunner } from '../src/runtime/session.js';
import { predict, type ImageSet } from '../src/runtime/evaluate.js';
import { Rng } from '../src/util/rng.js';
import {
  applyFaults, bitsOfFloat32, cleanParameters, flipBit, flipFloat32, float32FromBits, injectFaults, listParameters,
  parseFaultList, partitionAt, planFaults, predictWithNeuronFaults, readFaultList, resolveBits, sampleBinomial, selectTargets,
  singleValueCuts, splitModels, FaultPlanner, floorCount, insertStuckAtZero, modelFingerprint, parameterFingerprint,
} from '../src/faults/index.js';
import { decodeModel, encodeModel } from '../src/graph/onnx.js';

const root = mkdtempSync(join(tmpdir(), 'flipguard-faults-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

/** conv(1→4) → relu → conv(4→4) → BN → relu → flatten → gemm(256→3), plus a dead branch. */
function tinyModel(seed = 7): Model {
  const rng = new Rng(seed);
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * s);
  const b = new GraphBuilder('tiny');
  const x = b.input('x', ['N', 1, 8, 8]);
  const w1 = b.init('conv1.weight', [4, 1, 3, 3], rand(36, 0.5));
  const b1 = b.init('conv1.bias', [4], rand(4, 0.1));
  const c1 = b.op('Conv', [x, w1, b1], { pads: A.is([1, 1, 1, 1]), kernel_shape: A.is([3, 3]) }, 'conv1');
  const r1 = b.op('Relu', [c1], {}, 'relu1');
  const w2 = b.init('conv2.weight', [4, 4, 3, 3], rand(144, 0.3));
  const b2 = b.init('conv2.bias', [4], rand(4, 0.1));
  const c2 = b.op('Conv', [r1, w2, b2], { pads: A.is([1, 1, 1, 1]), kernel_shape: A.is([3, 3]) }, 'conv2');
  const bn = b.op('BatchNormalization', [c2,
    b.init('bn.scale', [4], [1, 0.9, 1.1, 1]), b.init('bn.bias', [4], [0, 0.1, -0.1, 0]),
    b.init('bn.mean', [4], [0, 0.05, 0, 0]), b.init('bn.var', [4], [1, 1.2, 0.8, 1])], { epsilon: A.f(1e-5) }, 'bn');
  const r2 = b.op('Relu', [bn], {}, 'relu2');
  b.op('Mul', [r2, b.init('dead.scale', [1], [2])], {}, 'dead_mul'); // output unused
  const f = b.op('Flatten', [r2], { axis: A.i(1) }, 'flatten');
  const w3 = b.init('fc.weight', [3, 64 * 4], rand(3 * 256, 0.2));
  const b3 = b.init('fc.bias', [3], rand(3, 0.1));
  b.node('Gemm', [f, w3, b3], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  return makeModel(b.build());
}

function tinyData(count = 32, seed = 3): ImageSet {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: count * 64 }, () => rng.next());
  const y = Uint8Array.from({ length: count }, () => rng.int(3));
  return { name: 'random', x, y, shape: [1, 8, 8], count, classes: 3 };
}

function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

test('flipping a bit twice restores every bit of every word, NaNs included', () => {
  const rng = new Rng(1);
  const words = Uint32Array.from({ length: 2000 }, () => rng.nextU32());
  words[0] = 0x7fc00001; words[1] = 0xffffffff; words[2] = 0; words[3] = 0x80000000; words[4] = 0x00000001;
  const f = new Float32Array(words.buffer.slice(0));
  for (let i = 0; i < f.length; i++) {
    for (let bit = 0; bit < 32; bit++) {
      flipBit(f, i, bit);
      assert.notEqual(new Uint32Array(f.buffer)[i], words[i]);
      flipBit(f, i, bit);
    }
  }
  assert.deepEqual(new Uint32Array(f.buffer), words);
});

test('bit 31 negates, bit 30 of 1.0 gives +Inf, bit 0 is the mantissa LSB', () => {
  for (const v of [1, -2.5, 3.14159, 1e-30, 0]) assert.ok(Object.is(flipFloat32(v, 31), -Math.fround(v)));
  assert.equal(bitsOfFloat32(1), 0x3f800000);
  assert.equal(flipFloat32(1, 30), Infinity);
  assert.equal(bitsOfFloat32(flipFloat32(1, 30)), 0x7f800000);
  assert.equal(flipFloat32(1, 0), float32FromBits(0x3f800001));
  assert.equal(flipFloat32(1, 23), 0.5); // lowest exponent bit of 1.0 is set: clearing it halves
  assert.equal(flipFloat32(2, 22), 3); // mantissa MSB
});

test('bit ranges resolve and reject bits outside 0–31', () => {
  assert.deepEqual(resolveBits([23, 30]), [23, 24, 25, 26, 27, 28, 29, 30]);
  assert.deepEqual(resolveBits('exponent'), [23, 24, 25, 26, 27, 28, 29, 30]);
  assert.deepEqual(resolveBits('31'), [31]);
  assert.deepEqual(resolveBits('0,5,5,31'), [0, 5, 31]);
  assert.equal(resolveBits(undefined).length, 32);
  assertFlip(() => resolveBits([0, 32]), '32', '0–31');
  assertFlip(() => resolveBits([-1, 3]), '-1');
  assertFlip(() => resolveBits({ list: [40] }), '40');
  assertFlip(() => resolveBits('30-23'), 'empty');
  assertFlip(() => resolveBits('high bits'), 'not understood');
  const m = tinyModel();
  assertFlip(() => planFaults(m, { seed: 1, ber: 1e-3, bits: [0, 33] }), '33');
});

test('a plan is a pure function of seed, model, BER and trial', () => {
  const m = tinyModel();
  const a = planFaults(m, { seed: 5, ber: 1e-2, trial: 3 });
  const b = planFaults(tinyModel(), { seed: 5, ber: 1e-2, trial: 3 });
  assert.deepEqual(a, b);
  assert.ok(a.faults.length > 0);
  assert.notDeepEqual(planFaults(m, { seed: 5, ber: 1e-2, trial: 4 }).faults, a.faults);
  assert.notDeepEqual(planFaults(m, { seed: 6, ber: 1e-2, trial: 3 }).faults, a.faults);
  assert.notDeepEqual(planFaults(tinyModel(8), { seed: 5, ber: 1e-2, trial: 3 }).faults, a.faults);
  // fingerprints survive an ONNX write/read round trip, and tell models apart
  const rt = decodeModel(encodeModel(m));
  assert.equal(parameterFingerprint(rt), parameterFingerprint(m));
  assert.equal(modelFingerprint(rt), modelFingerprint(m));
  assert.notEqual(modelFingerprint(tinyModel(8)), modelFingerprint(m));
  assert.deepEqual(planFaults(rt, { seed: 5, ber: 1e-2, trial: 3 }), a);
  // JSON round trip replays identically
  const replay = parseFaultList(JSON.stringify(a), 'plan', m);
  assert.deepEqual(replay.weights, a.faults);
  const clean = cleanParameters(m);
  const x1 = applyFaults(clean, a);
  const x2 = applyFaults(clean, replay.weights);
  for (const [k, v] of x1) assert.deepEqual(new Uint32Array(v.buffer), new Uint32Array(x2.get(k)!.buffer));
});

test('floor mode: exactly floor(BER × numel × bits) faults per tensor, drawn with replacement', () => {
  const m = tinyModel();
  const params = listParameters(m);
  const bits = resolveBits([23, 30]);
  for (const ber of [1e-3, 5e-3, 0.05, 0.5]) {
    for (let trial = 0; trial < 5; trial++) {
      const p = planFaults(m, { seed: 2, ber, trial, count: 'floor', bits: [23, 30] });
      for (const t of params) {
        const got = p.faults.filter((f) => f.tensor === t.name);
        assert.equal(got.length, Math.floor(ber * t.numel * bits.length + 1e-9), `${t.name} at ${ber}`);
        for (const f of got) { assert.ok(f.bit >= 23 && f.bit <= 30); assert.ok(f.index < t.numel); }
      }
    }
  }
  assert.equal(floorCount(1e-4 * 50000 * 32), 160);
  assert.equal(floorCount(2.9999), 2);
  // with replacement: at BER 0.5 over a small space, repeats must happen; a repeated flip cancels
  const p = planFaults(m, { seed: 1, ber: 0.5, count: 'floor', targets: { names: 'conv1.bias' } });
  const keys = p.faults.map((f) => `${f.index}/${f.bit}`);
  assert.equal(p.faults.length, 64);
  assert.ok(new Set(keys).size < keys.length, 'expected repeated positions');
  const inj = injectFaults(cleanParameters(m), p);
  const clean = cleanParameters(m).get('conv1.bias') as Float32Array;
  const out = inj.tensors.get('conv1.bias') as Float32Array;
  const odd = new Map<string, number>();
  for (const k of keys) odd.set(k, (odd.get(k) ?? 0) ^ 1);
  for (let i = 0; i < 4; i++) for (let bit = 0; bit < 32; bit++) {
    const expect = odd.get(`${i}/${bit}`) ?? 0;
    assert.equal(((bitsOfFloat32(clean[i]) ^ bitsOfFloat32(out[i])) >>> bit) & 1, expect);
  }
});

test('binomial mode: counts have the binomial mean and variance, positions are distinct', () => {
  const m = tinyModel();
  const planner = new FaultPlanner(m, { bits: [0, 22] });
  const n = planner.totalBits;
  for (const ber of [2e-4, 3e-2]) {
    const counts: number[] = [];
    for (let trial = 0; trial < 3000; trial++) {
      const p = planner.plan(11, ber, trial);
      counts.push(p.faults.length);
      const keys = new Set(p.faults.map((f) => `${f.tensor}/${f.index}/${f.bit}`));
      assert.equal(keys.size, p.faults.length);
      for (const f of p.faults) assert.ok(f.bit <= 22);
    }
    const mu = n * ber;
    const v = n * ber * (1 - ber);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / (counts.length - 1);
    assert.ok(Math.abs(mean - mu) < 5 * Math.sqrt(v / counts.length), `mean ${mean} vs ${mu}`);
    assert.ok(Math.abs(variance / v - 1) < 0.15, `variance ${variance} vs ${v}`);
  }
  // the count sampler alone, at a huge n with a tiny p (no normal approximation involved)
  const rng = new Rng(4);
  const draws = Array.from({ length: 20000 }, () => sampleBinomial(rng, 1e12, 2e-12));
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  assert.ok(Math.abs(mean - 2) < 0.06, `mean ${mean}`);
  const p0 = draws.filter((d) => d === 0).length / draws.length;
  assert.ok(Math.abs(p0 - Math.exp(-2)) < 0.015, `P(0) ${p0}`);
  // BER 0 gives nothing, BER 1 every selected bit
  assert.equal(planner.plan(1, 0, 0).faults.length, 0);
  const all = new FaultPlanner(m, { targets: { names: 'conv1.bias' }, bits: 'sign' }).plan(1, 1, 0);
  assert.equal(all.faults.length, 4);
});

test('fixed mode draws exactly N distinct faults; stuck-at kinds set bits', () => {
  const m = tinyModel();
  const p = planFaults(m, { seed: 3, ber: 0, count: 'fixed', faults: 25, kind: 'stuck1' });
  assert.equal(p.faults.length, 25);
  assert.equal(new Set(p.faults.map((f) => `${f.tensor}/${f.index}/${f.bit}`)).size, 25);
  const clean = cleanParameters(m);
  const inj = injectFaults(clean, p);
  for (const f of p.faults) {
    const w = new Uint32Array(inj.tensors.get(f.tensor)!.buffer);
    assert.equal((w[f.index] >>> f.bit) & 1, 1);
  }
  // stuck-at on a bit that already holds that value changes nothing
  const one = clean.get('bn.scale')!; // 1.0 = 0x3F800000: bit 29 is 1, bit 30 is 0
  const r = injectFaults(clean, [{ tensor: 'bn.scale', index: 0, bit: 29, kind: 'stuck1' }, { tensor: 'bn.scale', index: 0, bit: 30, kind: 'stuck0' }]);
  assert.equal(r.changed.size, 0);
  assert.equal(r.tensors.size, 1);
  assert.equal(one[0], 1);
  const s = injectFaults(clean, [{ tensor: 'bn.scale', index: 0, bit: 30, kind: 'stuck1' }]);
  assert.equal(s.changed.get('bn.scale')![0], Infinity);
  assertFlip(() => planFaults(m, { seed: 1, ber: 0, count: 'fixed', faults: 1e9 }), 'do not fit');
  assertFlip(() => planFaults(m, { seed: 1, ber: 0, count: 'fixed' }), 'fixed');
});

test('applyFaults copies only faulted tensors and never mutates the clean arrays', () => {
  const m = tinyModel();
  const clean = cleanParameters(m);
  const snapshot = new Map([...clean].map(([k, v]) => [k, new Uint32Array(new Float32Array(v as Float32Array).buffer)]));
  const plan = planFaults(m, { seed: 9, ber: 0.01, targets: { names: 'conv*' } });
  const out = applyFaults(clean, plan);
  assert.deepEqual([...out.keys()].sort(), [...new Set(plan.faults.map((f) => f.tensor))].sort());
  for (const [k, v] of out) assert.notEqual(v, clean.get(k));
  for (const [k, v] of clean) assert.deepEqual(new Uint32Array(v.buffer, v.byteOffset, v.length), snapshot.get(k));
  for (const f of plan.faults) assert.ok(f.tensor.startsWith('conv'));
  assertFlip(() => applyFaults(clean, [{ tensor: 'nope', index: 0, bit: 1, kind: 'flip' }]), 'nope');
  assertFlip(() => applyFaults(clean, [{ tensor: 'conv1.bias', index: 4, bit: 1, kind: 'flip' }]), 'outside');
});

test('target filters: glob, regex, op type, layer, role; selecting nothing is an error', () => {
  const m = tinyModel();
  const names = (f: Parameters<typeof selectTargets>[1]): string[] => selectTargets(m, f).map((t) => t.name);
  assert.deepEqual(names({ names: 'conv?.weight' }), ['conv1.weight', 'conv2.weight']);
  assert.deepEqual(names({ names: '/^bn\\.(scale|bias)$/' }), ['bn.scale', 'bn.bias']);
  assert.deepEqual(names({ ops: 'Gemm' }), ['fc.weight', 'fc.bias']);
  assert.deepEqual(names({ layers: 1 }), ['conv2.weight', 'conv2.bias']);
  assert.deepEqual(names({ layers: 'fc' }), ['fc.weight', 'fc.bias']);
  assert.deepEqual(names({ roles: 'bias', ops: ['Conv', 'Gemm'] }), ['conv1.bias', 'conv2.bias', 'fc.bias']);
  assert.deepEqual(names({ exclude: ['conv*', 'bn.*', 'fc.*'] }), ['dead.scale']);
  assert.equal(selectTargets(m).length, 11);
  assert.equal(listParameters(m).find((p) => p.name === 'dead.scale')!.live, false);
  assertFlip(() => selectTargets(m, { names: 'lstm*' }), 'selects no parameter');
  assertFlip(() => selectTargets(m, { names: '/([/' }), 'regular expression');
  assertFlip(() => planFaults(m, { seed: 1, ber: 1e-3, targets: { ops: 'LSTM' } }), 'selects no parameter');
});

test('BER outside [0, 1] or NaN, a bad seed or kind are FlipguardErrors', () => {
  const m = tinyModel();
  for (const ber of [-1e-9, 1.5, NaN, Infinity]) assertFlip(() => planFaults(m, { seed: 1, ber }), 'BER');
  assertFlip(() => planFaults(m, { seed: 1.5, ber: 0 }), 'Seed');
  assertFlip(() => planFaults(m, { seed: 1, ber: 0, kind: 'melt' as never }), 'melt');
  assertFlip(() => planFaults(m, { seed: 1, ber: 0, count: 'poisson' as never }), 'poisson');
});

test('fault lists: valid files load, unreadable or malformed ones are FlipguardErrors', () => {
  const m = tinyModel();
  const ok = join(root, 'ok.json');
  writeFileSync(ok, JSON.stringify({ faults: [{ tensor: 'fc.bias', index: 2, bit: 31 }], neurons: [{ value: 'relu2_out', index: 5, kind: 'flip', bit: 30 }] }));
  const l = readFaultList(ok, m);
  assert.deepEqual(l.weights, [{ tensor: 'fc.bias', index: 2, bit: 31, kind: 'flip' }]);
  assert.deepEqual(l.neurons, [{ value: 'relu2_out', index: 5, kind: 'flip', bit: 30 }]);
  assertFlip(() => readFaultList(join(root, 'missing.json')), 'cannot be read');
  const bad = join(root, 'bad.json');
  writeFileSync(bad, '{"faults": [');
  assertFlip(() => readFaultList(bad), 'not valid JSON');
  assertFlip(() => parseFaultList('[{"tensor":"fc.bias","index":0,"bit":32}]'), 'bit 32');
  assertFlip(() => parseFaultList('[{"tensor":"fc.nope","index":0,"bit":3}]', 'x', m), 'fc.nope');
  assertFlip(() => parseFaultList('[{"tensor":"fc.bias","index":3,"bit":3}]', 'x', m), 'outside');
  assertFlip(() => parseFaultList('{"other": 1}'), 'neither');
});

test('splitting at a value and running prefix then suffix is bit-exact', async () => {
  const m = tinyModel();
  const data = tinyData(16);
  // graph optimisations would fuse across the cut (Conv+BN); the split itself is compared unoptimised
  const opt = { optimization: 'disabled' as const };
  const full = await ModelRunner.create(m, opt);
  const golden = await predict(full, data);
  await full.release();
  const cuts = singleValueCuts(m);
  assert.deepEqual(cuts.map((c) => c.cut), ['conv1_out', 'relu1_out', 'conv2_out', 'bn_out', 'relu2_out', 'flatten_out']);
  for (const cut of cuts) {
    const { prefix, suffix } = splitModels(m, cut);
    const pre = await ModelRunner.create(prefix, opt);
    const act = (await pre.run(data.x, [16, 1, 8, 8]))[cut.cut];
    await pre.release();
    const suf = await ModelRunner.create(suffix, opt);
    const p = await predict(suf, { ...data, x: act.data as Float32Array, shape: act.dims.slice(1) });
    await suf.release();
    assert.deepEqual(new Uint32Array(p.logits.buffer), new Uint32Array(golden.logits.buffer), cut.cut);
  }
  const s = partitionAt(m, 'relu1_out');
  assert.ok(s.prefixParams.has('conv1.weight') && !s.prefixParams.has('conv2.weight') && s.suffixParams.has('fc.weight'));
  assert.ok(!s.suffixParams.has('dead.scale'));
});

test('neuron faults: stuck-at-0 by graph edit and bit flips by graph split match the arithmetic', async () => {
  const m = tinyModel();
  const data = tinyData(8);
  // golden logits and the relu2 activation
  const r = await ModelRunner.create(m, { outputs: ['logits', 'relu2_out'] });
  const out = await r.run(data.x, [8, 1, 8, 8]);
  await r.release();
  const logits = out.logits.data as Float32Array;
  const act = out.relu2_out.data as Float32Array;
  const W = m.graph.initializers.get('fc.weight')!.data as Float32Array;
  // pick an element that is positive in image 0
  let idx = 0;
  while (act[idx] <= 0) idx++;
  const check = (pred: Float32Array, newValue: (a: number) => number): void => {
    for (let img = 0; img < 8; img++) {
      const a = act[img * 256 + idx];
      for (let k = 0; k < 3; k++) {
        const expect = logits[img * 3 + k] + W[k * 256 + idx] * (newValue(a) - a);
        assert.ok(Math.abs(pred[img * 3 + k] - expect) < 1e-4 * (1 + Math.abs(expect)), `img ${img} class ${k}: ${pred[img * 3 + k]} vs ${expect}`);
      }
    }
  };
  const stuck = await predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: idx, kind: 'stuck0' }]);
  check(stuck.logits, () => 0);
  const flip = await predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: idx, kind: 'flip', bit: 31 }]);
  check(flip.logits, (a) => -a);
  const flip22 = await predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: idx, kind: 'flip', bit: 22 }]);
  check(flip22.logits, (a) => flipFloat32(a, 22));
  // an exponent flip: a huge value (or +Inf when the value is ≥ 1, making the logits non-finite → top-1 -1)
  const big = await predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: idx, kind: 'flip', bit: 30 }]);
  for (let img = 0; img < 8; img++) {
    const a = act[img * 256 + idx];
    const f = flipFloat32(a, 30);
    if (!Number.isFinite(f)) { assert.equal(big.top1[img], -1); continue; }
    for (let k = 0; k < 3; k++) {
      const expect = logits[img * 3 + k] + W[k * 256 + idx] * (f - a);
      assert.ok(Math.abs(big.logits[img * 3 + k] - expect) <= 1e-5 * Math.abs(expect) + 1e-3);
    }
  }
  // a value in [1, 2) has exponent 127: setting bit 30 makes it +Inf, so that image's logits are a DUE
  const one = act.findIndex((a) => a >= 1 && a < 2);
  assert.ok(one >= 0, 'test data should reach an activation in [1, 2)');
  const inf = await predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: one % 256, kind: 'flip', bit: 30 }]);
  assert.equal(inf.top1[Math.floor(one / 256)], -1);
  // stuck-at-0 really writes +0 even where the value is +Inf: Where, not a multiplication
  const edited = insertStuckAtZero(m, [{ value: 'relu1_out', index: 0 }], new Map([['relu1_out', [4, 8, 8]]]));
  assert.equal(m.graph.nodes.length + 1, edited.graph.nodes.length);
  assertFlip(() => insertStuckAtZero(m, [{ value: 'nothing', index: 0 }], new Map()), 'nothing');
  await assert.rejects(predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: 256, kind: 'stuck0' }]), FlipguardError);
  await assert.rejects(predictWithNeuronFaults(m, data, [{ value: 'relu2_out', index: 1, kind: 'flip', bit: 32 }]), FlipguardError);
});
