/**
 * Layer identity (src/graph/layers.ts): a layer is labelled by its node name, or by its first
 * output's name when the exporter left the node unnamed, and scores are keyed and matched by that
 * label everywhere — so a model whose nodes have no names ranks, hardens and prunes exactly like
 * the same model with names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { computeLayers, findLayer, labelNodes, nodeLabel } from '../src/graph/layers.js';
import { countModel } from '../src/graph/count.js';
import { loadDataset } from '../src/data/index.js';
import { rank, type Scores } from '../src/analysis/index.js';
import { harden } from '../src/harden/index.js';
import { pruneChannels } from '../src/prune/index.js';
import { FlipguardError } from '../src/errors.js';
import type { Model } from '../src/graph/types.js';
import { logitsOf } from './helpers/harden.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const runtime = { threads: 1 };
const named = readModel(path.join(repo, 'models', 'lenet5-mnist.onnx'));
const unnamed: Model = { ...named, graph: { ...named.graph, nodes: named.graph.nodes.map((n) => ({ ...n, name: '' })) } };
const train = loadDataset({ data: 'mnist', split: 'train', limit: 32 });
const testSet = loadDataset({ data: 'mnist', split: 'test', limit: 16 });

/** The same scores keyed by the unnamed model's labels (layers correspond by position). */
const relabel = (s: Scores): Scores => {
  const labels = computeLayers(unnamed).map((l) => l.label);
  return { ...s, layers: s.layers.map((l, i) => ({ ...l, name: labels[i] })) };
};

test('a layer is labelled by its node name, or by its output name when unnamed', () => {
  const layers = computeLayers(unnamed);
  assert.ok(layers.length >= 3);
  assert.deepEqual(layers.map((l) => l.label), layers.map((l) => l.node.outputs[0]));
  assert.deepEqual(computeLayers(named).map((l) => l.label), computeLayers(named).map((l) => l.node.name));
  assert.equal(nodeLabel({ name: '', opType: 'Relu', domain: '', inputs: ['x'], outputs: [], attributes: {} }, 4), 'Relu_4');
  // counting, parameter lists and lookups use the same labels
  assert.deepEqual(countModel(unnamed).layers.filter((l) => l.macs > 0).map((l) => l.name), layers.map((l) => l.label));
  assert.equal(findLayer(unnamed, layers[1].label).node, layers[1].node);
  assert.throws(() => findLayer(unnamed, 'conv9'), (e: Error) => e instanceof FlipguardError && e.message.includes(layers[0].label));
  // labelNodes names unnamed nodes by their labels and leaves named models alone
  assert.deepEqual(labelNodes(unnamed).graph.nodes.map((n) => n.name), unnamed.graph.nodes.map((n, i) => nodeLabel(n, i)));
  assert.equal(labelNodes(named), named);
});

test('an unnamed-node model ranks, hardens and prunes by score like the named model', async () => {
  for (const method of ['vulnerability', 'lrp', 'l1'] as const) {
    const opts = { method, data: train, images: 8, seed: 0, unit: 'channel' as const, threads: 1 };
    const a = await rank(named, opts);
    const b = await rank(unnamed, opts);
    assert.deepEqual(b.layers.map((l) => l.name), computeLayers(unnamed).map((l) => l.label), method);
    assert.deepEqual(b.layers.map((l) => l.scores), a.layers.map((l) => l.scores), method);
  }
  const vul = await rank(unnamed, { method: 'vulnerability', data: train, images: 8, seed: 0, threads: 1 });
  const namedVul = await rank(named, { method: 'vulnerability', data: train, images: 8, seed: 0, threads: 1 });
  assert.deepEqual(vul.layers, relabel(namedVul).layers);

  const hu = await harden(unnamed, { method: 'edac', ratio: 0.25, scores: vul, data: train, runtime });
  const hn = await harden(named, { method: 'edac', ratio: 0.25, scores: namedVul, data: train, runtime });
  assert.deepEqual(Object.keys(hu.report.protected), computeLayers(unnamed).map((l) => l.label));
  assert.deepEqual(Object.values(hu.report.protected), Object.values(hn.report.protected));
  assert.deepEqual(hu.report.layers.map(({ name: _n, ...r }) => r), hn.report.layers.map(({ name: _n, ...r }) => r));
  assert.ok(hu.report.totals.protected > 0);
  // the two hardened models compute the same logits
  assert.deepEqual((await logitsOf(hu.model, testSet, runtime)).logits, (await logitsOf(hn.model, testSet, runtime)).logits);

  const l1 = await rank(unnamed, { method: 'l1', data: train });
  const pu = pruneChannels(unnamed, { scores: l1, conv: 0.25, fc: 0.25 });
  const pn = pruneChannels(named, { scores: await rank(named, { method: 'l1', data: train }), conv: 0.25, fc: 0.25 });
  assert.deepEqual(pu.removed.map((r) => r.removed), pn.removed.map((r) => r.removed));
  assert.ok(pu.removed.some((r) => r.removed.length > 0));
});
