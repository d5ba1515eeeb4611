import { visible } from '../../util/text.js';
import { runDemo, demoSettings } from '../../workflows/demo.js';
import { writeReport } from '../../report/write.js';
import { Progress } from '../progress.js';
import { threadsOption, type Command } from '../command.js';
import { bold, plural } from '../output.js';
import { sweepTable } from './harden.js';
import { DEFAULT_SEED } from '../../defaults.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the whole story on the bundled model: assess → explain → harden → compare, as a report',
  usage: '[--quick] [--model MODEL] [--out DIR]',
  positionals: [0, 0],
  options: {
    quick: { kind: 'bool', help: 'fewer BERs, trials and images (a few minutes); the report states the settings' },
    model: { kind: 'string', arg: 'MODEL', help: 'an MNIST model to use instead of the bundled models/vgg11-mnist.onnx' },
    out: { kind: 'string', arg: 'DIR', help: 'report folder', default: 'flipguard-report' },
    seed: { kind: 'int', arg: 'S', help: 'seed for rankings and campaigns', default: DEFAULT_SEED },
    threads: threadsOption,
  },
  async run({ values: v }) {
    const quiet = Boolean(v.quiet);
    const s = demoSettings(Boolean(v.quick));
    let bar: Progress | undefined;
    const log = (msg: string) => { if (!quiet) process.stderr.write(msg); };
    const r = await runDemo({
      quick: Boolean(v.quick), model: v.model as string | undefined, outDir: v.out as string, force: Boolean(v.force), seed: v.seed as number,
      threads: v.threads as number | undefined, command: `flipguard ${process.argv.slice(2).join(' ')}`,
      onStage: (stage, i, n) => { bar?.done(); bar = undefined; log(`[${i + 1}/${n}] ${stage}\n`); },
      onGroundTruth: (done, total) => { bar ??= new Progress('  ground truth', total, { quiet }); bar.update(done); },
      onProgress: (p) => {
        if (!bar || p.done === 1) { bar?.done(); bar = new Progress('  campaign', p.total, { quiet }); }
        bar.update(p.done, `BER ${p.ber.toExponential(0)}`);
      },
    });
    bar?.done();
    process.stdout.write(`${bold('golden')} accuracy ${(r.golden.accuracy * 100).toFixed(2)}% (${r.golden.imagesPerSecond.toFixed(0)} images/s)\n`);
    process.stdout.write(`${bold('accuracy drop')} (percentage points, mean ± 95% CI half-width; ${plural(s.trials, 'trial')} per BER) and overheads:\n\n${sweepTable(r.rows)}\n\n`);
    process.stdout.write(`report: ${r.html}\n`);
  },
};

export const reportCommand: Command = {
  name: 'report',
  summary: 'turn campaign / harden / rank / prune outputs into the HTML + JSON + CSV report',
  usage: 'RUN... [--out DIR] [--title TEXT]',
  positionals: [1, 1000],
  options: {
    out: { kind: 'string', arg: 'DIR', help: 'report folder', default: 'flipguard-report' },
    title: { kind: 'string', arg: 'TEXT', help: 'report title' },
  },
  async run({ positionals, values: v }) {
    const r = writeReport({ inputs: positionals, outDir: v.out as string, force: Boolean(v.force), title: v.title as string | undefined, provenance: { commands: [`flipguard ${process.argv.slice(2).join(' ')}`] } });
    for (const w of r.chartWarnings) process.stderr.write(`warning: ${visible(w)}\n`);
    process.stdout.write(`report: ${r.html}\n${[r.json, ...r.csv].join('\n')}\n`);
  },
};
