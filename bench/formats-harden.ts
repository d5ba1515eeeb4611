/**
 * Hardened int8 (QDQ) and float16 models (issue 15): for each shipped model, quantized with
 * flipguard's `quantize` (1,000 training images, minmax), converted to float16 (Cast-around) and
 * to native float16 (`convert --native`: computes in float16), every hardening
 * method's time per pass over the test images as the ratio hardened ÷ unhardened model of the same
 * format, all models of one format timed in ONE run (passes interleaved, medians), next to the
 * stored-parameter-bit and MAC ratios and how many of onnxruntime's integer conv kernels
 * (QLinearConv in the optimised graph) the hardened int8 model keeps.
 *
 * Rankings are seeded random scores of the float32 model (timing depends on how many units are
 * protected, not which).
 *
 * The int8 QOperator rows (format qoperator) are the int8 model with its convs as QLinearConv
 * kernels (converted by test/helpers/quantized.ts), hardened in QDQ form, timed against the
 * unhardened QOperator model, with the QDQ form alone as one more row.
 *
 * Environment: FHARDEN_MODELS (lenet5,vgg11), FHARDEN_FORMATS (int8,float16; also qoperator, and
 * float16-native, which `formats-harden-native` runs alone),
 * FHARDEN_IMAGES (2000), FHARDEN_RUNS (5), FHARDEN_THREADS (2).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, decodeModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { loadDataset, subset } from '../src/data/index.js';
import { rank } from '../src/analysis/index.js';
import { convertModel, qdqForm, quantizeModel } from '../src/formats/index.js';
import { harden, profileIntervals, countHardened, parameterBits, type HardenOptions } from '../src/harden/index.js';
import { optimizedModelBytes, timeInferenceMany } from '../src/runtime/timing.js';
import { formatTable } from '../src/cli/table.js';
import { runCampaign } from '../src/campaign/run.js';
import { qoperatorFromQdq } from '../test/helpers/quantized.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const VARIANTS: { name: string; opts: Omit<HardenOptions, 'scores' | 'intervals'>; unit?: 'channel' | 'weight' | 'neuron' }[] = [
  { name: 'ranger (default placement)', opts: { method: 'ranger' } },
  { name: 'edac 15%', opts: { method: 'edac', ratio: 0.15 }, unit: 'channel' },
  { name: 'tmr-channels 15%', opts: { method: 'tmr-channels', ratio: 0.15 }, unit: 'channel' },
  { name: 'tmr-weights 15%', opts: { method: 'tmr-weights', ratio: 0.15 }, unit: 'weight' },
  { name: 'tmr-neurons 15%', opts: { method: 'tmr-neurons', ratio: 0.15 }, unit: 'neuron' },
  { name: 'tmr-bits (default bit), every weight', opts: { method: 'tmr-bits' } },
];

/** The command that reproduces a formats-harden run: `name` with the FHARDEN_* settings it ran with. */
export function formatsHardenCommand(name = 'formats-harden'): string {
  const env = Object.entries(process.env).filter(([k]) => k.startsWith('FHARDEN_')).map(([k, v]) => `${k}=${v} `).join('');
  return `${env}npm run bench -- ${name}`;
}

export async function benchFormatsHarden(only?: readonly string[]): Promise<string> {
  const names = (process.env.FHARDEN_MODELS ?? 'lenet5,vgg11').split(',');
  const formats = only ?? (process.env.FHARDEN_FORMATS ?? 'int8,float16').split(',');
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
    let int8: Promise<Model> | undefined;
    const quantized = (): Promise<Model> => (int8 ??= quantizeModel(float, train, { threads }).then((r) => r.model));
    const versions: [string, () => Promise<Model>][] = [
      ['int8', quantized],
      // int8 QOperator: the int8 model with its convs as QLinearConv kernels (test helper; hardened in QDQ form)
      ['qoperator', async () => qoperatorFromQdq(await quantized())],
      ['float16', async () => convertModel(float, 'float16').model],
      ['float16-native', async () => convertModel(float, 'float16', { native: true }).model],
    ];
    // seeded random rankings of the float32 model (the same layers and units): timing depends on how many units are protected
    const scores = { channel: await rank(float, { method: 'random', unit: 'channel', seed: 1 }), weight: await rank(float, { method: 'random', unit: 'weight', seed: 1 }), neuron: await rank(float, { method: 'random', unit: 'neuron', seed: 1 }) };
    for (const [format, make] of versions.filter(([f]) => formats.includes(f))) {
      const model = await make();
      const intervals = await profileIntervals(model, profile, { threads, optimization: 'disabled' });
      const hardened: Model[] = [];
      for (const v of VARIANTS) hardened.push((await harden(model, { ...v.opts, scores: v.unit ? scores[v.unit] : undefined, intervals })).model);
      // QOperator: the QDQ form alone (what harden writes, before any protection)
      const variants = format === 'qoperator' ? [...VARIANTS.map((v) => v.name), 'QDQ form, no protection'] : VARIANTS.map((v) => v.name);
      if (format === 'qoperator') hardened.push(qdqForm(model));
      const times = await timeInferenceMany([model, ...hardened], test, { threads, batch: 256, repeats: runs });
      const integer = format === 'int8' || format === 'qoperator';
      const qconv = async (m: Model): Promise<number> => decodeModel(await optimizedModelBytes(m, { threads })).graph.nodes.filter((n) => n.opType === 'QLinearConv').length;
      const base = { bits: parameterBits(model), macs: countHardened(model).macs, ms: times[0].msPerPass, q: integer ? await qconv(model) : 0 };
      rows.push([name, format, 'none', '1.000', '1.000', base.ms.toFixed(1), '1.00', integer ? `${base.q}/${base.q}` : '']);
      for (let i = 0; i < variants.length; i++) {
        const m = hardened[i];
        rows.push([
          name, format, variants[i], (parameterBits(m) / base.bits).toFixed(3), (countHardened(m).macs / base.macs).toFixed(3),
          times[i + 1].msPerPass.toFixed(1), (times[i + 1].msPerPass / base.ms).toFixed(2), integer ? `${await qconv(m)}/${base.q}` : '',
        ]);
      }
    }
  }
  const how: Record<string, string> = { int8: 'int8 (QDQ, `quantize` minmax)', float16: 'float16 (`convert`)', 'float16-native': 'native float16 (`convert --native`)', qoperator: 'int8 QOperator (the int8 model\'s convs as QLinearConv; hardened in QDQ form)' };
  return `Hardened ${formats.map((f) => how[f] ?? f).join(', ')} models, ${test.count} MNIST test images, batch 256, ${threads} threads, median of ${runs} interleaved passes; ratios against the unhardened model of the same format in the same run (machine shared with other jobs):\n\n\`\`\`\n` +
    formatTable(['model', 'format', 'variant', 'param bits ×', 'MACs ×', 'ms/pass', 'time ×', 'QLinearConv kept'], rows) + '\n```';
}

