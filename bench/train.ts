/**
 * Training throughput and the cost of one training step relative to one inference pass of the same
 * batch (target ≤ 4×).
 */
import ort from 'onnxruntime-node';
import { loadDataset } from '../src/data/index.js';
import { buildModel } from '../src/models/index.js';
import { train, trainableParameters, trainingGraph } from '../src/train/train.js';
import { gradientGraph } from '../src/autodiff/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { formatTable } from '../src/cli/table.js';
import { median } from '../src/runtime/timing.js';

export async function benchTrain(): Promise<string> {
  const data = loadDataset({ data: 'mnist', split: 'train', limit: 2048 });
  const rows: (string | number)[][] = [];
  for (const [label, arch, width] of [['lenet5', 'lenet5', 1], ['vgg11 w0.25', 'vgg11', 0.25]] as const) {
    const model = buildModel(arch, { inputShape: [1, 28, 28], classes: 10, width });
    const batch = 64;
    // whole-loop throughput (optimizer, batching, progress included)
    const r = await train(model, data, { epochs: 1, batch, optimizer: 'sgd', lr: 0.01, seed: 0 });
    // one step vs one inference pass of the same batch, sessions warm
    const { trainable } = trainableParameters(model);
    const tg = trainingGraph(model);
    const grad = gradientGraph(tg.model, { loss: 'cross_entropy', wrt: trainable, paramsAsInputs: true, keepOutputs: true });
    const stepRunner = await ModelRunner.create(grad.model, { input: 'input', outputs: [grad.lossOutput!, ...grad.gradOutputs.values(), ...tg.statOutputs.values()] });
    const inferRunner = await ModelRunner.create(model);
    // the same forward pass with the parameters fed as inputs, as a training step must take them
    const inferInputs = await ModelRunner.create(model, { swappable: trainable });
    const params = new Map(trainable.map((n) => [n, model.graph.initializers.get(n)!.data as Float32Array]));
    const x = data.x.subarray(0, batch * 784);
    const labels = new ort.Tensor('int64', BigInt64Array.from(data.y.subarray(0, batch), (v) => BigInt(v)), [batch]);
    const stepMs: number[] = [], inferMs: number[] = [], inferInMs: number[] = [];
    for (let i = 0; i < 12; i++) {
      let t0 = performance.now();
      await stepRunner.runFeeds(x, [batch, 1, 28, 28], params, { [grad.labelsInput!]: labels });
      if (i >= 2) stepMs.push(performance.now() - t0);
      t0 = performance.now();
      await inferRunner.run(x, [batch, 1, 28, 28]);
      if (i >= 2) inferMs.push(performance.now() - t0);
      t0 = performance.now();
      await inferInputs.run(x, [batch, 1, 28, 28], params);
      if (i >= 2) inferInMs.push(performance.now() - t0);
    }
    await stepRunner.release(); await inferRunner.release(); await inferInputs.release();
    const s = median(stepMs), f = median(inferMs), fi = median(inferInMs);
    rows.push([label, batch, r.imagesPerSecond.toFixed(0), s.toFixed(2), f.toFixed(2), fi.toFixed(2), `${(s / f).toFixed(2)}×`, `${(s / fi).toFixed(2)}×`]);
  }
  return `Training (SGD, 1 epoch over 2,048 MNIST images, batch 64) and one step vs one inference pass of the same batch (median of 10; target ≤ 4×). "infer" is a deployed session (weights as initializers: onnxruntime pre-packs conv weights and fuses batch norm); "params as inputs" is the same forward pass with the weights fed per run, as every training step must:\n\n\`\`\`\n${formatTable(['model', 'batch', 'train img/s', 'step ms', 'infer ms', 'infer (params as inputs) ms', 'step/infer', 'step/infer (inputs)'], rows)}\n\`\`\``;
}
