/**
 * The papers at their own conventions (issue 17): paper B's selective weight TMR on the AlexNet-style
 * model (LRP, per-layer ratio, floor count, BER 1e-5 and paper B's 1e-4) and paper C's neuron TMR on
 * the ResNet-20-style model (class-oriented criticality, global top as SPEC §4.4, binomial count, BER 1e-5 and 1e-4, up to 30 trials), each
 * against tmr-bits and ranger at equal memory (src/workflows/paper-conventions.ts). Each paper's rows
 * go into bench/paper-conventions.json (the other paper's rows kept, claims recomputed); the report
 * reads it: `flipguard report bench/paper-conventions.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel } from '../src/graph/onnx.js';
import { loadDataset } from '../src/data/index.js';
import { formatTable } from '../src/cli/table.js';
import { writeFileSafe } from '../src/util/fs-safe.js';
import { formatPaperConventions, paperClaims, paperConventions, readPaperConventions, type PaperSetting } from '../src/workflows/paper-conventions.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PAPER_CONVENTIONS_JSON = resolve(repoRoot, 'bench', 'paper-conventions.json');

export function paperConventionsCommand(papers: string): () => string {
  return () => `npm run bench -- paper-conventions${papers === 'BC' ? '' : `-${papers.toLowerCase()}`}`;
}

const model = (name: string) => readModel(resolve(repoRoot, 'models', `${name}.onnx`));

function setting(paper: 'B' | 'C'): PaperSetting {
  return paper === 'B'
    ? { paper: 'B', name: 'alexnet-mnist', model: model('alexnet-mnist'), bers: [1e-5, 1e-4], count: 'floor', perLayer: true }
    : { paper: 'C', name: 'resnet20-mnist', model: model('resnet20-mnist'), bers: [1e-5, 1e-4], count: 'binomial', perLayer: false, maxTrials: 30 };
}

/** Runs the settings of `papers` ('B', 'C' or 'BC'). */
export async function benchPaperConventions(papers: string): Promise<string> {
  const train = loadDataset({ data: 'mnist', split: 'train' });
  const test = loadDataset({ data: 'mnist', split: 'test' });
  const t0 = performance.now();
  const p = await paperConventions({
    settings: [...papers].map((x) => setting(x as 'B' | 'C')),
    train, test, minTrials: 10, maxTrials: 20, threads: 2,
    onProgress: (m) => console.error(`${((performance.now() - t0) / 60000).toFixed(1)} min: ${m}`),
  });
  const minutes = (performance.now() - t0) / 60000;
  // keep the other paper's rows from an earlier run
  const earlier = existsSync(PAPER_CONVENTIONS_JSON) ? readPaperConventions(JSON.parse(readFileSync(PAPER_CONVENTIONS_JSON, 'utf8'))) : undefined;
  const rows = [...(earlier?.rows.filter((r) => !papers.includes(r.paper)) ?? []), ...p.rows].sort((a, b) => a.paper.localeCompare(b.paper));
  writeFileSafe(PAPER_CONVENTIONS_JSON, JSON.stringify({ ...p, maxTrials: Math.max(p.maxTrials, earlier?.maxTrials ?? 0), rows, claims: paperClaims(rows) }, null, 1) + '\n', { force: true });
  return `${formatPaperConventions(p, formatTable)}\n\nRun ${minutes.toFixed(0)} min on the loaded 2-core machine (other helpers' tests running). JSON: bench/paper-conventions.json.`;
}