export function formatsProtectionCommand(): string {
  return 'npm run bench -- formats-protection';
}

/**
 * What each method buys in the stored format: seeded campaigns (binomial flips in every stored
 * word of the format, copies and bounds included) on the int8 and float16 versions of LeNet-5,
 * unhardened and hardened, mean accuracy drop with its 95% interval.
 * Environment: FPROT_MODEL (lenet5), FPROT_TRIALS (10), FPROT_IMAGES (2000), FPROT_INT8_BER (1e-3), FPROT_F16_BER (1e-4).
 */
export async function benchFormatsProtection(): Promise<string> {
  const name = process.env.FPROT_MODEL ?? 'lenet5';
  const trials = Number(process.env.FPROT_TRIALS ?? 10);
  const images = Number(process.env.FPROT_IMAGES ?? 2000);
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const testAll = loadDataset({ data: 'mnist', split: 'test' });
  const test = subset(testAll, Array.from({ length: Math.min(images, testAll.count) }, (_, i) => i));
  const float = readModel(resolve(repoRoot, 'models', `${name}-mnist.onnx`));
  const weight = await rank(float, { method: 'magnitude' });
  const channel = await rank(float, { method: 'l1' });
  const rows: (string | number)[][] = [];
  for (const [format, ber] of [['int8', Number(process.env.FPROT_INT8_BER ?? 1e-3)], ['float16', Number(process.env.FPROT_F16_BER ?? 1e-4)]] as const) {
    const model = format === 'int8' ? (await quantizeModel(float, train, { threads: 2 })).model : convertModel(float, 'float16').model;
    const intervals = await profileIntervals(model, subset(train, Array.from({ length: 1000 }, (_, i) => i)), { optimization: 'disabled', threads: 2 });
    const top = format === 'int8' ? 7 : 14;
    const variants: [string, Model][] = [['none', model]];
    for (const [label, o] of [
      ['ranger', { method: 'ranger', intervals }],
      ['edac 15%', { method: 'edac', ratio: 0.15, scores: channel, intervals }],
      ['tmr-weights 15% (|w|)', { method: 'tmr-weights', ratio: 0.15, scores: weight }],
      [`tmr-bits ${top}, every weight`, { method: 'tmr-bits' }],
      [`tmr-bits ${top},${top - 1}, every weight`, { method: 'tmr-bits', bits: [top, top - 1] }],
    ] as [string, HardenOptions][]) variants.push([label, (await harden(model, o)).model]);
    for (const [label, m] of variants) {
      const r = await runCampaign({ model: m, data: test, bers: [ber], trials, seed: 15, threads: 2 });
      const b = r.bers[0];
      rows.push([name, format, String(ber), label, (parameterBits(m) / parameterBits(model)).toFixed(3), `${b.meanDrop.toFixed(2)} [${b.ci95[0].toFixed(2)}, ${b.ci95[1].toFixed(2)}]`]);
    }
  }
  return `Protection in the stored format: ${trials} seeded trials (seed 15) per row, ${test.count} MNIST test images, binomial flips in every stored bit of the format (copies, planes and bounds included); rankings: |w| (tmr-weights), L1 (edac) of the float32 model:\n\n\`\`\`\n` +
    formatTable(['model', 'format', 'BER', 'variant', 'param bits ×', 'drop pp [95% CI]'], rows) + '\n```';
}
