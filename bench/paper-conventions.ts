/**
 * The papers at their own conventions (issue 17): paper B's selective weight TMR on the AlexNet-style
 * model (LRP, per-layer ratio, floor count, BER 1e-5 and paper B's 1e-4) and paper C's neuron TMR on
 * the ResNet-20-style model (class-oriented criticality, binomial count, BER 1e-5 and 1e-4), each
 * against tmr-bits and ranger at equal memory (src/workflows/paper-conventions.ts). Writes
 * bench/paper-conventions.json (the report reads it: `flipguard report bench/paper-conventions.json`).
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset } from '../src/data/index.js';
import { formatTable } from '../src/cli/table.js';
import { writeFileSafe } from '../src/util/fs-safe.js';
import { formatPaperConventions, paperConventions } from '../src/workflows/paper-conventions.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PAPER_CONVENTIONS_JSON = resolve(repoRoot, 'bench', 'paper-conventions.json');

export function paperConventionsCommand(): string {
  return 'npm run bench -- paper-conventions';
}

export async function benchPaperConventions(): Promise<string> {
  const model = (name: string) => readModel(resolve(repoRoot, 'models', `${name}.onnx`));
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const test = loadDataset({ data: 'mnist', split: 'test' });
  const t0 = performance.now();
  const p = await paperConventions({
    b: { paper: 'B', name: 'alexnet-mnist', model: model('alexnet-mnist'), bers: [1e-5, 1e-4], count: 'floor' },
    c: { paper: 'C', name: 'resnet20-mnist', model: model('resnet20-mnist'), bers: [1e-5, 1e-4], count: 'binomial' },
    train, test, minTrials: 10, maxTrials: 40, threads: 2,
    onProgress: (m) => console.error(`${((performance.now() - t0) / 60000).toFixed(1)} min: ${m}`),
  });
  writeFileSafe(PAPER_CONVENTIONS_JSON, JSON.stringify(p, null, 1) + '\n', { force: true });
  const minutes = (performance.now() - t0) / 60000;
  return `${formatPaperConventions(p, formatTable)}\n\nWhole run ${minutes.toFixed(0)} min on the loaded 2-core machine (other helpers' tests running). JSON: bench/paper-conventions.json.`;
}
