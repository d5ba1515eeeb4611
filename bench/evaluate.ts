/**
 * Evaluate throughput: flipguard's evaluate() against a bare onnxruntime session running the same
 * graph on the same batches, on the zoo models; and the cost of swapping parameters per trial
 * (rebuilding a session from bytes vs feeding parameters as graph inputs).
 */
import ort from 'onnxruntime-node';
import { loadDataset } from '../src/data/index.js';
import { countModel } from '../src/graph/count.js';
import { encodeModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { buildModel } from '../src/models/index.js';
import { evaluate, predict, type ImageSet } from '../src/runtime/evaluate.js';
import { randomImages } from '../src/data/random.js';
import { ModelRunner } from '../src/runtime/session.js';
import { formatTable } from '../src/cli/table.js';
import { median } from '../src/runtime/timing.js';

async function bareImagesPerSecond(model: Model, data: ImageSet, batch: number): Promise<number> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const per = data.shape.reduce((a, b) => a * b, 1);
  const input = session.inputNames[0];
  const t0 = performance.now();
  for (let s = 0; s < data.count; s += batch) {
    const n = Math.min(batch, data.count - s);
    await session.run({ [input]: new ort.Tensor('float32', data.x.subarray(s * per, (s + n) * per), [n, ...data.shape]) });
  }
  const secs = (performance.now() - t0) / 1000;
  await session.release();
  return data.count / secs;
}

export async function benchEvaluate(opts: { repeats?: number } = {}): Promise<string> {
  const repeats = opts.repeats ?? 3;
  const mnist = loadDataset({ data: 'mnist', split: 'test' });
  const cases: { label: string; model: Model; data: ImageSet }[] = [
    { label: 'lenet5 / MNIST', model: buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 }), data: mnist },
    { label: 'alexnet w0.25 / MNIST', model: buildModel('alexnet', { inputShape: [1, 28, 28], classes: 10, width: 0.25 }), data: mnist },
    { label: 'vgg11 w0.25 / MNIST', model: buildModel('vgg11', { inputShape: [1, 28, 28], classes: 10, width: 0.25 }), data: mnist },
    { label: 'resnet20 / MNIST', model: buildModel('resnet20', { inputShape: [1, 28, 28], classes: 10 }), data: mnist },
    { label: 'densenet / MNIST', model: buildModel('densenet', { inputShape: [1, 28, 28], classes: 10 }), data: mnist },
    { label: 'vgg11 / CIFAR-10 size', model: buildModel('vgg11', { inputShape: [3, 32, 32], classes: 10 }), data: randomImages(512, [3, 32, 32], 10, 12345) },
  ];
  const batch = 256;
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const macs = countModel(c.model).macs;
    const fg: number[] = [];
    const bare: number[] = [];
    // interleave to share machine noise between the two
    for (let r = 0; r < repeats; r++) {
      fg.push((await evaluate(c.model, c.data, { batch })).imagesPerSecond);
      bare.push(await bareImagesPerSecond(c.model, c.data, batch));
    }
    const f = median(fg), b = median(bare);
    rows.push([c.label, c.data.count, f.toFixed(0), b.toFixed(0), `${((f / b) * 100).toFixed(1)}%`, ((macs * f) / 1e9).toFixed(2)]);
  }
  return `Evaluate throughput (batch ${batch}, median of ${repeats}; target: flipguard ≥ 85% of the bare session):\n\n\`\`\`\n${formatTable(['model', 'images', 'flipguard img/s', 'bare ort img/s', 'ratio', 'GMAC/s'], rows)}\n\`\`\``;
}

/** Per-trial cost of replacing every parameter: new session from bytes vs parameters fed as inputs. */
export async function benchParameterSwap(): Promise<string> {
  const mnist = loadDataset({ data: 'mnist', split: 'test' });
  const rows: (string | number)[][] = [];
  for (const [label, model] of [
    ['lenet5', buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 })],
    ['vgg11 w0.25', buildModel('vgg11', { inputShape: [1, 28, 28], classes: 10, width: 0.25 })],
  ] as const) {
    const names = [...model.graph.initializers.values()].filter((t) => t.dataType === 1).map((t) => t.name);
    const trials = 5;
    // (a) rebuild: encode the faulty model and create a session, then evaluate
    const rebuild: number[] = [];
    const rebuildOnly: number[] = [];
    for (let t = 0; t < trials; t++) {
      const t0 = performance.now();
      const runner = await ModelRunner.fromBytes(encodeModel(model), model, {});
      const t1 = performance.now();
      await predict(runner, mnist, { batch: 256 });
      rebuild.push(performance.now() - t0);
      rebuildOnly.push(t1 - t0);
      await runner.release();
    }
    // (b) feed: one session with parameters as inputs, a fresh copy fed per trial
    const runner = await ModelRunner.create(model, { swappable: names });
    const feed: number[] = [];
    for (let t = 0; t < trials; t++) {
      const t0 = performance.now();
      const params = new Map(names.map((n) => [n, (model.graph.initializers.get(n)!.data as Float32Array).slice()]));
      await predict(runner, mnist, { batch: 256, params });
      feed.push(performance.now() - t0);
    }
    await runner.release();
    rows.push([label, median(rebuildOnly).toFixed(1), median(rebuild).toFixed(1), median(feed).toFixed(1), `${(median(rebuild) / median(feed)).toFixed(2)}×`]);
  }
  return `Parameter swap per trial (2,000 MNIST test images, median of 5): rebuilding the session from bytes vs feeding parameters as graph inputs to one session:\n\n\`\`\`\n${formatTable(['model', 'rebuild only ms', 'rebuild+eval ms', 'feed+eval ms', 'feed speed-up'], rows)}\n\`\`\``;
}
