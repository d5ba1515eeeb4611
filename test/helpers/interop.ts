/**
 * The six torchvision exports in shared/interop (issue 13) as test fixtures: model, its 4 input
 * images labelled with PyTorch's own top-1 (so every image is "correct"), PyTorch's logits and the
 * counts measured on the PyTorch side.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/graph/load.js';
import type { Dataset } from '../../src/data/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
// CI puts shared/ beside the repository; a worktree sits one level deeper
export const interopDir = [path.resolve(repoRoot, '..', 'shared'), path.resolve(repoRoot, '..', '..', 'shared')]
  .map((d) => path.resolve(d, 'interop', 'models')).find((d) => existsSync(d));

export const FIXTURES = ['efficientnet_b0', 'googlenet', 'mnasnet0_5', 'mobilenet_v3_small', 'shufflenet_v2_x0_5', 'squeezenet1_0'];

function floats(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export interface Fixture { name: string; model: ReturnType<typeof loadModel>; data: Dataset; logits: Float32Array; meta: { onnx_initializer_elements: number; macs: number; onnx_opset: number } }

/** Loads fixture `name`; `warnings` collects the loader's warnings (e.g. an opset upgrade). */
export function fixture(name: string, warnings: string[] = []): Fixture {
  assert.ok(interopDir, 'shared/interop/models is neither beside the repository nor one level above it');
  const dir = interopDir!;
  const meta = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  const model = loadModel(path.join(dir, `${name}.onnx`), { onWarning: (w) => warnings.push(w) });
  const x = floats(path.join(dir, `${name}.input.bin`));
  const logits = floats(path.join(dir, `${name}.logits.bin`));
  const count = 4;
  const classes = logits.length / count;
  const y = Uint8Array.from({ length: count }, (_, i) => {
    let t = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + t]) t = k;
    return t;
  });
  return { name, model, logits, meta, data: { name: `${name}-images`, x, y, shape: [3, 32, 32], count, classes } };
}
