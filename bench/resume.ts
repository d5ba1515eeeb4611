/**
 * What validating a record file costs on resume against what its trials cost to run: every record
 * is parsed, checked against the header and its plan regenerated from the seed and digested
 * (`readCampaignFile` + `verifyPlans`), which must stay small next to the inference it saves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCampaignFile, runCampaign, verifyPlans } from '../src/campaign/index.js';
import { loadDataset, normalizationFromMetadata } from '../src/data/index.js';
import { FaultPlanner } from '../src/faults/index.js';
import { loadModel } from '../src/graph/load.js';
import { formatTable } from '../src/cli/table.js';

const models = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

export async function benchResume(opts: { trials?: number; images?: number; names?: string[] } = {}): Promise<string> {
  const trials = opts.trials ?? 5;
  const images = opts.images ?? 1000;
  const bers = [1e-5, 1e-4];
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-bench-resume-'));
  const rows: (string | number)[][] = [];
  try {
    for (const name of opts.names ?? ['lenet5', 'vgg11', 'alexnet']) {
      const model = loadModel(join(models, `${name}-mnist.onnx`));
      const data = loadDataset({ data: 'mnist', limit: images, ...normalizationFromMetadata(model.metadata) });
      const out = join(dir, `${name}.jsonl`);
      const r = await runCampaign({ model, data, bers, trials, seed: 1, out });
      const trialMs = r.records.reduce((s, x) => s + x.millis, 0) / r.records.length;
      const t0 = performance.now();
      const planner = new FaultPlanner(model); // hashes the parameters once per resume
      const t1 = performance.now();
      const file = readCampaignFile(out);
      verifyPlans(file, out, planner);
      const t2 = performance.now();
      const checkMs = (t2 - t1) / file.records.length;
      const faults = file.records.reduce((s, x) => s + x.faults, 0) / file.records.length;
      rows.push([name, faults.toFixed(0), trialMs.toFixed(1), checkMs.toFixed(2), (t1 - t0).toFixed(0), `${((checkMs / trialMs) * 100).toFixed(1)}%`]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return `Resume check per record (parse, header checks, plan regenerated and digested) vs one trial (${images} MNIST test images, BER ${bers.join(' and ')}, ${trials} trials each, means):\n\n\`\`\`\n${formatTable(['model', 'faults/trial', 'trial ms', 'check ms/record', 'planner setup ms (once)', 'check / trial'], rows)}\n\`\`\``;
}
