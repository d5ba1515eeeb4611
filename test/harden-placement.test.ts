/**
 * The speed constructions of issue 14: range checks placed behind batch norm (+ ReLU), saturation
 * vs zeroing, per-layer bounds, batch-norm folding, and the weight-TMR vote folded on PyTorch
 * exports. Asserted: fault-free outputs (exact where promised, same top-1 otherwise), the exact
 * equivalence of the placements on values that ARE out of range (bounds through a batch norm with
 * negative scales, "→ 0" becoming "→ t"), and what onnxruntime makes of the graphs (the fusions the
 * constructions exist for).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, decodeModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { magnitudeScores } from '../src/analysis/scores.js';
import { ModelRunner, type RuntimeOptions } from '../src/runtime/session.js';
import { predict, type Predictions, type ImageSet } from '../src/runtime/evaluate.js';
import { optimizedModelBytes } from '../src/runtime/timing.js';
import { harden, profileIntervals, hardenedInfo, type HardenOptions } from '../src/harden/index.js';
import { DataType, type Model } from '../src/graph/types.js';
import { countHardened } from '../src/harden/overhead.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// CI puts shared/ beside the repository; a worktree sits one level deeper
const interop = [resolve(repoRoot, '..', 'shared'), resolve(repoRoot, '..', '..', 'shared')].map((d) => resolve(d, 'interop', 'models')).find((d) => existsSync(d)) ?? '';

const test64 = (() => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: 64 }, (_, i) => (i * 31) % all.count));
})();

async function logits(model: Model, data: ImageSet, opts: RuntimeOptions = {}): Promise<Predictions> {
  const r = await ModelRunner.create(model, opts);
  try {
    return await predict(r, data, { batch: 64 });
  } finally {
    await r.release();
  }
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** vgg11-mnist with the batch-norm scale of every other channel negated (so bounds must swap). */
function vggWithNegativeScales(): Model {
  const m = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const inits = new Map(m.graph.initializers);
  for (const n of m.graph.nodes) {
    if (n.opType !== 'BatchNormalization') continue;
    const g = inits.get(n.inputs[1])!;
    const d = Float32Array.from(g.data as Float32Array, (v, i) => (i % 2 ? -v : v));
    inits.set(g.name, { ...g, data: d });
  }
  return { ...m, graph: { ...m.graph, initializers: inits } };
}

function opCounts(m: Model): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of m.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

test('range restriction behind batch norm: fault-free equal to the original, bit-exact without optimisation', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const exact: RuntimeOptions = { optimization: 'disabled' };
  const intervals = await profileIntervals(model, test64, exact);
  const ref = await logits(model, test64, exact);
  const refAll = await logits(model, test64);
  for (const placement of ['after-bn', 'after-act'] as const) {
    for (const rangeMode of ['zero', 'saturate'] as const) {
      for (const rangeBounds of ['channel', 'layer'] as const) {
        const { model: h } = await harden(model, { method: 'ranger', intervals, placement, rangeMode, rangeBounds });
        const what = `${placement} ${rangeMode} ${rangeBounds}`;
        assert.equal(hardenedInfo(h)?.options.placement, placement);
        assert.deepEqual(Array.from((await logits(h, test64, exact)).logits), Array.from(ref.logits), `${what}: bit-equal logits (optimisation disabled)`);
        // default level: fused Conv+BN arithmetic moves values by a few ulps, also at an interval's
        // edge (these images set the edges), so as in harden.test.ts the intervals get a 1e-3 margin
        const loose = (await harden(model, { method: 'ranger', intervals, placement, rangeMode, rangeBounds, margin: 1e-3 })).model;
        const q = await logits(loose, test64);
        assert.deepEqual(Array.from(q.top1), Array.from(refAll.top1), `${what}: same top-1 at the default level`);
        assert.ok(maxDiff(q.logits, refAll.logits) <= 1e-5 * maxAbs(refAll.logits), `${what}: logits agree to rounding`);
      }
    }
  }
});

