/**
 * Campaign speed on the shipped MNIST models: trials/s of the plain path against the target
 * (90% of evaluate images/s ÷ images per trial), and the speed-up of each exact shortcut per BER.
 */
import { benchCampaign } from '../src/workflows/bench-campaign.js';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/graph/load.js';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const models = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

export async function benchCampaigns(opts: { trials?: number; names?: string[] } = {}): Promise<string> {
  const data = loadDataset({ data: 'mnist', split: 'test' });
  const parts: string[] = [];
  for (const name of opts.names ?? ['lenet5', 'vgg11', 'resnet20']) {
    const model = loadModel(join(models, `${name}-mnist.onnx`));
    const r = await benchCampaign({ model, data, trials: opts.trials ?? 10 });
    const evalTrialsPerSecond = r.imagesPerSecond / r.images;
    const plain = r.rows.filter((x) => x.setting === 'none');
    const ratio = plain.map((x) => `${x.ber}: ${((x.trialsPerSecond / evalTrialsPerSecond) * 100).toFixed(0)}%`).join(', ');
    parts.push(`### ${name}-mnist.onnx (${r.images} test images per trial)\n\nEvaluate-bound rate: ${evalTrialsPerSecond.toFixed(2)} trials/s. Plain path (no shortcut) as a share of it, per BER (target ≥ 90%): ${ratio}.\n\n${r.table}`);
  }
  return parts.join('\n\n');
}
