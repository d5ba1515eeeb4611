/**
 * Opsets 7–21 (issue 13): graphs written in the old operator forms (attributes that later opsets
 * turned into inputs, flatten-semantics Softmax, Dropout's ratio, BatchNormalization's spatial) give
 * bit-identical outputs after the in-graph upgrade, and hardening an old model upgrades it (with one
 * warning) instead of refusing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { checkSupported } from '../src/graph/ops.js';
import { upgradeOpset } from '../src/graph/upgrade.js';
import { analyzeShapes } from '../src/graph/shapes.js';
import { defaultOpset, type Model } from '../src/graph/types.js';
import { ModelRunner } from '../src/runtime/session.js';
import { harden } from '../src/harden/index.js';
import { Rng } from '../src/util/rng.js';

/** x [N, 3, 4, 4] through every op whose form changed between `opset` and 17, old form throughout. */
function oldForms(opset: number): Model {
  const r = new Rng(opset);
  const b = new GraphBuilder(`opset${opset}`);
  const x = b.input('x', ['N', 3, 4, 4]);
  const w = (name: string, dims: number[]) => b.init(name, dims, Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => r.normal() * 0.5));
  const bn = b.op('BatchNormalization', [x, w('s', [3]), w('bb', [3]), w('m', [3]), b.init('v', [3], [0.5, 1, 2])],
    opset < 9 ? { spatial: A.i(1), epsilon: A.f(1e-5) } : { epsilon: A.f(1e-5) });
  const clipped = opset < 11
    ? b.op('Clip', [bn], { min: A.f(-0.5), max: A.f(0.7) })
    : b.op('Clip', [bn, b.init('lo', [], [-0.5]), b.init('hi', [], [0.7])]);
  const padded = opset < 11
    ? b.op('Pad', [clipped], { pads: A.is([0, 0, 1, 1, 0, 0, 1, 0]), value: A.f(0.25) })
    : b.op('Pad', [clipped, b.ints('pads', [0, 0, 1, 1, 0, 0, 1, 0]), b.init('pv', [], [0.25])]);
  const sliced = opset < 10
    ? b.op('Slice', [padded], { starts: A.is([1, 0]), ends: A.is([5, 4]), axes: A.is([2, 3]) })
    : b.op('Slice', [padded, b.ints('st', [1, 0]), b.ints('en', [5, 4]), b.ints('ax', [2, 3])]);
  const dropped = opset < 12 ? b.op('Dropout', [sliced], { ratio: A.f(0.3) }) : b.op('Dropout', [sliced]);
  const [s1, s2] = b.node('Split', [dropped], { axis: A.i(1), split: A.is([1, 2]) }, { outputs: 2 });
  const red = b.op('ReduceSum', [s2], { axes: A.is([1]), keepdims: A.i(1) });
  const cat = b.op('Concat', [s1, red], { axis: A.i(1) });
  const sq = b.op('Squeeze', [b.op('Unsqueeze', [cat], { axes: A.is([2]) })], { axes: A.is([2]) });
  const gap = b.op('Flatten', [b.op('GlobalAveragePool', [sq])], { axis: A.i(1) });
  const fc = b.op('Gemm', [gap, w('fc', [3, 2]), w('fcb', [3])], { transB: A.i(1) });
  // Softmax before 13 normalises over everything from `axis` on (flattened): axis 1 of [N, 3, 2]
  const three = b.op('Reshape', [b.op('Concat', [fc, fc], { axis: A.i(1) }), b.ints('shape', [-1, 3, 2])]);
  b.node('Softmax', [three], { axis: A.i(1) }, { outputs: ['probs'] });
  b.output('probs', ['N', 3, 2]);
  return makeModel(b.build(), { opset });
}

async function run(m: Model, x: Float32Array): Promise<Float32Array> {
  const r = await ModelRunner.create(m, { threads: 1 });
  try {
    return (await r.run(x, [2, 3, 4, 4])).probs.data as Float32Array;
  } finally {
    await r.release();
  }
}

test('old operator forms at opsets 7, 9, 11 and 12 give bit-identical outputs after the in-graph upgrade', async () => {
  const rng = new Rng(5);
  const x = Float32Array.from({ length: 2 * 48 }, () => rng.normal());
  for (const opset of [7, 9, 11, 12]) {
    const m = oldForms(opset);
    checkSupported(m);
    const up = upgradeOpset(m);
    assert.equal(defaultOpset(up), 17);
    assert.deepEqual(analyzeShapes(up, { batch: 2 }).shapes.get('probs'), [2, 3, 2]);
    const before = await run(m, x);
    const after = await run(up, x);
    assert.deepEqual(Array.from(after), Array.from(before), `opset ${opset}: outputs unchanged`);
    // the flatten-semantics Softmax really normalises over 6 values (a wrong rewrite would sum each column of 3 to 1)
    assert.ok(Math.abs(before.slice(0, 6).reduce((p, q) => p + q, 0) - 1) < 1e-6);
    assert.equal(m.graph.nodes.length <= up.graph.nodes.length, true);
  }
});

test('hardening an opset-11 model upgrades it in-graph with one warning and keeps its outputs', async () => {
  const m = oldForms(11);
  const warnings: string[] = [];
  const { model } = await harden(m, { method: 'tmr-weights', ratio: 0, onWarning: (w) => warnings.push(w) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /opset 11; flipguard rewrote it in-graph to opset 17/);
  assert.equal(defaultOpset(model), 17);
  const rng = new Rng(8);
  const x = Float32Array.from({ length: 2 * 48 }, () => rng.normal());
  assert.deepEqual(Array.from(await run(model, x)), Array.from(await run(m, x)));
});
