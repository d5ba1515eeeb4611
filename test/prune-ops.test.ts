/**
 * Channel propagation read from the op registry (issue 12/13): structured pruning follows channels
 * through the new elementwise ops (HardSwish), PRelu's per-channel slope and a spatial ReduceMean
 * (AdaptiveAvgPool as ShuffleNet and MNASNet export it), and the pruned model runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { inferShapes } from '../src/graph/shapes.js';
import { l1Scores } from '../src/analysis/scores.js';
import { pruneChannels } from '../src/prune/structured.js';
import { ModelRunner } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';

test('pruning follows channels through HardSwish, PRelu and a spatial ReduceMean', async () => {
  const r = new Rng(3);
  const b = new GraphBuilder('ops');
  const w = (name: string, dims: number[]) => b.init(name, dims, Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => r.normal() * 0.5));
  const x = b.input('input', ['batch', 1, 6, 6]);
  const c1 = b.op('HardSwish', [b.op('Conv', [x, w('c1.w', [4, 1, 3, 3]), w('c1.b', [4])], { pads: A.is([1, 1, 1, 1]) }, 'c1')]);
  const c2 = b.op('PRelu', [b.op('Conv', [c1, w('c2.w', [6, 4, 3, 3]), w('c2.b', [6])], {}, 'c2'), w('slope', [6, 1, 1])]);
  const pooled = b.op('ReduceMean', [c2], { axes: A.is([2, 3]), keepdims: A.i(0) });
  b.node('Gemm', [pooled, w('fc.w', [3, 6]), w('fc.b', [3])], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  const model = makeModel(b.build(), { opset: 14 });

  const res = pruneChannels(model, { scores: l1Scores(model), conv: 0.5, fc: 0 });
  assert.deepEqual(res.skipped.map((s) => s.layer), ['fc'], 'only the output layer is left unpruned');
  const g = res.model.graph;
  assert.deepEqual(g.initializers.get('c1.w')!.dims, [2, 1, 3, 3]);
  assert.deepEqual(g.initializers.get('c2.w')!.dims, [3, 2, 3, 3]);
  assert.deepEqual(g.initializers.get('slope')!.dims, [3, 1, 1], 'the slope loses the pruned channels');
  assert.deepEqual(g.initializers.get('fc.w')!.dims, [3, 3]);
  assert.deepEqual(inferShapes(res.model, { batch: 2 }).get('logits'), [2, 3]);
  const run = await ModelRunner.create(res.model, { threads: 1 });
  try {
    const out = await run.run(Float32Array.from({ length: 72 }, () => r.normal()), [2, 1, 6, 6]);
    assert.ok(Array.from(out.logits.data as Float32Array).every(Number.isFinite));
  } finally {
    await run.release();
  }
});
