/**
 * The shipped depthwise model (issue 13.7): models/mobilenetv2-mnist.onnx is the zoo's MobileNetV2
 * at width 0.5 (same graph structure as a fresh build: depthwise convs with group = channels, ReLU6
 * as Clip) and reaches the 98.55% test accuracy models/README.md states.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/graph/load.js';
import { buildModel } from '../src/models/index.js';
import { loadDataset } from '../src/data/index.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { countModel } from '../src/graph/count.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('models/mobilenetv2-mnist.onnx is the zoo MobileNetV2 (width 0.5) at 98.55% MNIST test accuracy', async () => {
  const shipped = loadModel(path.join(root, 'models', 'mobilenetv2-mnist.onnx'));
  const fresh = buildModel('mobilenetv2', { inputShape: [1, 28, 28], classes: 10, width: 0.5 });
  assert.deepEqual(shipped.graph.nodes.map((n) => n.opType), fresh.graph.nodes.map((n) => n.opType));
  assert.equal(countModel(shipped).parameters, 74186);
  const depthwise = shipped.graph.nodes.filter((n) => n.opType === 'Conv' && n.attributes.group?.type === 'int' && n.attributes.group.value > 1);
  assert.equal(depthwise.length, 8, 'one depthwise conv per inverted residual block');
  const r = await evaluate(shipped, loadDataset({ data: 'mnist', split: 'test' }));
  assert.equal(r.accuracy, 0.9855);
});