test('placements are the same method on out-of-range values (bounds through negative batch-norm scales, → 0 becomes → t)', async () => {
  const model = vggWithNegativeScales();
  const exact: RuntimeOptions = { optimization: 'disabled' };
  const profiled = await profileIntervals(model, test64, exact);
  // shrink every interval to its middle half: many values of these very images are now out of range
  const intervals = new Map([...profiled].map(([k, v]) => {
    const lower = v.lower.map((l, c) => l + (v.upper[c] - l) / 4), upper = v.upper.map((u, c) => u - (u - v.lower[c]) / 4);
    return [k, { lower, upper }];
  }));
  for (const rangeMode of ['zero', 'saturate'] as const) {
    const paper = await logits((await harden(model, { method: 'ranger', intervals, placement: 'paper', rangeMode })).model, test64, exact);
    const plain = await logits(model, test64, exact);
    assert.ok(maxDiff(paper.logits, plain.logits) > 1e-2 * maxAbs(plain.logits), `${rangeMode}: the shrunk intervals do change the outputs`);
    const placements = rangeMode === 'saturate' ? (['after-bn', 'after-act'] as const) : (['after-bn'] as const);
    for (const placement of placements) {
      const p = await logits((await harden(model, { method: 'ranger', intervals, placement, rangeMode })).model, test64, exact);
      // equal up to values within float32 rounding (plus the 2^-20 slack) of a bound
      assert.ok(maxDiff(p.logits, paper.logits) <= 1e-4 * maxAbs(paper.logits), `${rangeMode} ${placement}: ${maxDiff(p.logits, paper.logits)} vs paper placement`);
      assert.deepEqual(Array.from(p.top1), Array.from(paper.top1), `${rangeMode} ${placement}: same top-1 as the paper placement`);
    }
  }
});

test('saturating per-layer range checks behind the ReLU fuse away: onnxruntime runs the same kernels as for the original', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, test64);
  const { model: h } = await harden(model, { method: 'ranger', intervals, placement: 'after-act', rangeMode: 'saturate', rangeBounds: 'layer' });
  const o = opCounts(decodeModel(await optimizedModelBytes(model, { optimization: 'extended' })));
  const p = opCounts(decodeModel(await optimizedModelBytes(h, { optimization: 'extended' })));
  // the output layer has no ReLU: its Clip stays, every other one is inside a FusedConv
  assert.deepEqual({ ...p, Clip: undefined }, { ...o, Clip: undefined });
  assert.ok((p.Clip ?? 0) <= 1, `at most the output layer's Clip remains, got ${p.Clip}`);
});

test('foldBn folds batch norm before hardening: no BatchNormalization left, same top-1, overheads against the unfolded original', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, test64);
  const refAll = await logits(model, test64);
  for (const opts of [
    { method: 'ranger', intervals, placement: 'paper' },
    { method: 'ranger', data: test64, placement: 'after-act', rangeMode: 'saturate' },
    { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(model) },
  ] as HardenOptions[]) {
    const { model: h, report } = await harden(model, { ...opts, foldBn: true, margin: 1e-3 });
    assert.equal(h.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 0, `${opts.method}: batch norm folded`);
    assert.equal(hardenedInfo(h)?.options.foldBn, true);
    const q = await logits(h, test64);
    assert.deepEqual(Array.from(q.top1), Array.from(refAll.top1), `${opts.method} foldBn: same top-1`);
    assert.ok(maxDiff(q.logits, refAll.logits) <= 1e-4 * maxAbs(refAll.logits), `${opts.method} foldBn: logits agree to rounding`);
    // folding removes 4 BN vectors per layer and adds nothing for them: the report counts against the original
    const floats = (m: Model): number => [...m.graph.initializers.values()].filter((t) => t.dataType === DataType.FLOAT).reduce((s, t) => s + t.data.length, 0);
    assert.equal(report.addedParameters, floats(h) - floats(model));
    assert.equal(countHardened(h).macs, countHardened(model).macs, `${opts.method} foldBn: same MACs`);
  }
});

test('NaN from a faulty weight: zeroing replaces it in every placement, saturation behind batch norm lets it through (as Ranger\'s clamp)', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, test64);
  const poison = (m: Model): Model => {
    const inits = new Map(m.graph.initializers);
    const w = inits.get(m.graph.nodes.filter((n) => n.opType === 'Conv')[2].inputs[1])!;
    const data = Float32Array.from(w.data as Float32Array);
    data[5] = NaN;
    inits.set(w.name, { ...w, data });
    return { ...m, graph: { ...m.graph, initializers: inits } };
  };
  const nonFinite = async (m: Model): Promise<number> => (await logits(poison(m), test64)).logits.filter((v) => !Number.isFinite(v)).length;
  assert.equal(await nonFinite(model), 640, 'unprotected: every logit NaN');
  for (const placement of ['paper', 'after-bn', 'after-act'] as const) {
    assert.equal(await nonFinite((await harden(model, { method: 'ranger', intervals, placement })).model), 0, `zero ${placement}`);
  }
  assert.equal(await nonFinite((await harden(model, { method: 'ranger', intervals, placement: 'paper', rangeMode: 'saturate' })).model), 0, 'saturate paper: NaN → 0 first');
  assert.equal(await nonFinite((await harden(model, { method: 'ranger', intervals, placement: 'after-act', rangeMode: 'saturate' })).model), 640, 'saturate after-act: NaN propagates');
});

