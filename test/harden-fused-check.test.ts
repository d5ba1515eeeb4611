/**
 * The fused range check (issue 14, src/harden/fused-check.ts): ranger's zeroing built from a
 * depthwise 1×1 conv mask that onnxruntime keeps in its NCHWc layout.
 * - Fault-free: bit-identical to the original on the profiling images (every value inside).
 * - Every finite value, inside or outside its interval, leaves the check exactly as from the
 *   exact Where construction: equal logits on images the intervals were not profiled on, and with
 *   forged faults (huge weights, batch-norm parameters, ±Inf reaching the check as ±FLT_MAX).
 * - The layer's parameters are guarded (|p| > 2^64, NaN, negative variance → 0, folded at load), so
 *   one fault cannot make a NaN; a NaN in the input passes through (documented).
 * - onnxruntime runs it without a compare, Where or layout reorder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, decodeModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import type { ImageSet } from '../src/runtime/evaluate.js';
import { harden, profileIntervals, type Intervals } from '../src/harden/index.js';
import { boundScale } from '../src/harden/fused-check.js';
import { layerSites } from '../src/harden/layers.js';
import { optimizedModelBytes } from '../src/runtime/timing.js';
import { FlipguardError } from '../src/errors.js';
import type { Model } from '../src/graph/types.js';
import { countDiffs, logitsOf, withInit } from './helpers/harden.js';
import { FIXTURES, fixture } from './helpers/interop.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// fused ≡ exact at every level without onnxruntime's layout transform; at 'all' a pooling layer may read
// the NCHWc tensor directly behind the fused check and the NCHW one behind Where, which sums in another
// order (resnet20-mnist's global average pool: both differ from the original at 'all' anyway, where its
// residual Add is fused into the conv), so 'all' is compared on vgg11-mnist only
const LEVELS: RuntimeOptions[] = [{ optimization: 'disabled' }, { optimization: 'extended' }];
const PLACEMENTS = ['after-bn', 'after-act'] as const;

const mnist = loadDataset({ data: 'mnist', split: 'test' });
const profiling = subset(mnist, Array.from({ length: 16 }, (_, i) => i));
const other = subset(mnist, Array.from({ length: 24 }, (_, i) => 100 + i * 13));

async function logits(m: Model, data: ImageSet, level: RuntimeOptions): Promise<Float32Array> {
  return (await logitsOf(m, data, level)).logits;
}

async function pair(model: Model, intervals: Intervals, placement: typeof PLACEMENTS[number]): Promise<{ fused: Model; exact: Model }> {
  const base = { method: 'ranger' as const, intervals, placement };
  return {
    fused: (await harden(model, { ...base, rangeCheck: 'fused' })).model,
    exact: (await harden(model, { ...base, rangeCheck: 'exact' })).model,
  };
}

function opCounts(m: Model): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of m.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

test('boundScale: x·scale lands in [1, 2) for normal bounds, and 2^126 for 0 and subnormals', () => {
  for (const x of [1, 1.5, 2, 3, 0.1, -0.1, 1e-30, -7e20, 3.4e38, 2 ** -126]) {
    const s = boundScale(Math.fround(x));
    assert.ok(Math.abs(Math.fround(x) * s) >= 1 && Math.abs(Math.fround(x) * s) < 2, `${x}`);
    assert.ok(Number.isInteger(Math.log2(s)));
  }
  assert.equal(boundScale(0), 2 ** 126);
  assert.equal(boundScale(1e-40), 2 ** 126);
});

for (const name of ['vgg11-mnist', 'resnet20-mnist', 'lenet5-mnist']) {
  test(`fused check on ${name}: bit-identical to the original fault-free, to the exact check on every other image`, async () => {
    const model = readModel(resolve(repoRoot, 'models', `${name}.onnx`));
    const intervals = await profileIntervals(model, profiling, LEVELS[0]);
    for (const placement of PLACEMENTS) {
      const { fused, exact } = await pair(model, intervals, placement);
      // fault-free at the level hardenFidelity validates ranger at (the exact check, too, differs at 'all', where
      // onnxruntime fuses the original's dense layers differently)
      assert.equal(countDiffs(await logits(fused, profiling, LEVELS[0]), await logits(model, profiling, LEVELS[0])), 0, `${placement}: fault-free`);
      for (const level of name === 'vgg11-mnist' ? [...LEVELS, { optimization: 'all' as const }] : LEVELS) {
        for (const data of [profiling, other]) {
          const e = await logits(exact, data, level), f = await logits(fused, data, level);
          assert.equal(countDiffs(f, e), 0, `${placement} ${level.optimization}: fused ≠ exact`);
        }
      }
    }
  });
}

test('fused check on every PyTorch export in shared/interop: fault-free bit-identical, equal to the exact check elsewhere, guards folded', async () => {
  for (const name of FIXTURES) {
    const fx = fixture(name);
    const intervals = await profileIntervals(fx.model, fx.data, LEVELS[0]);
    const shifted: ImageSet = { ...fx.data, x: fx.data.x.map((v, i) => v * (1 + (i % 7) / 3)) };
    for (const placement of PLACEMENTS) {
      const { fused, exact } = await pair(fx.model, intervals, placement);
      // the parameter guards fold on these opset-14 exports too: no guard op is left to run, the
      // convs keep constant (prepacked) weights
      const ops = opCounts(decodeModel(await optimizedModelBytes(fused)));
      assert.ok(!ops.Abs && !ops.Less && (ops.Where ?? 0) <= (ops.Gemm ?? 0), `${name} ${placement}: ${JSON.stringify(ops)}`); // the dense layers' exact checks only
      const level = LEVELS[0];
      assert.equal(countDiffs(await logits(fused, fx.data, level), await logits(fx.model, fx.data, level)), 0, `${name} ${placement}: fault-free`);
      assert.equal(countDiffs(await logits(fused, shifted, level), await logits(exact, shifted, level)), 0, `${name} ${placement}: fused ≠ exact`);
    }
  }
});

test('fused check with forged faults: the same logits as the exact check for huge values; guarded parameters beyond 2^64 or not finite read as 0', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, profiling, LEVELS[0]);
  const conv = model.graph.nodes.find((n) => n.opType === 'Conv')!;
  const bn = model.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
  const [gamma, beta, , variance] = bn.inputs.slice(1, 5);
  const faults: [string, string, (d: Float32Array) => void][] = [
    ['weight +1e15', conv.inputs[1], (d) => { d[5] = 1e15; }],
    ['weight −1e15', conv.inputs[1], (d) => { d[7] = -1e15; }],
    ['batch-norm β 1e15', beta, (d) => { d[3] = 1e15; }],
    ['batch-norm γ −1e15', gamma, (d) => { d[2] = -1e15; }],
  ];
  for (const placement of PLACEMENTS) {
    const { fused, exact } = await pair(model, intervals, placement);
    for (const [what, init, edit] of faults) {
      const lf = await logits(withInit(fused, init, edit), other, LEVELS[0]);
      const le = await logits(withInit(exact, init, edit), other, LEVELS[0]);
      assert.ok(lf.every(Number.isFinite), `${placement} ${what}: fused logits finite`);
      assert.equal(countDiffs(lf, le), 0, `${placement} ${what}: fused ≠ exact`);
      const unprotected = await logits(withInit(model, init, edit), other, LEVELS[0]);
      assert.ok(countDiffs(unprotected, le) > 0, `${placement} ${what}: the fault must matter unprotected`);
    }
    // guarded: read as 0, folded at session creation (the same logits as a stored 0)
    const guarded: [string, string, number][] = [['γ +Inf', gamma, Infinity], ['β NaN', beta, NaN], ['σ² −0.5', variance, -0.5], ['weight 2^70', conv.inputs[1], 2 ** 70], ['weight NaN', conv.inputs[1], NaN]];
    for (const [what, init, bad] of guarded) {
      for (const level of [LEVELS[0], { optimization: 'all' as const }]) {
        const lf = await logits(withInit(fused, init, (d) => { d[4] = bad; }), other, level);
        const zeroed = await logits(withInit(fused, init, (d) => { d[4] = 0; }), other, level);
        assert.equal(countDiffs(lf, zeroed), 0, `${placement} ${what} ${level.optimization}: read as 0`);
      }
    }
  }
});

test('fused check: a NaN in the input passes through the conv layers, where the exact check replaces it (resnet20-mnist)', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'resnet20-mnist.onnx'));
  const intervals = await profileIntervals(model, profiling, LEVELS[0]);
  const x = Float32Array.from(other.x);
  x[300] = NaN; // a pixel of the first image
  const data: ImageSet = { ...other, x };
  const classes = 10;
  for (const placement of PLACEMENTS) {
    const { fused, exact } = await pair(model, intervals, placement);
    const le = await logits(exact, data, LEVELS[0]);
    const lf = await logits(fused, data, LEVELS[0]);
    assert.ok(le.every(Number.isFinite), `${placement}: the exact check removes a NaN`);
    // it passes every conv layer's fused check; the dense output layer keeps the exact check, which
    // replaces the NaN logits by its fill: the first image's logits are all 0, its prediction is lost
    assert.ok(lf.subarray(0, classes).every((v) => v === 0), `${placement}: a NaN passes the fused check (as documented)`);
    assert.equal(countDiffs(lf.subarray(classes), le.subarray(classes)), 0, `${placement}: the other images are unaffected`);
  }
});

test('fused check on vgg11-mnist: onnxruntime runs it without compares, Where or layout reorders', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, profiling, LEVELS[0]);
  const original = opCounts(decodeModel(await optimizedModelBytes(model)));
  for (const placement of PLACEMENTS) {
    const { fused } = await pair(model, intervals, placement);
    const ops = opCounts(decodeModel(await optimizedModelBytes(fused)));
    // the dense output layer keeps its exact check: one GreaterOrEqual pair / Where on [N, 10]
    assert.ok((ops.Where ?? 0) <= 1 && (ops.GreaterOrEqual ?? 0) <= 2, `${placement}: ${JSON.stringify(ops)}`);
    assert.equal(ops.ReorderOutput ?? 0, original.ReorderOutput ?? 0, `${placement}: no extra reorders`);
    assert.equal(ops.ReorderInput ?? 0, original.ReorderInput ?? 0, `${placement}: no extra reorders`);
    assert.equal(ops.Relu ?? 0, 0, `${placement}: the ReLU stays fused`);
    // the guards fold: no Abs or Where on a parameter is left
    assert.equal(ops.Abs ?? 0, 0);
    // and the layers' stored tensors are still found through them (counting, a second hardening)
    assert.deepEqual(layerSites(fused).map((x) => x.weight.tensor.name), layerSites(model).map((x) => x.weight.tensor.name));
  }
});

test('fused check: other methods, modes and placements are refused in one sentence', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'lenet5-mnist.onnx'));
  const intervals = await profileIntervals(model, profiling, LEVELS[0]);
  for (const opts of [
    { method: 'ranger' as const, rangeMode: 'saturate' as const },
    { method: 'ranger' as const, placement: 'paper' as const },
    { method: 'edac' as const, ratio: 0.15 },
  ]) {
    await assert.rejects(harden(model, { intervals, rangeCheck: 'fused', ...opts }), (e: Error) => e instanceof FlipguardError && /fused range check/.test(e.message) && /use it with method ranger/.test(e.message));
  }
  await assert.rejects(harden(model, { method: 'ranger', intervals, rangeCheck: 'quick' as 'fused' }), (e: Error) => e instanceof FlipguardError && /rangeCheck/.test(e.message));
});

test('CLI: harden --range-check fused writes the model and counts it; a fused saturation is refused with exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fused-'));
  const cli = resolve(repoRoot, 'bin', 'flipguard.js');
  const model = resolve(repoRoot, 'models', 'lenet5-mnist.onnx');
  const out = join(dir, 'fused.onnx'), json = join(dir, 'fused.json');
  const r = spawnSync(process.execPath, [cli, 'harden', model, '--method', 'ranger', '--placement', 'after-act', '--range-check', 'fused', '--out', out, '--json', json], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(report.overheads.macs.ratio, 1);
  assert.ok(report.overheads.parameters.ratio > 1 && report.overheads.parameters.ratio < 1.02);
  const ops = opCounts(readModel(out));
  // both conv layers checked by a fused mask behind their ReLU, now Clip(·, 0, FLT_MAX)
  assert.ok(ops.HardSigmoid === 2 && ops.Clip === 2, JSON.stringify(ops));
  const bad = spawnSync(process.execPath, [cli, 'harden', model, '--method', 'ranger', '--range-check', 'fused', '--range-mode', 'saturate', '--out', join(dir, 'x.onnx')], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /fused range check \(--range-check fused\).*range mode zero/);
  assert.ok(!existsSync(join(dir, 'x.onnx')));
});
