/**
 * Stages placed behind the conv + batch-norm (+ ReLU) group (issue 14, ovh3):
 * - ranger's after-bn zeroing moved behind the ReLU where that is the same method (range.ts):
 *   the same outputs as the check in front of the ReLU, for clean and for faulty values (NaN, ±Inf,
 *   huge weights), and fewer passes;
 * - EDAC and tmr-channels behind the group (edac.ts / tmr-channels.ts `placement`), with the
 *   protected channels' batch norm duplicated: fault-free bit-identical to the original.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { ModelRunner, type RuntimeOptions } from '../src/runtime/session.js';
import { predict, type ImageSet } from '../src/runtime/evaluate.js';
import { harden, hardenedInfo, profileIntervals, type ChannelLayerReport, type Intervals } from '../src/harden/index.js';
import { l1Scores, magnitudeScores } from '../src/analysis/scores.js';
import { decodeModel } from '../src/graph/onnx.js';
import { optimizedModelBytes } from '../src/runtime/timing.js';
import { rangeTransform } from '../src/harden/range.js';
import { layerSites } from '../src/harden/layers.js';
import type { Model } from '../src/graph/types.js';
import { BLOCKS, BLOCK_INPUT, blockModel } from './helpers/blocks.js';
import { countDiffs, logitsOf, withInit, randomImages, scoresFor } from './helpers/harden.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exact: RuntimeOptions = { optimization: 'disabled' };

const test32 = (() => {
  const all = loadDataset({ data: 'mnist', split: 'test' });
  return subset(all, Array.from({ length: 32 }, (_, i) => (i * 37) % all.count));
})();

async function logits(model: Model, data: ImageSet, opts: RuntimeOptions = exact): Promise<Float32Array> {
  const r = await ModelRunner.create(model, opts);
  try {
    return (await predict(r, data, { batch: 32 })).logits;
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
function opCounts(m: Model): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of m.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}
const ops = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;
/** Bit patterns, so that NaN = NaN and −0 ≠ +0 would show. */
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/**
 * vgg11-mnist with every batch norm's shift t = β − μ·s made ≤ 0 on half the channels and the
 * others' intervals narrowed so that their bound behind the batch norm is > 0: every layer then
 * qualifies (t ≤ 0 or L > 0), with both kinds of channel, and many clean values are out of range.
 */
async function qualifyingVgg(): Promise<{ model: Model; intervals: Intervals }> {
  let model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const scale = new Map<string, Float64Array>(), shift = new Map<string, Float64Array>(); // by the conv output the batch norm reads
  for (const bn of model.graph.nodes.filter((n) => n.opType === 'BatchNormalization')) {
    const f = (i: number): Float32Array => model.graph.initializers.get(bn.inputs[i])!.data as Float32Array;
    const [gamma, beta, mean, variance] = [f(1), f(2), f(3), f(4)];
    const s = Float64Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + 1e-5));
    scale.set(bn.inputs[0], s);
    shift.set(bn.inputs[0], Float64Array.from(beta, (b, c) => b - mean[c] * s[c]));
    // even channels: β := min(β, μ·s − 0.01), so t ≤ 0
    model = withInit(model, bn.inputs[2], (beta) => { for (let c = 0; c < beta.length; c += 2) beta[c] = Math.min(beta[c], Math.fround(mean[c] * s[c]) - 0.01); });
  }
  const profiled = await profileIntervals(model, test32, exact);
  const intervals: Intervals = new Map();
  for (const site of layerSites(model)) {
    const v = profiled.get(site.name)!;
    const lower = Float32Array.from(v.lower), upper = Float32Array.from(v.upper);
    const s = scale.get(site.tap), t = shift.get(site.tap);
    // odd channels: the side of the interval that becomes the lower bound behind the batch norm
    // moves to at least x0, where s·x0 + t = 0.05: the mapped lower bound is then > 0
    for (let c = 1; s && t && c < lower.length; c += 2) {
      const x0 = Math.fround((0.05 - t[c]) / s[c]);
      if (s[c] > 0) { lower[c] = Math.max(lower[c], x0); upper[c] = Math.max(upper[c], lower[c]); } else { upper[c] = Math.min(upper[c], x0); lower[c] = Math.min(lower[c], upper[c]); }
    }
    intervals.set(site.name, { lower, upper });
  }
  return { model, intervals };
}

