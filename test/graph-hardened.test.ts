/**
 * The graph layer on models written by flipguard's own hardening transforms: every method on
 * LeNet-5, VGG-11 and ResNet-20 (MNIST size, width 0.25, random init) survives encode → decode →
 * checkSupported, inferShapes gives onnxruntime's shape (and folded value) for every value at batch
 * 1 and 3, countModel works, and tmr-weights' replicas are traced to the layer they protect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { analyzeShapes, checkSupported, countModel, decodeModel, encodeModel, inferShapes, parameterTensors, type Model } from '../src/graph/index.js';
import { createSession } from '../src/runtime/session.js';
import { buildModel } from '../src/models/index.js';
import { loadDataset } from '../src/data/index.js';
import { computeLayers, l1Scores, magnitudeScores, type Scores } from '../src/analysis/scores.js';
import { Rng } from '../src/util/rng.js';
import { harden, hardenedInfo, HARDEN_METHODS, type HardenMethod } from '../src/harden/index.js';
import { storedWordTensors } from '../src/harden/common.js';

const ARCHS = ['lenet5', 'vgg11', 'resnet20'] as const;
const train = loadDataset({ data: 'mnist', split: 'train', limit: 256 });
const zoo = (arch: string): Model => buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width: 0.25 });

/** Seeded random neuron scores (C·H·W per conv layer, C per dense layer). */
function neuronScores(model: Model): Scores {
  const shapes = inferShapes(model, { batch: 1 });
  return {
    method: 'random-neuron',
    layers: computeLayers(model).map((l) => {
      const n = shapes.get(l.node.outputs[0])!.slice(1).reduce((a, b) => a * b, 1);
      const r = new Rng(Rng.derive('neuron', 3, l.node.name));
      return { name: l.node.name, op: l.node.opType, unit: 'neuron' as const, scores: Array.from({ length: n }, () => r.next()) };
    }),
  };
}

function scoresFor(method: HardenMethod, model: Model): Scores | undefined {
  if (method === 'ranger') return undefined;
  if (method === 'tmr-weights' || method === 'tmr-bits') return magnitudeScores(model);
  if (method === 'tmr-neurons') return neuronScores(model);
  return l1Scores(model);
}

/** The model hardened by `method` at ratio 0.15, written and read back. */
async function hardened(arch: string, method: HardenMethod): Promise<{ original: Model; model: Model; added: number }> {
  const original = zoo(arch);
  const r = await harden(original, { method, ratio: method === 'ranger' ? 0 : 0.15, scores: scoresFor(method, original), data: train });
  return { original, model: decodeModel(encodeModel(r.model)), added: r.report.addedParameters };
}

let seed = 99;
function randomData(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; a[i] = seed / 2 ** 32 - 0.5; }
  return a;
}

/** Runs the model with every node output as a graph output; checks inferred shapes and folded values. */
async function matchesOrt(label: string, model: Model, batches = [1, 3]): Promise<void> {
  const outs = model.graph.nodes.flatMap((n) => n.outputs.filter(Boolean));
  const probe: Model = { ...model, graph: { ...model.graph, outputs: outs.map((name) => ({ name })) } };
  const session = await createSession(probe, { optimization: 'disabled' });
  try {
    for (const batch of batches) {
      const { shapes, values } = analyzeShapes(model, { batch });
      const feeds: Record<string, ort.Tensor> = {};
      for (const inp of model.graph.inputs) {
        const dims = shapes.get(inp.name)!;
        feeds[inp.name] = new ort.Tensor('float32', randomData(dims.reduce((p, q) => p * q, 1)), dims);
      }
      const res = await session.run(feeds);
      for (const name of outs) {
        assert.deepEqual(shapes.get(name), [...res[name].dims], `${label} (batch ${batch}): shape of ${name}`);
        const v = values.get(name);
        if (v) {
          const actual = Array.from(res[name].data as ArrayLike<number | bigint>, Number);
          assert.equal(v.length, actual.length, `${label}: folded length of ${name}`);
          v.forEach((x, i) => assert.ok(Object.is(x, actual[i]) || Math.abs(x - actual[i]) <= 1e-6 * Math.max(1, Math.abs(x)), `${label}: folded ${name}[${i}] = ${x}, runtime ${actual[i]}`));
        }
      }
    }
  } finally {
    await session.release();
  }
}

for (const arch of ARCHS) {
  test(`${arch}: every hardened model loads, has onnxruntime's shapes and counts`, async () => {
    for (const method of HARDEN_METHODS) {
      const label = `${arch}/${method}`;
      const { original, model, added } = await hardened(arch, method);
      assert.deepEqual(checkSupported(model), [], label);
      await matchesOrt(label, model);
      const before = countModel(original);
      const after = countModel(model, storedWordTensors(model)); // tmr-bits: its int32 words are the weights
      assert.equal(after.parameters, before.parameters + added, `${label}: parameters`);
      assert.equal(after.layers.reduce((s, l) => s + l.parameters, 0), after.parameters, `${label}: every parameter belongs to a layer`);
      if (method === 'tmr-weights' || method === 'tmr-bits' || method === 'ranger') assert.equal(after.macs, before.macs, `${label}: MACs`);
      else assert.ok(after.macs > before.macs, `${label}: widened layers add MACs (${after.macs} vs ${before.macs})`);
      // the widened (or voted) layers are still the layers, under their names
      const names = (c: typeof before) => c.layers.filter((l) => l.macs > 0).map((l) => `${l.name}:${l.op}`);
      // tmr-neurons may recompute a conv layer's protected neurons in a replica MatMul beside it (<layer>.replicas)
      const replicas = names(after).filter((n) => /\.replicas:MatMul$/.test(n));
      if (method !== 'tmr-neurons') assert.deepEqual(replicas, [], `${label}: no replica layers`);
      else assert.ok(replicas.every((r) => names(before).includes(r.replace('.replicas:MatMul', ':Conv'))), `${label}: replica layers ${replicas}`);
      assert.deepEqual(names(after).filter((n) => !replicas.includes(n)), names(before), `${label}: compute layers`);
    }
  });
}

test('tmr-weights: replicas are traced through the vote to their Conv/Gemm as weights', async () => {
  for (const arch of ['lenet5', 'resnet20']) {
    const { original, model } = await hardened(arch, 'tmr-weights');
    const info = hardenedInfo(model);
    assert.ok(info?.weights?.length, `${arch}: weight triples`);
    const before = new Map(parameterTensors(original).map((p) => [p.name, p]));
    const after = new Map(parameterTensors(model).map((p) => [p.name, p]));
    // what was a parameter keeps its layer and role
    for (const [name, p] of before) {
      const q = after.get(name)!;
      assert.deepEqual([q.op, q.node, q.role], [p.op, p.node, p.role], `${arch}: ${name}`);
    }
    for (const t of info!.weights!) {
      const w = before.get(t.weight)!;
      assert.ok(w.op === 'Conv' || w.op === 'Gemm', `${arch}: ${t.weight} is a ${w.op} weight`);
      for (const copy of t.copies) {
        const p = after.get(copy);
        assert.ok(p, `${arch}: ${copy} is a parameter`);
        assert.deepEqual([p.op, p.node, p.role], [w.op, w.node, 'weight'], `${arch}: replica ${copy}`);
        assert.deepEqual(p.nodes, [w.node], `${arch}: replica ${copy} used by its layer only`);
      }
      assert.ok(!after.has(t.index), 'the int32 index is not a parameter');
    }
  }
});
