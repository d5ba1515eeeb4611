/**
 * Real exporter output (issue 13): the six torchvision exports in shared/interop load, infer shapes,
 * count like PyTorch, reproduce PyTorch's logits, and every analysis (Eq. 1, LRP, neuron
 * criticality, Taylor) and a short campaign run on each. Images are the fixture's 4 inputs, labelled
 * with PyTorch's own top-1 so every image is "correct" (LRP and neurons need a reference set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/graph/load.js';
import { modelInfo } from '../src/graph/info.js';
import { analyzeShapes } from '../src/graph/shapes.js';
import { opRecord } from '../src/graph/ops/index.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { rank } from '../src/analysis/index.js';
import { runCampaign } from '../src/campaign/index.js';
import type { Dataset } from '../src/data/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// CI puts shared/ beside the repository; a worktree sits one level deeper
const interop = [path.resolve(repoRoot, '..', 'shared'), path.resolve(repoRoot, '..', '..', 'shared')]
  .map((d) => path.resolve(d, 'interop', 'models')).find((d) => existsSync(d));

const FIXTURES = ['efficientnet_b0', 'googlenet', 'mnasnet0_5', 'mobilenet_v3_small', 'shufflenet_v2_x0_5', 'squeezenet1_0'];

function floats(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

interface Fixture { name: string; model: ReturnType<typeof loadModel>; data: Dataset; logits: Float32Array; meta: { onnx_initializer_elements: number; macs: number; onnx_opset: number } }

function fixture(name: string): Fixture {
  assert.ok(interop, 'shared/interop/models is neither beside the repository nor one level above it');
  const dir = interop!;
  const meta = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  const warnings: string[] = [];
  const model = loadModel(path.join(dir, `${name}.onnx`), { onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, [], `${name}: no load warnings for opset ${meta.onnx_opset}`);
  const x = floats(path.join(dir, `${name}.input.bin`));
  const logits = floats(path.join(dir, `${name}.logits.bin`));
  const count = 4;
  const classes = logits.length / count;
  // PyTorch's top-1 as the label: every image is correctly classified
  const y = Uint8Array.from({ length: count }, (_, i) => {
    let t = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + t]) t = k;
    return t;
  });
  return { name, model, logits, meta, data: { name: `${name}-images`, x, y, shape: [3, 32, 32], count, classes } };
}

for (const name of FIXTURES) {
  test(`${name}: loads, infers shapes, counts like PyTorch and reproduces its logits`, async () => {
    const f = fixture(name);
    const { shapes } = analyzeShapes(f.model, { batch: 4 });
    assert.deepEqual(shapes.get(f.model.graph.outputs[0].name), [4, 10]);
    for (const n of f.model.graph.nodes) assert.ok(opRecord(n.opType)?.shape, `${name}: ${n.opType} has a registry record with a shape rule`);
    const info = modelInfo(f.model);
    assert.equal(info.parameters, f.meta.onnx_initializer_elements, 'parameters = stored float initializer elements');
    assert.ok(Math.abs(info.macs - f.meta.macs) <= 0.01 * f.meta.macs, `MACs ${info.macs} vs PyTorch ${f.meta.macs}`);
    const r = await evaluate(f.model, f.data, { threads: 1 });
    // 1e-4 relative to the largest logit of the image (a logit near 0 has no meaningful relative error)
    for (let i = 0; i < 4; i++) {
      const row = f.logits.subarray(i * 10, i * 10 + 10);
      const scale = Math.max(...Array.from(row, Math.abs));
      for (let k = 0; k < 10; k++) {
        const got = r.predictions.logits[i * 10 + k];
        assert.ok(Math.abs(got - row[k]) <= 1e-4 * scale, `${name} image ${i} logit ${k}: ${got} vs PyTorch ${row[k]}`);
      }
    }
    assert.equal(r.accuracy, 1, 'same top-1 as PyTorch on every image');
  });

  test(`${name}: Eq. (1), LRP, neuron criticality, Taylor and a short campaign run`, async () => {
    const f = fixture(name);
    const opts = { data: f.data, threads: 1, batch: 2 };
    const layers = new Set<string>();
    for (const method of ['vulnerability', 'lrp', 'neurons', 'taylor'] as const) {
      // Eq. (1) and Taylor profile 2 images; LRP and neurons take a class-balanced reference set
      // (quota 1 per class of 10), which is every one of the 4 images
      const s = await rank(f.model, { ...opts, method, images: method === 'lrp' || method === 'neurons' ? 10 : 2 });
      assert.ok(s.layers.length > 0, `${method}: scores some layers`);
      for (const l of s.layers) {
        assert.ok(l.scores.length > 0 && l.scores.every(Number.isFinite), `${method} ${l.name}: finite scores`);
        layers.add(l.name);
      }
      // a ranking tells layers apart: not every score of the model is the same number
      const all = s.layers.flatMap((l) => l.scores);
      assert.ok(all.some((v) => v !== all[0]), `${method}: scores differ`);
    }
    // about 0.4–2 faults per trial over 1–6 M parameters: each trial rebuilds a session of the model
    const c = await runCampaign({ model: f.model, data: f.data, bers: [1e-8], trials: 2, seed: 1, threads: 1 });
    assert.equal(c.records.length, 2);
    assert.equal(c.golden.accuracy, 1);
    for (const r of c.records) assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && Number.isInteger(r.faults));
  });
}
