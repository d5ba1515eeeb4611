/**
 * Hardened int8 (QDQ) and float16 models (issue 15): for each shipped model, quantized with
 * flipguard's `quantize` (1,000 training images, minmax) and converted to float16, every hardening
 * method's time per pass over the test images as the ratio hardened ÷ unhardened model of the same
 * format, all models of one format timed in ONE run (passes interleaved, medians), next to the
 * stored-parameter-bit and MAC ratios and how many of onnxruntime's integer conv kernels
 * (QLinearConv in the optimised graph) the hardened int8 model keeps.
 *
 * Rankings are seeded random scores of the float32 model (timing depends on how many units are
 * protected, not which).
 *
 * Environment: FHARDEN_MODELS (lenet5,vgg11), FHARDEN_IMAGES (2000), FHARDEN_RUNS (5), FHARDEN_THREADS (2).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, decodeModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { loadDataset, subset } from '../src/data/index.js';
import { rank } from '../src/analysis/index.js';
import { convertModel, quantizeModel } from '../src/formats/index.js';
import { harden, profileIntervals, countHardened, parameterBits, type HardenOptions } from '../src/harden/index.js';
import { optimizedModelBytes, timeInferenceMany } from '../src/runtime/timing.js';
import { formatTable } from '../src/cli/table.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const VARIANTS: { name: string; opts: Omit<HardenOptions, 'scores' | 'intervals'>; unit?: 'channel' | 'weight' | 'neuron' }[] = [
  { name: 'ranger (default placement)', opts: { method: 'ranger' } },
  { name: 'edac 15%', opts: { method: 'edac', ratio: 0.15 }, unit: 'channel' },
  { name: 'tmr-channels 15%', opts: { method: 'tmr-channels', ratio: 0.15 }, unit: 'channel' },
  { name: 'tmr-weights 15%', opts: { method: 'tmr-weights', ratio: 0.15 }, unit: 'weight' },
  { name: 'tmr-neurons 15%', opts: { method: 'tmr-neurons', ratio: 0.15 }, unit: 'neuron' },
  { name: 'tmr-bits (default bit), every weight', opts: { method: 'tmr-bits' } },
];

export function formatsHardenCommand(): string {
  return 'npm run bench -- formats-harden';
}

export async function benchFormatsHarden(): Promise<string> {
  const names = (process.env.FHARDEN_MODELS ?? 'lenet5,vgg11').split(',');
  const images = Number(process.env.FHARDEN_IMAGES ?? 2000);
  const runs = Number(process.env.FHARDEN_RUNS ?? 5);
  const threads = Number(process.env.FHARDEN_THREADS ?? 2);
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const testAll = loadDataset({ data: 'mnist', split: 'test' });
  const test = subset(testAll, Array.from({ length: Math.min(images, testAll.count) }, (_, i) => i));
  const profile = subset(train, Array.from({ length: 1000 }, (_, i) => i));
  const rows: (string | number)[][] = [];
  for (const name of names) {
    const float = readModel(resolve(repoRoot, 'models', `${name}-mnist.onnx`));
    const int8 = (await quantizeModel(float, train, { threads })).model;
    const f16 = convertModel(float, 'float16').model;
    // seeded random rankings of the float32 model (the same layers and units): timing depends on how many units are protected
    const scores = { channel: await rank(float, { method: 'random', unit: 'channel', seed: 1 }), weight: await rank(float, { method: 'random', unit: 'weight', seed: 1 }), neuron: await rank(float, { method: 'random', unit: 'neuron', seed: 1 }) };
    for (const [format, model] of [['int8', int8], ['float16', f16]] as const) {
      const intervals = await profileIntervals(model, profile, { threads, optimization: 'disabled' });
      const hardened: Model[] = [];
      for (const v of VARIANTS) hardened.push((await harden(model, { ...v.opts, scores: v.unit ? scores[v.unit] : undefined, intervals })).model);
      const times = await timeInferenceMany([model, ...hardened], test, { threads, batch: 256, repeats: runs });
      const qconv = async (m: Model): Promise<number> => decodeModel(await optimizedModelBytes(m, { threads })).graph.nodes.filter((n) => n.opType === 'QLinearConv').length;
      const base = { bits: parameterBits(model), macs: countHardened(model).macs, ms: times[0].msPerPass, q: format === 'int8' ? await qconv(model) : 0 };
      rows.push([name, format, 'none', '1.000', '1.000', base.ms.toFixed(1), '1.00', format === 'int8' ? `${base.q}/${base.q}` : '']);
      for (let i = 0; i < VARIANTS.length; i++) {
        const m = hardened[i];
        rows.push([
          name, format, VARIANTS[i].name, (parameterBits(m) / base.bits).toFixed(3), (countHardened(m).macs / base.macs).toFixed(3),
          times[i + 1].msPerPass.toFixed(1), (times[i + 1].msPerPass / base.ms).toFixed(2), format === 'int8' ? `${await qconv(m)}/${base.q}` : '',
        ]);
      }
    }
  }
  return `Hardened int8 (QDQ, \`quantize\` minmax) and float16 (\`convert\`) models, ${test.count} MNIST test images, batch 256, ${threads} threads, median of ${runs} interleaved passes; ratios against the unhardened model of the same format in the same run (machine shared with other jobs):\n\n\`\`\`\n` +
    formatTable(['model', 'format', 'variant', 'param bits ×', 'MACs ×', 'ms/pass', 'time ×', 'QLinearConv kept'], rows) + '\n```';
}
