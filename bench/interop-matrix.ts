/**
 * Issue 13's closing table: every CLI command on every torchvision export of shared/interop, with
 * small settings, as a user runs it (`node dist/src/cli/main.js …`, one process per cell), on a
 * CIFAR-10 binary set made of the fixture's 4 images. Each cell: ✓ and the wall time the command
 * took (process start and model load included), or ✗ with the exit code (the first line of its
 * error is listed under the table).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RANK_METHODS } from '../src/analysis/index.js';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/graph/load.js';
import { evaluate } from '../src/runtime/evaluate.js';
import { HARDEN_METHODS } from '../src/harden/index.js';
import { formatTable } from '../src/cli/table.js';
import { cifar10Dir } from '../test/helpers/cifar.js';
import { interopModels } from './train-interop.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
export const MATRIX_FIXTURES = ['efficientnet_b0', 'googlenet', 'mnasnet0_5', 'mobilenet_v3_small', 'shufflenet_v2_x0_5', 'squeezenet1_0'];

const HARDEN_RATIO: Record<string, string> = { edac: '0.1', 'edac-nointervals': '0.1', ranger: '0', 'tmr-channels': '0.1', 'tmr-weights': '0.001', 'tmr-neurons': '0.01' };

/** The commands of the matrix: column label → arguments after the model (MODEL, DATA, OUT substituted). */
function commands(): [string, string[]][] {
  const data = ['--data', 'cifar10', '--data-dir', 'DATA', '--limit', '4'];
  const quiet = ['--quiet', '--threads', '2', '--force'];
  return [
    ['info', ['info', 'MODEL']],
    ['evaluate', ['evaluate', 'MODEL', ...data, ...quiet]],
    ['inject', ['inject', 'MODEL', ...data, '--ber', '1e-7', '--trials', '2', ...quiet]],
    ...RANK_METHODS.map((m): [string, string[]] => [`rank ${m}`, ['rank', 'MODEL', ...data, '--method', m, '--images', '10', ...quiet]]),
    ...HARDEN_METHODS.map((m): [string, string[]] => [`harden ${m}`, ['harden', 'MODEL', ...data, '--method', m, '--ratio', HARDEN_RATIO[m], '--images', '10', '--out', 'OUT', ...quiet]]),
    ['prune', ['prune', 'MODEL', ...data, '--rank', 'l1', '--conv', '0.25', '--epochs', '1', '--lr', '1e-9', '--batch', '4', '--out', 'OUT', ...quiet]],
    ['train --from', ['train', '--from', 'MODEL', ...data, '--epochs', '1', '--optimizer', 'adam', '--lr', '1e-4', '--batch', '4', '--out', 'OUT', ...quiet]],
  ];
}

export function interopMatrixCommand(): string {
  return 'npm run bench -- interop-matrix';
}

export async function benchInteropMatrix(names = MATRIX_FIXTURES): Promise<string> {
  const models = interopModels();
  const cmds = commands();
  const rows: string[][] = [];
  const failures: string[] = [];
  let green = 0;
  for (const name of names) {
    const model = join(models, `${name}.onnx`);
    const images = new Float32Array(readFileSync(join(models, `${name}.input.bin`)).buffer.slice(0));
    // labelled with the model's own top-1 on the stored (byte) images, so that every image is
    // "correct" (LRP and neuron rankings need correctly classified reference images)
    const data = cifar10Dir(images, [0, 0, 0, 0]);
    const stored = loadDataset({ data: 'cifar10', dataDir: data, split: 'test' });
    cifar10Dir(images, (await evaluate(loadModel(model), stored)).predictions.top1, data);
    const row = [name];
    for (const [label, args] of cmds) {
      const argv = args.map((a) => (a === 'MODEL' ? model : a === 'DATA' ? data : a === 'OUT' ? join(data, 'out.onnx') : a));
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const s = (performance.now() - t0) / 1000;
      if (r.status === 0) { green++; row.push(`✓ ${s.toFixed(1)}`); } else {
        row.push(`✗ ${r.status}`);
        failures.push(`${name} × ${label}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      }
      process.stderr.write(`  ${name} ${label}: ${r.status === 0 ? 'ok' : 'FAILED'} ${s.toFixed(1)} s\n`);
    }
    rows.push(row);
  }
  // one table per half of the commands keeps the lines readable
  const half = Math.ceil(cmds.length / 2);
  const table = (from: number, to: number) => formatTable(['model', ...cmds.slice(from, to).map(([l]) => l)], rows.map((r) => [r[0], ...r.slice(1 + from, 1 + to)]));
  return `Every command on every interop fixture (seconds of wall time per command, one process each, model load included; CIFAR-10 binary set of the fixture's 4 images, --limit 4, --threads 2; --images 10 (rankings use what there is: LRP and neuron reference sets take 1 correctly classified image per class); inject 1 BER × 2 trials; harden ratios ${Object.entries(HARDEN_RATIO).map(([k, v]) => `${k} ${v}`).join(', ')}; prune l1 --conv 0.25 with 1 fine-tuning step; train --from 1 Adam step). ${green} of ${names.length * cmds.length} green:\n\n\`\`\`\n${table(0, half)}\n\n${table(half, cmds.length)}\n\`\`\`${failures.length ? `\n\nFailures:\n${failures.map((f) => `- ${f}`).join('\n')}` : ''}`;
}