test('ranger after-bn zeroing moved behind the ReLU: same outputs as in front of it, clean and with NaN / ±Inf / huge faults', async () => {
  const lenet = readModel(resolve(repoRoot, 'models', 'lenet5-mnist.onnx'));
  const lenetIv = await profileIntervals(lenet, subset(test32, 8), exact); // 8 images: the other 24 leave some intervals
  const vgg = await qualifyingVgg();
  // lenet5 (no batch norm, fill 0, every lower bound ≤ 0 behind the ReLU): one compare per layer instead of two
  const l = rangeTransform(lenet, { intervals: lenetIv, placement: 'after-bn' }).model;
  // (a layer keeps its lower compare only where some channel's lower bound behind the ReLU is > 0)
  assert.ok(ops(l, 'GreaterOrEqual') < 10 && ops(l, 'And') < 5, `lenet5: fewer compares than 2 per layer (${ops(l, 'GreaterOrEqual')}, And ${ops(l, 'And')})`);
  for (const { name, model, intervals } of [{ name: 'lenet5', model: lenet, intervals: lenetIv }, { name: 'vgg11 (t ≤ 0 or L > 0)', ...vgg }]) {
    const front = rangeTransform(model, { intervals, placement: 'after-bn', exactBehindRelu: false }).model;
    const behind = rangeTransform(model, { intervals, placement: 'after-bn' }).model;
    // behind the ReLU: the ReLU reads the batch norm (or the conv) directly again
    const readsLayer = (m: Model): boolean => m.graph.nodes.filter((n) => n.opType === 'Relu').every((r) => ['BatchNormalization', 'Conv', 'Gemm'].includes(m.graph.nodes.find((n) => n.outputs.includes(r.inputs[0]))!.opType));
    assert.ok(readsLayer(behind) && !readsLayer(front), `${name}: every ReLU reads its layer directly (in front: the check)`);
    assert.ok(ops(behind, 'GreaterOrEqual') <= ops(front, 'GreaterOrEqual') && ops(behind, 'Relu') === ops(model, 'Relu'), `${name}: no more compares, no extra ReLU`);
    const clean = await logits(behind, test32);
    assert.deepEqual(bits(clean), bits(await logits(front, test32)), `${name}: clean, bit-equal`);
    assert.notDeepEqual(bits(clean), bits(await logits(model, test32)), `${name}: the intervals do replace values of these images`);
    // faults: a weight of the second conv and a batch-norm / bias parameter made NaN, ±Inf, ±1e30
    const conv2 = model.graph.nodes.filter((n) => n.opType === 'Conv')[1];
    const bn = model.graph.nodes.find((n) => n.opType === 'BatchNormalization');
    const param = bn ? bn.inputs[2] : conv2.inputs[2];
    for (const v of [NaN, Infinity, -Infinity, 1e30, -1e30]) {
      for (const [tensor, at] of [[conv2.inputs[1], 7], [param, 0], [param, 1]] as const) {
        const poison = (m: Model): Model => withInit(m, tensor, (d) => { d[at] = v; });
        const a = await logits(poison(behind), test32), b = await logits(poison(front), test32);
        assert.deepEqual(bits(a), bits(b), `${name}: ${tensor}[${at}] = ${v}: bit-equal`);
        assert.ok(a.every(Number.isFinite), `${name}: ${tensor}[${at}] = ${v}: finite logits`);
      }
    }
  }
});

test('ranger after-bn zeroing stays in front of the ReLU where a channel has t > 0 and L ≤ 0 (the shipped vgg11-mnist)', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, subset(test32, 8), exact);
  const front = rangeTransform(model, { intervals, placement: 'after-bn', exactBehindRelu: false }).model;
  const behind = rangeTransform(model, { intervals, placement: 'after-bn' }).model;
  assert.equal(ops(behind, 'And'), ops(front, 'And'));
  assert.equal(ops(behind, 'And'), 9, 'every layer keeps both comparisons');
  const stageReads = behind.graph.nodes.filter((n) => n.opType === 'Relu').map((r) => behind.graph.nodes.find((n) => n.outputs.includes(r.inputs[0]))!.opType);
  assert.deepEqual([...new Set(stageReads)], ['Where'], 'every ReLU still reads the check');
});

