/**
 * Squeeze and Unsqueeze are shape-only, like Flatten and Reshape (graph/ops/): the campaign's prefix
 * shortcut may cut after them where the value also feeds a skip connection, and a layer whose
 * output passes through them still produces the model's output. Records with the cut must equal
 * the full run's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import type { Model } from '../src/graph/types.js';
import { evaluate, type ImageSet } from '../src/runtime/evaluate.js';
import { Rng } from '../src/util/rng.js';
import { listParameters } from '../src/faults/params.js';
import { NO_SHORTCUTS, runCampaign, TrialEngine } from '../src/campaign/index.js';
import { computeLayers } from '../src/graph/layers.js';

/**
 * conv(1→4) → relu → global average pool → `shapeOnly` (Squeeze to [N, 4], or Squeeze/Unsqueeze
 * back to [N, 4, 1, 1]) = s; then a residual block on s (a layer, relu, Add with s) and the classifier.
 */
function skipModel(kind: 'squeeze' | 'unsqueeze', seed = 5): Model {
  const rng = new Rng(seed);
  const rand = (n: number, sd: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * sd);
  const b = new GraphBuilder(kind);
  const x = b.input('x', ['N', 1, 8, 8]);
  const c1 = b.op('Conv', [x, b.init('conv1.weight', [4, 1, 3, 3], rand(36, 0.5)), b.init('conv1.bias', [4], rand(4, 0.1))], { pads: A.is([1, 1, 1, 1]), kernel_shape: A.is([3, 3]) }, 'conv1');
  const pool = b.op('GlobalAveragePool', [b.op('Relu', [c1], {}, 'relu1')], {}, 'pool');
  let s: string, h: string;
  if (kind === 'squeeze') {
    s = b.op('Squeeze', [pool, b.ints('axes23', [2, 3])], {}, 'squeeze');
    h = b.op('Gemm', [s, b.init('fc1.weight', [4, 4], rand(16, 0.5)), b.init('fc1.bias', [4], rand(4, 0.1))], { transB: A.i(1) }, 'fc1');
  } else {
    s = b.op('Unsqueeze', [b.op('Squeeze', [pool, b.ints('axes3', [3])], {}, 'squeeze'), b.ints('axes3u', [3])], {}, 'unsqueeze');
    h = b.op('Conv', [s, b.init('conv2.weight', [4, 4, 1, 1], rand(16, 0.5)), b.init('conv2.bias', [4], rand(4, 0.1))], { kernel_shape: A.is([1, 1]) }, 'conv2');
  }
  const sum = b.op('Add', [b.op('Relu', [h], {}, 'relu2'), s], {}, 'skip');
  const f = kind === 'squeeze' ? sum : b.op('Flatten', [sum], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, b.init('fc.weight', [3, 4], rand(12, 0.5)), b.init('fc.bias', [3], rand(3, 0.1))], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  return makeModel(b.build(), { opset: 13 });
}

/** Random images labelled by the model itself (80 %) or at random. */
async function labelled(model: Model, count = 40): Promise<ImageSet> {
  const rng = new Rng(9);
  const probe: ImageSet = { name: 'random', x: Float32Array.from({ length: count * 64 }, () => rng.next()), y: new Uint8Array(count), shape: [1, 8, 8], count, classes: 3 };
  const { predictions } = await evaluate(model, probe);
  return { ...probe, y: Uint8Array.from(predictions.top1, (t) => (rng.next() < 0.8 ? t : rng.int(3))) };
}

const strip = (rs: { millis: number }[]) => rs.map(({ millis: _m, ...r }) => r);

test('prefix shortcut: a Squeeze/Unsqueeze output feeding a layer and a skip Add is a cut, and records equal the full run', async () => {
  for (const [kind, cuts] of [['squeeze', ['squeeze_out', 'skip_out']], ['unsqueeze', ['unsqueeze_out', 'flatten_out']]] as const) {
    const model = skipModel(kind);
    const data = await labelled(model);
    const e = await TrialEngine.create(model, data, listParameters(model), { minPrefixShare: 0 });
    try {
      assert.deepEqual(e.cutValues, cuts, kind);
      await e.verifyAllCuts();
      assert.deepEqual(e.rejectedCuts, [], kind);
    } finally {
      await e.release();
    }
    const paths = new Map<string, number>();
    let sdc = 0;
    // one or two flips of high bits: some trials fault only the layers after the cut, most change predictions
    for (const faults of [1, 2]) {
      const o = { model, data, bers: [1e-3], trials: 8, seed: faults, count: 'fixed' as const, faults, bits: [30, 31] as [number, number], minPrefixShare: 0 };
      const full = await runCampaign({ ...o, shortcuts: false });
      const cut = await runCampaign({ ...o, shortcuts: { ...NO_SHORTCUTS, prefix: true }, onProgress: (p) => paths.set(p.path, (paths.get(p.path) ?? 0) + 1) });
      assert.deepEqual(strip(cut.records), strip(full.records), `${kind}, ${faults} faults`);
      sdc += full.records.filter((r) => r.sdcRate > 0 || r.dueRate > 0).length;
    }
    assert.ok(sdc > 0, `${kind}: some trial must change predictions`);
    assert.ok((paths.get('suffix') ?? 0) > 0, `${kind}: some trial must run from the cut: ${JSON.stringify([...paths])}`);
  }
});

test('a layer whose output passes through Unsqueeze and Squeeze still produces the model output', () => {
  const b = new GraphBuilder('out');
  const x = b.input('x', ['N', 4]);
  const y = b.op('Gemm', [x, b.init('fc.weight', [3, 4], new Float32Array(12).fill(0.5)), b.init('fc.bias', [3], [0, 0, 0])], { transB: A.i(1) }, 'fc');
  const u = b.op('Unsqueeze', [y, b.ints('axes2', [2])], {}, 'unsqueeze');
  b.node('Squeeze', [u, b.ints('axes2s', [2])], {}, { name: 'squeeze', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  const layers = computeLayers(makeModel(b.build(), { opset: 13 }));
  assert.deepEqual(layers.map((l) => [l.label, l.isOutput]), [['fc', true]]);
});
