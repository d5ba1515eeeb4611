/**
 * Training throughput on real exported graphs (issue 13.6): `train --from` on the EfficientNet-B0
 * and GoogLeNet torchvision exports of shared/interop, batch 64, 3×32×32 images, 2 intra-op
 * threads, SGD. Target: ≥ 30 images/s (PyTorch 1.13 CPU training EfficientNet-B0 on this machine).
 * Records the time to build the training graph (training-mode rewrite + gradient graph), to create
 * its onnxruntime session, and the steady-state images/s of one step (median of timed steps) and of
 * the whole `train` loop (one epoch, session creation included).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { loadModel } from '../src/graph/load.js';
import { randomImages } from '../src/data/random.js';
import { train, trainableParameters, trainingGraph } from '../src/train/train.js';
import { gradientGraph } from '../src/autodiff/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { formatTable } from '../src/cli/table.js';
import { median } from '../src/runtime/timing.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** shared/interop/models beside the repository (CI) or one level above (a worktree). */
export function interopModels(): string {
  const dir = [join(repo, '..', 'shared'), join(repo, '..', '..', 'shared')].map((d) => join(d, 'interop', 'models')).find((d) => existsSync(d));
  if (!dir) throw new Error('shared/interop/models is neither beside the repository nor one level above it');
  return dir;
}

export async function benchTrainInterop(names = ['efficientnet_b0', 'googlenet'], opts: { batch?: number; threads?: number; steps?: number } = {}): Promise<string> {
  const batch = opts.batch ?? 64, threads = opts.threads ?? 2, steps = opts.steps ?? 6;
  const rows: (string | number)[][] = [];
  for (const name of names) {
    const model = loadModel(join(interopModels(), `${name}.onnx`));
    const data = { ...randomImages(batch * steps, [3, 32, 32], 10, 1), shape: [3, 32, 32] as [number, number, number] };
    let t0 = performance.now();
    const { trainable } = trainableParameters(model);
    const tg = trainingGraph(model);
    const grad = gradientGraph(tg.model, { loss: 'cross_entropy', wrt: trainable, paramsAsInputs: true, keepOutputs: true });
    const buildMs = performance.now() - t0;
    t0 = performance.now();
    const runner = await ModelRunner.create(grad.model, { threads, input: model.graph.inputs[0].name, outputs: [grad.lossOutput!, ...grad.gradOutputs.values(), ...tg.statOutputs.values()] });
    const sessionMs = performance.now() - t0;
    const params = new Map(trainable.map((n) => [n, model.graph.initializers.get(n)!.data as Float32Array]));
    const labels = new ort.Tensor('int64', BigInt64Array.from(data.y.subarray(0, batch), (v) => BigInt(v)), [batch]);
    const x = data.x.subarray(0, batch * 3072);
    const stepMs: number[] = [], cpuMs: number[] = [];
    for (let i = 0; i < steps; i++) {
      t0 = performance.now();
      const c0 = process.cpuUsage();
      await runner.runFeeds(x, [batch, 3, 32, 32], params, { [grad.labelsInput!]: labels });
      const c = process.cpuUsage(c0);
      if (i >= 1) { stepMs.push(performance.now() - t0); cpuMs.push((c.user + c.system) / 1000); }
    }
    await runner.release();
    const step = median(stepMs), cpu = median(cpuMs);
    // the whole loop as `train --from` runs it: graph, session, batching, optimizer
    const r = await train(model, data, { epochs: 1, batch, optimizer: 'sgd', lr: 1e-9, seed: 0, threads });
    rows.push([name, batch, threads, (buildMs / 1000).toFixed(2), (sessionMs / 1000).toFixed(2), step.toFixed(0), cpu.toFixed(0), (batch / (step / 1000)).toFixed(1), r.imagesPerSecond.toFixed(1)]);
  }
  return `\`train --from\` on torchvision exports (shared/interop), SGD, batch ${batch}, 3×32×32 random images, ${threads} threads; step = median of ${steps - 1} steps after one warm-up (wall and process CPU time: on an idle machine wall ≈ CPU / threads); loop = \`train\` over ${steps} batches (graph build and session creation included). Target ≥ 30 images/s (PyTorch 1.13 CPU, EfficientNet-B0):\n\n\`\`\`\n${formatTable(['model', 'batch', 'threads', 'graph build s', 'session s', 'step ms', 'step CPU ms', 'step img/s', 'loop img/s'], rows)}\n\`\`\``;
}
