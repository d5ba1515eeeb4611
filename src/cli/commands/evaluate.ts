import { loadModel } from '../../graph/load.js';
import { evaluate } from '../../runtime/evaluate.js';
import type { ExecutionProvider } from '../../runtime/session.js';
import { Progress } from '../progress.js';
import { checkOutputs, dataOptions, datasetFromOptions, runtimeOptions, type Command } from '../command.js';
import { writeJson } from '../output.js';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'top-1 accuracy and throughput of a model on a dataset',
  usage: 'MODEL [--data mnist|cifar10|cifar100|idx] [--data-dir DIR] [--split test|train] [--limit N] [--json FILE]',
  positionals: [1, 1],
  options: { ...dataOptions, ...runtimeOptions, json: { kind: 'string', arg: 'FILE', help: 'also write {accuracy, correct, total, imagesPerSecond} as JSON' } },
  async run({ positionals, values: v }) {
    const out = checkOutputs(v, ['json'], [positionals[0]]);
    const model = loadModel(positionals[0]);
    const data = datasetFromOptions(v, model);
    const bar = new Progress('evaluate', data.count, { quiet: Boolean(v.quiet) });
    const r = await evaluate(model, data, { batch: v.batch as number, threads: v.threads as number | undefined, executionProvider: v.provider as ExecutionProvider, onProgress: (d) => bar.update(d) });
    bar.done();
    process.stdout.write(`accuracy ${(r.accuracy * 100).toFixed(2)}% (${r.correct}/${r.total}) on ${data.name}, ${r.imagesPerSecond.toFixed(1)} images/s\n`);
    if (v.json) writeJson(v.json as string, { accuracy: r.accuracy, correct: r.correct, total: r.total, imagesPerSecond: Number(r.imagesPerSecond.toFixed(1)) }, out);
  },
};
