/**
 * Protection of the range-restriction constructions of issue 14 on vgg11-mnist: a campaign at paper
 * A's BER grid (SPEC §2) for the unprotected model, the old construction (paper placement, zeroing)
 * and every new one (behind batch norm, behind batch norm + ReLU, saturating, per-layer bounds,
 * batch norm folded first). Intervals are profiled once, on the whole training split (paper A).
 *
 * Channel methods (edac, tmr-channels, with and without side-by-side channels, at the conv output
 * or behind the widened batch norm (+ ReLU)) rank by L1 norm;
 * tmr-neurons (old whole-channel and new protected-neuron replicas) by seeded random neuron scores.
 *
 * Environment: PROTECTION_TRIALS (10), PROTECTION_IMAGES (1000 test images), PROTECTION_THREADS (2),
 * PROTECTION_ONLY (a regular expression: only the constructions whose name matches).
 * Note: every variant is its own model, so its fault plans differ (a plan depends on the model's
 * fingerprint); constructions that are exactly equivalent agree within the campaign's confidence
 * intervals, not trial by trial.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import type { Model } from '../src/graph/types.js';
import { loadDataset, subset } from '../src/data/index.js';
import { harden, profileIntervals, type HardenOptions } from '../src/harden/index.js';
import { runCampaign } from '../src/campaign/run.js';
import { l1Scores } from '../src/analysis/scores.js';
import { rank } from '../src/analysis/index.js';
import { formatTable } from '../src/cli/table.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Paper A's BER grid (SPEC §2). */
export const PAPER_A_BERS = [1e-8, 5e-8, 1e-7, 5e-7, 1e-6, 5e-6, 1e-5, 5e-5, 1e-4];

const VARIANTS: { name: string; opts?: Omit<HardenOptions, 'intervals' | 'scores'> }[] = [
  { name: 'unprotected' },
  { name: 'ranger zero, paper (old)', opts: { method: 'ranger', placement: 'paper' } },
  { name: 'ranger zero, after-bn', opts: { method: 'ranger', placement: 'after-bn' } },
  { name: 'ranger zero, after-act', opts: { method: 'ranger', placement: 'after-act' } },
  { name: 'ranger zero, after-bn, fused check', opts: { method: 'ranger', placement: 'after-bn', rangeCheck: 'fused' } },
  { name: 'ranger zero, after-act, fused check', opts: { method: 'ranger', placement: 'after-act', rangeCheck: 'fused' } },
  { name: 'ranger saturate, paper', opts: { method: 'ranger', placement: 'paper', rangeMode: 'saturate' } },
  { name: 'ranger saturate, after-act', opts: { method: 'ranger', placement: 'after-act', rangeMode: 'saturate' } },
  { name: 'ranger saturate, after-act, per-layer', opts: { method: 'ranger', placement: 'after-act', rangeMode: 'saturate', rangeBounds: 'layer' } },
  { name: 'ranger zero, paper, --fold-bn', opts: { method: 'ranger', placement: 'paper', foldBn: true } },
  { name: 'edac 15%', opts: { method: 'edac', ratio: 0.15 } },
  { name: 'edac 15%, side by side', opts: { method: 'edac', ratio: 0.15, sideBySide: true } },
  { name: 'edac 15%, after-bn', opts: { method: 'edac', ratio: 0.15, placement: 'after-bn' } },
  { name: 'edac 15%, after-act', opts: { method: 'edac', ratio: 0.15, placement: 'after-act' } },
  { name: 'tmr-channels 15%', opts: { method: 'tmr-channels', ratio: 0.15 } },
  { name: 'tmr-channels 15%, after-act', opts: { method: 'tmr-channels', ratio: 0.15, placement: 'after-act' } },
  { name: 'tmr-channels 15%, side by side', opts: { method: 'tmr-channels', ratio: 0.15, sideBySide: true } },
  { name: 'tmr-neurons 15%, whole channels (old)', opts: { method: 'tmr-neurons', ratio: 0.15, neuronReplicas: 'channels' } },
  { name: 'tmr-neurons 15%, protected positions only', opts: { method: 'tmr-neurons', ratio: 0.15, neuronReplicas: 'positions' } },
  { name: 'tmr-neurons 15% (auto, default)', opts: { method: 'tmr-neurons', ratio: 0.15 } },
];

export function protectionCommand(): string {
  const env = ['PROTECTION_TRIALS', 'PROTECTION_IMAGES', 'PROTECTION_THREADS', 'PROTECTION_ONLY'].filter((k) => process.env[k]).map((k) => `${k}=${JSON.stringify(process.env[k])}`);
  return [...env, 'npm run bench -- protection'].join(' ');
}

export async function benchProtection(): Promise<string> {
  const trials = Number(process.env.PROTECTION_TRIALS ?? 10);
  const images = Number(process.env.PROTECTION_IMAGES ?? 1000);
  const threads = Number(process.env.PROTECTION_THREADS ?? 2);
  const model = readModel(resolve(repoRoot, 'models', 'vgg11-mnist.onnx'));
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const test = subset(loadDataset({ data: 'mnist', split: 'test' }), images);
  const intervals = await profileIntervals(model, train, { threads });
  const rows: (string | number)[][] = [];
  const dueRows: (string | number)[][] = [];
  const only = process.env.PROTECTION_ONLY ? new RegExp(process.env.PROTECTION_ONLY) : undefined;
  const scores = l1Scores(model);
  // tmr-neurons ranks neurons: seeded random (as bench/overhead.ts; the constructions are compared on the same neurons)
  const neuronScores = await rank(model, { method: 'random', unit: 'neuron', seed: 1 });
  for (const v of VARIANTS) {
    if (only && !only.test(v.name)) continue;
    console.error(`protection: ${v.name}`);
    let m: Model = model;
    // with foldBn, harden carries the given intervals through each folded batch norm
    if (v.opts) m = (await harden(model, { ...v.opts, intervals, scores: v.opts.method === 'ranger' ? undefined : v.opts.method === 'tmr-neurons' ? neuronScores : scores })).model;
    const c = await runCampaign({ model: m, data: test, bers: PAPER_A_BERS, trials, seed: 1, threads });
    rows.push([v.name, `${(c.golden.accuracy * 100).toFixed(2)}%`, ...c.bers.map((b) => b.meanDrop.toFixed(2))]);
    dueRows.push([v.name, ...c.bers.map((b) => (b.meanDue * 100).toFixed(2))]);
  }
  return `Accuracy drop (percentage points, mean over ${trials} trials per BER; binomial fault count, every stored float32 bit a target, bounds and fill values included) on the first ${images} MNIST test images, vgg11-mnist; intervals profiled on the 60,000 training images:\n\n\`\`\`\n${formatTable(['construction', 'clean acc', ...PAPER_A_BERS.map((b) => b.toExponential(0))], rows)}\n\`\`\`\n\nDUE rate (% of images whose logits are not all finite, mean over the trials):\n\n\`\`\`\n${formatTable(['construction', ...PAPER_A_BERS.map((b) => b.toExponential(0))], dueRows)}\n\`\`\``;
}
