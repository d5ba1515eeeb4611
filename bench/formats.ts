/**
 * Campaign speed on int8 models (issue 15): trials/s of the float32 model and its int8 QDQ version
 * (quantized here, minmax calibration on 1,000 training images) in one process, with the exact
 * shortcuts on (the default) and off, and whether the two give bit-identical records. The prefix
 * shortcut cuts a QDQ model before an activation's QuantizeLinear → DequantizeLinear chain, so the
 * suffix session fuses into the same integer kernels as the full model (campaign/engine.ts).
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { quantizeModel } from '../src/formats/quantize.js';
import { runCampaign } from '../src/campaign/run.js';
import { TrialEngine } from '../src/campaign/engine.js';
import { listParameters } from '../src/faults/params.js';
import type { TrialRecord } from '../src/campaign/records.js';
import { formatTable } from '../src/cli/table.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BERS = [1e-5, 1e-4];
const TRIALS = 10;

export function formatsCommand(): string {
  return 'npm run bench -- formats';
}

export async function benchFormats(): Promise<string> {
  const threads = 1;
  const test = subset(loadDataset({ data: 'mnist', split: 'test' }), 2000);
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const rows: (string | number)[][] = [];
  for (const name of ['lenet5-mnist', 'vgg11-mnist']) {
    const float32 = readModel(resolve(repoRoot, 'models', `${name}.onnx`));
    const int8 = (await quantizeModel(float32, train, { threads })).model;
    const speeds: Record<string, number> = {};
    for (const [format, model] of [['float32', float32], ['int8', int8]] as const) {
      const engine = await TrialEngine.create(model, test, listParameters(model), { threads });
      await engine.verifyAllCuts();
      const cuts = engine.cutValues.join(', ') || '—';
      await engine.release();
      const strip = (rs: TrialRecord[]) => rs.map(({ millis: _, ...r }) => r);
      const timed = async (shortcuts: boolean) => {
        const t = performance.now();
        const r = await runCampaign({ model, data: test, bers: BERS, trials: TRIALS, seed: 1, threads, shortcuts });
        return { records: strip(r.records), perSecond: (BERS.length * TRIALS) / ((performance.now() - t) / 1000) };
      };
      const on = await timed(true);
      const off = await timed(false);
      speeds[format] = on.perSecond;
      const same = JSON.stringify(on.records) === JSON.stringify(off.records);
      rows.push([name, format, on.perSecond.toFixed(1), off.perSecond.toFixed(1), same ? 'yes' : 'NO', cuts]);
    }
    rows.push([name, 'int8 ÷ float32', `${(speeds.int8 / speeds.float32).toFixed(2)}×`, '', '', '']);
  }
  return `Campaign trials/s, float32 vs int8 (QDQ) in one process: BER ${BERS.join(', ')} × ${TRIALS} trials, 2,000 MNIST test images, seed 1, ${threads} thread; ` +
    'shortcuts on (default) and off; "identical" = the two runs\' records equal bit for bit. Machine shared with other helpers: ratios are within one run.\n\n```\n' +
    formatTable(['model', 'format', 'trials/s', 'no shortcuts', 'identical', 'prefix cuts kept (verified bit-exact)'], rows) + '\n```';
}