test('placement, range bounds and bad range options are refused with the option named', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, subset(test64, 8));
  await assert.rejects(harden(model, { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(model), placement: 'after-bn' }), /option "placement" applies to ranger, edac, edac-nointervals and tmr-channels/);
  await assert.rejects(harden(model, { method: 'ranger', intervals, placement: 'behind' as never }), /option "placement" "behind" is unknown/);
  await assert.rejects(harden(model, { method: 'ranger', intervals, rangeMode: 'clamp' as never }), /option "rangeMode" "clamp" is unknown/);
  await assert.rejects(harden(model, { method: 'tmr-channels', ratio: 0.1, rangeBounds: 'layer' }), /option "rangeBounds" layer\) apply to ranger only/);
});

const googlenet = resolve(interop, 'googlenet.onnx');
test('tmr-weights on a PyTorch export (opset 14): the vote folds at session creation — same kernels, bit-equal logits', { skip: !existsSync(googlenet) && 'shared/interop not beside the repository' }, async () => {
  const model = readModel(googlenet);
  const { model: h } = await harden(model, { method: 'tmr-weights', ratio: 0.05, scores: magnitudeScores(model) });
  assert.ok(h.graph.nodes.some((n) => n.opType === 'ScatterElements'), 'the stored graph holds the vote');
  const o = opCounts(decodeModel(await optimizedModelBytes(model, { optimization: 'extended' })));
  const p = opCounts(decodeModel(await optimizedModelBytes(h, { optimization: 'extended' })));
  assert.deepEqual(p, o, 'onnxruntime folded every vote node into the weights');
  const x = new Float32Array(8 * 3 * 32 * 32);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 0.5 + 0.5;
  const data: ImageSet = { name: 'synthetic', x, y: new Uint8Array(8), shape: [3, 32, 32], count: 8, classes: 10 };
  assert.deepEqual(Array.from((await logits(h, data)).logits), Array.from((await logits(model, data)).logits));
});

test('CLI: --placement / --range-mode / --range-bounds / --fold-bn reach harden; a misplaced --placement exits 2 naming the flag', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const cli = resolve(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const lenet = resolve(repoRoot, 'models', 'lenet5-mnist.onnx');
  const dir = mkdtempSync(resolve(tmpdir(), 'fg-placement-'));
  const out = resolve(dir, 'r.onnx');
  const ok = spawnSync(process.execPath, [cli, 'harden', lenet, '--method', 'ranger', '--placement', 'after-act', '--range-mode', 'saturate', '--range-bounds', 'layer', '--fold-bn', '--limit', '200', '--out', out, '--quiet'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const info = hardenedInfo(readModel(out));
  assert.deepEqual([info?.options.placement, info?.options.rangeMode, info?.options.rangeBounds, info?.options.foldBn], ['after-act', 'saturate', 'layer', true]);
  const bad = spawnSync(process.execPath, [cli, 'harden', lenet, '--method', 'tmr-weights', '--ratio', '0.1', '--placement', 'after-bn', '--limit', '200', '--out', resolve(dir, 'e.onnx'), '--quiet'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--placement applies to ranger, edac, edac-nointervals and tmr-channels/);
});

test('CLI: --fold-bn on a model with batch norms writes the model (validated at the same top-1, not bit for bit: folded weights round differently)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const cli = resolve(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const out = resolve(mkdtempSync(resolve(tmpdir(), 'fg-foldbn-')), 'f.onnx');
  const r = spawnSync(process.execPath, [cli, 'harden', resolve(repoRoot, 'models', 'vgg11-mnist.onnx'), '--method', 'ranger', '--fold-bn', '--limit', '100', '--out', out, '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const h = readModel(out);
  assert.equal(hardenedInfo(h)?.options.foldBn, true);
  assert.equal(h.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 0);
});