test('edac / edac-nointervals / tmr-channels behind the batch norm (+ ReLU): fault-free bit-equal, copies with their own batch-norm parameters, fused by onnxruntime', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, test32, exact);
  const scores = l1Scores(model);
  const ref = await logits(model, test32);
  const refAll = await logits(model, test32, {});
  const fused = opCounts(decodeModel(await optimizedModelBytes(model, { optimization: 'extended' })));
  for (const method of ['edac', 'edac-nointervals', 'tmr-channels'] as const) {
    for (const placement of ['after-bn', 'after-act'] as const) {
      for (const sideBySide of [false, true]) {
        const what = `${method} ${placement}${sideBySide ? ' side by side' : ''}`;
        const { model: h, report } = await harden(model, { method, ratio: 0.15, scores, intervals, placement, sideBySide });
        assert.equal(hardenedInfo(h)?.options.placement, placement, what);
        // every conv's batch norm reads the widened conv output: C + copies channels of parameters
        const convs = h.graph.nodes.filter((n) => n.opType === 'Conv');
        for (const bn of h.graph.nodes.filter((n) => n.opType === 'BatchNormalization')) {
          const conv = convs.find((c) => c.outputs[0] === bn.inputs[0]);
          assert.ok(conv, `${what}: batch norm ${bn.name} reads its conv directly`);
          const rows = h.graph.initializers.get(conv.inputs[1])!.dims[0];
          for (const p of bn.inputs.slice(1, 5)) assert.equal(h.graph.initializers.get(p)!.data.length, rows, `${what}: ${p} widened with the copies`);
          if (placement === 'after-act') assert.equal(h.graph.nodes.find((n) => n.inputs[0] === bn.outputs[0])?.opType, 'Relu', `${what}: the ReLU reads the batch norm`);
        }
        const q = await logits(h, test32);
        // side by side: the consumers sum their input channels in another order (side-by-side.ts)
        if (sideBySide) assert.ok(maxDiff(q, ref) <= 1e-5 * maxAbs(ref), `${what}: logits agree to rounding (reordered sums)`);
        else assert.deepEqual(bits(q), bits(ref), `${what}: bit-equal logits (optimisation disabled)`);
        // default level: onnxruntime fuses the whole group; no batch norm or ReLU kernel of its own
        const o = opCounts(decodeModel(await optimizedModelBytes(h, { optimization: 'extended' })));
        assert.equal(o.BatchNormalization ?? 0, fused.BatchNormalization ?? 0, `${what}: every batch norm fused into its conv`);
        if (placement === 'after-act') assert.equal(o.Relu ?? 0, fused.Relu ?? 0, `${what}: every ReLU fused into its conv`);
        const all = await logits((await harden(model, { method, ratio: 0.15, scores, intervals, placement, sideBySide, margin: 1e-3 })).model, test32, {});
        assert.ok(maxDiff(all, refAll) <= 1e-4 * maxAbs(refAll), `${what}: logits agree to rounding at the default level`);
        assert.ok(report.addedParameters > 0);
      }
    }
  }
});

test('edac behind the batch norm catches a fault in a protected channel\'s batch-norm parameters; paper placement does not', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const intervals = await profileIntervals(model, test32, exact);
  const scores = l1Scores(model);
  const ref = await logits(model, test32);
  for (const placement of ['paper', 'after-bn'] as const) {
    const { model: h, report } = await harden(model, { method: 'edac-nointervals', ratio: 0.15, scores, intervals, placement });
    // the first conv layer's first protected channel: its β made huge (in the original's slot, not the copy's)
    const bn = h.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
    const c = (report.layers[0] as ChannelLayerReport).indices[0];
    const q = await logits(withInit(h, bn.inputs[2], (beta) => { beta[c] = 1e30; }), test32);
    if (placement === 'paper') assert.ok(!q.every(Number.isFinite) || maxDiff(q, ref) > 1, 'paper: the batch-norm fault reaches the logits');
    else assert.deepEqual(bits(q), bits(ref), 'after-bn: the copy\'s β wins (a ≠ b → min), logits bit-equal to the fault-free original');
  }
});

test('placement for the channel methods: refused for tmr-weights, recorded, paper is the default', async () => {
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const scores = l1Scores(model);
  const { model: h } = await harden(model, { method: 'tmr-channels', ratio: 0.1, scores });
  assert.equal(hardenedInfo(h)?.options.placement, undefined, 'paper placement: options as before');
  const convOut = new Set(h.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.outputs[0]));
  assert.ok(h.graph.nodes.filter((n) => n.opType === 'BatchNormalization').every((bn) => !convOut.has(bn.inputs[0])), 'paper placement: every batch norm reads the voter');
  await assert.rejects(harden(model, { method: 'tmr-weights', ratio: 0.1, scores: magnitudeScores(model), placement: 'after-act' }), /option "placement" applies to ranger, edac, edac-nointervals and tmr-channels/);
});

test('channel methods behind the batch norm (+ ReLU) on depthwise, grouped, fire, inception and dense-concat blocks: fault-free bit-identical', async () => {
  const exact2: RuntimeOptions = { optimization: 'disabled' };
  const images = randomImages(BLOCK_INPUT, 4);
  for (const block of BLOCKS) {
    const model = blockModel(block);
    const intervals = await profileIntervals(model, images, exact2);
    const ref = await logitsOf(model, images, exact2);
    for (const method of ['edac', 'edac-nointervals', 'tmr-channels'] as const) {
      for (const placement of ['after-bn', 'after-act'] as const) {
        const { model: hm } = await harden(model, { method, ratio: 0.5, scores: scoresFor(method, model), intervals, placement });
        assert.equal(countDiffs((await logitsOf(hm, images, exact2)).logits, ref.logits), 0, `${block} ${method} ${placement}: logits bit-identical`);
      }
    }
  }
});
