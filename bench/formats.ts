/**
 * Campaign speed on int8 models (issue 15): trials/s of the float32 model and its int8 QDQ version
 * (quantized here, minmax calibration on 1,000 training images) in one process. Each format's
 * trial engine is built once (its set-up — golden pass, capture of the cut activations, the
 * bit-exact check of every cut — timed apart), then runs the same seeded campaign trials with the
 * exact shortcuts on (the default) and off; "identical" says the two gave the same outcome in every
 * trial. The prefix shortcut cuts a QDQ model before or at an activation's QuantizeLinear →
 * DequantizeLinear chain, so the suffix fuses into the same integer kernels (campaign/engine.ts).
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset, subset } from '../src/data/index.js';
import { quantizeModel } from '../src/formats/quantize.js';
import { TrialEngine, type TrialOutcome } from '../src/campaign/engine.js';
import { FaultPlanner } from '../src/faults/plan.js';
import { cleanParameters, injectFaults } from '../src/faults/inject.js';
import type { Model } from '../src/graph/types.js';
import type { ImageSet } from '../src/runtime/evaluate.js';
import { formatTable } from '../src/cli/table.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BERS = [1e-5, 1e-4];
const TRIALS = 20;

export function formatsCommand(): string {
  return 'npm run bench -- formats';
}

/** Set-up seconds, trials/s and outcomes of the seeded trials on one engine. */
async function timedTrials(model: Model, data: ImageSet, shortcuts: boolean, threads: number): Promise<{ setup: number; perSecond: number; outcomes: Omit<TrialOutcome, 'path' | 'cut'>[]; cuts: string[] }> {
  const planner = new FaultPlanner(model);
  let t = performance.now();
  const engine = await TrialEngine.create(model, data, planner.targets, { threads, shortcuts });
  await engine.verifyAllCuts();
  const setup = (performance.now() - t) / 1000;
  const clean = cleanParameters(model);
  const outcomes: Omit<TrialOutcome, 'path' | 'cut'>[] = [];
  const cuts = engine.cutValues;
  t = performance.now();
  try {
    for (const ber of BERS) {
      for (let trial = 0; trial < TRIALS; trial++) {
        const inj = injectFaults(clean, planner.plan(1, ber, trial).faults);
        const { correct, sdc, due } = await engine.evaluate(inj.tensors, inj.changed);
        outcomes.push({ correct, sdc, due });
      }
    }
  } finally {
    await engine.release();
  }
  return { setup, perSecond: outcomes.length / ((performance.now() - t) / 1000), outcomes, cuts };
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
      const on = await timedTrials(model, test, true, threads);
      const off = await timedTrials(model, test, false, threads);
      speeds[format] = on.perSecond;
      const same = JSON.stringify(on.outcomes) === JSON.stringify(off.outcomes);
      rows.push([name, format, on.perSecond.toFixed(2), on.setup.toFixed(1), off.perSecond.toFixed(2), same ? 'yes' : 'NO', on.cuts.join(', ') || '—']);
    }
    rows.push([name, 'int8 ÷ float32', `${(speeds.int8 / speeds.float32).toFixed(2)}×`, '', '', '', '']);
  }
  return `Campaign trials/s, float32 vs int8 (QDQ) in one process: the same seeded trials (seed 1, BER ${BERS.map((b) => b.toExponential(0)).join(' and ')} × ${TRIALS} trials, all stored words targeted), 2,000 MNIST test images, ${threads} thread; ` +
    'exact shortcuts on (default) and off, engine set-up (golden pass, capture and bit-exact check of the prefix cuts) timed apart; "identical" = every trial\'s correct/SDC/DUE counts equal with and without shortcuts. Machine shared with other helpers: compare ratios within one run.\n\n```\n' +
    formatTable(['model', 'format', 'trials/s', 'set-up s', 'trials/s, no shortcuts', 'identical', 'prefix cuts kept (each verified bit-exact)'], rows) + '\n```';
}
