/**
 * A transformed model is written only if it is valid (issue 13.4): validateTransformed catches a
 * hardened model whose copies differ from the originals and a graph onnxruntime cannot run, with a
 * sentence naming the failed check; structured pruning of the block models (depthwise, fire,
 * inception, dense concat) gives models that pass it, with fewer parameters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harden, validateHardened, validateTransformed, TransformInvalidError } from '../src/harden/index.js';
import { pruneChannels } from '../src/prune/structured.js';
import { l1Scores } from '../src/analysis/scores.js';
import { countModel } from '../src/graph/count.js';
import type { Model } from '../src/graph/types.js';
import { BLOCKS, BLOCK_INPUT, blockModel } from './helpers/blocks.js';
import { randomImages } from './helpers/harden.js';

const images = randomImages(BLOCK_INPUT, 4);

/** `model` with initializer `name`'s data changed by `f` (on a copy). */
function edited(model: Model, name: string, f: (d: Float32Array) => void): Model {
  const inits = new Map(model.graph.initializers);
  const t = inits.get(name)!;
  const data = (t.data as Float32Array).slice();
  f(data);
  inits.set(name, { ...t, data });
  return { ...model, graph: { ...model.graph, initializers: inits } };
}

test('validation refuses a hardened model whose copy differs from its original, naming the check', async () => {
  const model = blockModel('grouped');
  const r = await harden(model, { method: 'tmr-channels', ratio: 0.5, scores: l1Scores(model) });
  const ok = await validateHardened(model, r, images);
  assert.equal(ok.fidelity, 'bitwise');
  assert.equal(ok.maxAbsDiff, 0);
  assert.ok(r.model.graph.initializers.has('g4.weight.copies'), 'grouped convs store their copies as <weight>.copies');
  // a changed weight of a channel without copies reaches the logits: not bit-identical any more
  const g4 = r.report.layers.find((l) => l.name === 'g4')! as { indices: number[] };
  const plain = Array.from({ length: 16 }, (_, c) => c).find((c) => !g4.indices.includes(c))!;
  const bad = edited(r.model, 'g4.weight', (d) => { d[plain * 36] += 1; });
  await assert.rejects(validateHardened(model, { ...r, model: bad }, images), (e: Error) => e instanceof TransformInvalidError && /differ from the original's in \d+ of 40 values/.test(e.message) && /nothing was written/.test(e.message));
});

test('validation refuses a graph onnxruntime cannot run, and pruned block models pass it', async () => {
  const model = blockModel('fire');
  const broken = edited(model, 'fire1.expand3x3.bias', () => {});
  broken.graph.initializers.set('fire1.expand3x3.bias', { ...broken.graph.initializers.get('fire1.expand3x3.bias')!, dims: [5], data: new Float32Array(5) });
  await assert.rejects(validateTransformed(model, broken, { images, fidelity: 'runs', what: 'pruned' }), (e: Error) => e instanceof TransformInvalidError && /pruned model/.test(e.message));
  // grouped convs (group > 1, not depthwise) are not pruned yet: their channels are skipped
  for (const block of BLOCKS.filter((b) => b !== 'grouped')) {
    const m = blockModel(block);
    const p = pruneChannels(m, { scores: l1Scores(m), conv: 0.25, fc: 0 });
    const pruned = p.removed.filter((r) => r.removed.length);
    assert.ok(pruned.length > 0, `${block}: some layer loses channels`);
    for (const r of pruned) {
      const node = p.model.graph.nodes.find((n) => n.name === r.layer)!;
      assert.equal(p.model.graph.initializers.get(node.inputs[1])!.dims[0], r.kept.length, `${block} ${r.layer}: weight rows = kept channels`);
    }
    const v = await validateTransformed(m, p.model, { images, fidelity: 'runs', what: 'pruned' });
    assert.equal(v.images, 4);
    assert.ok(countModel(p.model).parameters < countModel(m).parameters, `${block}: fewer parameters`);
  }
});
