import { refuseStoredFormats } from '../../formats/dequantize.js';
import { FlipguardError } from '../../errors.js';
import { loadModel } from '../../graph/load.js';
import { writeModel } from '../../graph/onnx.js';
import { validateTransformed } from '../../harden/validate.js';
import { checkRatio, readScores } from '../../analysis/scores.js';
import { rank, type RankMethod } from '../../analysis/index.js';
import { prune } from '../../prune/index.js';
import { Progress } from '../progress.js';
import { dataOptions, datasetFromOptions, threadsOption, checkOutputs, type Command } from '../command.js';
import { writeJson } from '../output.js';
import { formatTable, groupInt } from '../table.js';
import { DEFAULT_SAMPLE_SEED, DEFAULT_TRAIN_BATCH } from '../../defaults.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'remove the least vulnerable channels (paper A), fine-tune, optionally search the ratios',
  usage: 'MODEL --data mnist --rank vulnerability|l1 [--conv P] [--fc P] [--search] --out pruned.onnx',
  positionals: [1, 1],
  options: {
    ...dataOptions,
    rank: { kind: 'string', arg: 'vulnerability|l1|…', help: 'channel ranking (least important removed first)', choices: ['vulnerability', 'l1', 'lrp', 'taylor', 'random'], default: 'vulnerability' },
    scores: { kind: 'string', arg: 'FILE', help: 'use channel scores from "flipguard rank --json" instead of computing them' },
    images: { kind: 'int', arg: 'N', help: 'profiling images for the ranking', default: 128, min: 1 },
    conv: { kind: 'number', arg: 'P', help: 'fraction of output channels removed from every conv layer' },
    fc: { kind: 'number', arg: 'P', help: 'fraction of neurons removed from every hidden dense layer' },
    search: { kind: 'bool', help: 'search (p_conv, p_fc) for the smallest model within --threshold of the original accuracy' },
    threshold: { kind: 'number', arg: 'PP', help: 'accuracy loss allowed by --search, percentage points', default: 1 },
    epochs: { kind: 'int', arg: 'E', help: 'fine-tuning epochs (SGD, paper A)', default: 10, min: 0 },
    lr: { kind: 'number', arg: 'LR', help: 'fine-tuning learning rate', default: 0.001 },
    momentum: { kind: 'number', arg: 'M', help: 'fine-tuning SGD momentum', default: 0.9 },
    batch: { kind: 'int', arg: 'B', help: 'fine-tuning batch size', default: DEFAULT_TRAIN_BATCH, min: 1 },
    seed: { kind: 'int', arg: 'S', help: 'seed for ranking samples and shuffling', default: DEFAULT_SAMPLE_SEED },
    threads: threadsOption,
    out: { kind: 'string', arg: 'FILE', help: 'where to write the pruned ONNX model' },
    json: { kind: 'string', arg: 'FILE', help: 'write the report (ratios, accuracy, parameters, MACs, time, explored points) as JSON' },
  },
  async run({ positionals, values: v }) {
    if (!v.out) throw new FlipguardError('flipguard prune needs --out FILE for the pruned model.');
    if (!v.search && (v.conv === undefined && v.fc === undefined)) throw new FlipguardError('flipguard prune needs --conv P and/or --fc P (fractions to remove), or --search.');
    for (const k of ['conv', 'fc'] as const) if (v[k] !== undefined) checkRatio(v[k], k);
    const outputs = checkOutputs(v, ['out', 'json'], [positionals[0], v.scores as string | undefined]);
    const model = loadModel(positionals[0]);
    refuseStoredFormats(model, 'prune'); // before ranking
    const train = datasetFromOptions(v, model, 'train');
    const test = datasetFromOptions({ ...v, limit: undefined }, model, 'test');
    const scores = v.scores ? readScores(v.scores as string) : await rank(model, { method: v.rank as RankMethod, data: train, images: v.images as number, seed: v.seed as number, unit: 'channel', threads: v.threads as number | undefined });
    let bar: Progress | undefined;
    const { model: pruned, report } = await prune(model, {
      scores, rank: scores.method, data: train, evalData: test,
      conv: (v.conv as number | undefined) ?? 0, fc: (v.fc as number | undefined) ?? 0,
      search: v.search ? { threshold: v.threshold as number } : undefined,
      epochs: v.epochs as number,
      fineTune: {
        lr: v.lr as number, momentum: v.momentum as number, batch: v.batch as number, seed: v.seed as number, threads: v.threads as number | undefined,
        onProgress: (p) => {
          if (p.epochDone) { bar?.done(); bar = undefined; return; }
          bar ??= new Progress(`fine-tune ${p.epoch}/${p.epochs}`, p.perEpoch, { quiet: Boolean(v.quiet) });
          bar.update(p.seen, `loss ${p.loss.toFixed(4)}`);
        },
      },
      runtime: { threads: v.threads as number | undefined },
      onSearchProgress: (p) => { if (!v.quiet) process.stderr.write(`search: ${describeSearch(p)}\n`); },
    });
    // a pruned model is written only if it infers shapes, runs in onnxruntime and gives logits of the original's shape
    const per = train.shape.reduce((a, b) => a * b, 1), n = Math.min(4, train.count);
    await validateTransformed(model, pruned, { images: { x: train.x.subarray(0, n * per), shape: train.shape, count: n }, fidelity: 'runs', what: 'pruned', runtime: { threads: v.threads as number | undefined } });
    writeModel(v.out as string, pruned, outputs);
    if (report.search) {
      process.stdout.write(formatTable(['p_conv', 'p_fc', 'accuracy', 'parameters', 'MACs', 'point ms', 'status'], report.search.rows.map((r) => [r.conv, r.fc, r.accuracy === null ? '-' : `${(r.accuracy * 100).toFixed(2)}%`, groupInt(r.parameters), groupInt(r.macs), r.timeMs === null ? '-' : r.timeMs.toFixed(0), r.status])) + '\n\n');
    }
    const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
    process.stdout.write(formatTable(['', 'before', 'after', 'ratio'], [
      ['accuracy', pct(report.accuracy.before), pct(report.accuracy.after), ''],
      ['parameters', groupInt(report.parameters.before), groupInt(report.parameters.after), report.parameters.ratio.toFixed(3)],
      ['MACs/image', groupInt(report.macs.before), groupInt(report.macs.after), report.macs.ratio.toFixed(3)],
      ...(report.timeMs ? [['ms/test pass', report.timeMs.before.toFixed(1), report.timeMs.after.toFixed(1), report.timeMs.ratio.toFixed(3)]] : []),
    ]) + `\n\npruned with ${report.rank} ranking at p_conv ${report.ratios.conv}, p_fc ${report.ratios.fc} → ${v.out}\n`);
    if (v.json) writeJson(v.json as string, report, outputs);
  },
};

function describeSearch(p: unknown): string {
  const o = p as Record<string, unknown>;
  const parts: string[] = [];
  for (const [k, val] of Object.entries(o)) if (typeof val === 'number' || typeof val === 'string' || typeof val === 'boolean') parts.push(`${k} ${typeof val === 'number' && !Number.isInteger(val) ? val.toFixed(4) : val}`);
  return parts.join(', ');
}
