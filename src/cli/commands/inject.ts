import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ioErrorMessage } from '../../util/fs-safe.js';
import { terminalJson } from '../../util/text.js';
import { FlipguardError } from '../../errors.js';
import { loadModel } from '../../graph/load.js';
import { runCampaign, mergeRuns, evaluateFaultList, partialNote, summaryJson, type CampaignSummary } from '../../campaign/index.js';
import { planFaults, readFaultList, type TargetFilter } from '../../faults/index.js';
import type { CountMode, FaultKind } from '../../faults/plan.js';
import { Progress } from '../progress.js';
import { dataOptions, datasetFromOptions, threadsOption, checkOutputs, type Command } from '../command.js';
import { writeJson, bold, plural } from '../output.js';
import { formatInterval, formatTable } from '../table.js';
import { shardFromEnvironment } from '../../campaign/shard-env.js';
import { queueFromOptions, queueOptions } from './worker.js';
import { DEFAULT_BATCH, DEFAULT_SEED } from '../../defaults.js';
import { compareFormats, formatsJson, type FormatRow, type ModelFormat } from '../../workflows/formats.js';

const OP_ALIASES: Record<string, string> = {
  conv: 'Conv', convtranspose: 'ConvTranspose', gemm: 'Gemm', matmul: 'MatMul', dense: 'Gemm',
  batchnorm: 'BatchNormalization', bn: 'BatchNormalization', batchnormalization: 'BatchNormalization',
};

/** --targets conv,gemm,batchnorm → op types; other words are taken as exact op types. */
export function targetOps(list: string[] | undefined): string[] | undefined {
  return list?.map((t) => OP_ALIASES[t.toLowerCase()] ?? t);
}

/** Parses --shard i/n, or --shard auto (from the array-job environment; --shards N where it lacks the count). */
export function parseShard(s: string | undefined, shards?: number): { index: number; count: number } | undefined {
  if (s === undefined) {
    if (shards !== undefined) throw new FlipguardError('--shards N only applies with --shard auto; add --shard auto or drop --shards.');
    return undefined;
  }
  if (s.trim() === 'auto') {
    const d = shardFromEnvironment(process.env, { shards });
    return { index: d.index, count: d.count };
  }
  if (shards !== undefined) throw new FlipguardError('--shards N only applies with --shard auto; with --shard i/n the count is n.');
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new FlipguardError(`--shard must look like i/n (e.g. 0/4) or be auto, got "${s}".`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function summaryTable(s: CampaignSummary): string {
  return formatTable(
    ['BER', 'trials', 'mean faults', 'drop (pp)', '± std', '95% CI (pp)', 'SDC', 'DUE', 'trials/s'],
    s.bers.map((b) => [b.ber.toExponential(0), b.trials, b.meanFaults.toFixed(1), b.meanDrop.toFixed(2), b.stdDrop.toFixed(2), formatInterval(b.ci95), `${(b.meanSdc * 100).toFixed(2)}%`, `${(b.meanDue * 100).toFixed(2)}%`, b.trialsPerSecond.toFixed(1)]),
  );
}

/** The per-format comparison: golden accuracy, stored bits, drop per BER and trials/s of each format. */
export function formatsTable(rows: FormatRow[]): string {
  const bers = rows[0]?.campaign.bers.map((b) => b.ber) ?? [];
  const rate = (r: FormatRow): number => {
    const t = r.campaign.bers.reduce((s, b) => s + b.trials, 0);
    const secs = r.campaign.bers.reduce((s, b) => s + (b.trialsPerSecond > 0 ? b.trials / b.trialsPerSecond : 0), 0);
    return secs > 0 ? t / secs : 0;
  };
  return formatTable(
    ['format', 'golden', 'stored bits', ...bers.map((b) => `drop @${b.toExponential(0)}`), 'trials/s'],
    rows.map((r) => [
      r.format, `${(r.campaign.golden.accuracy * 100).toFixed(2)}%`, r.bits.toLocaleString('en-US'),
      ...r.campaign.bers.map((b) => `${b.meanDrop.toFixed(2)} ${formatInterval(b.ci95)}`), rate(r).toFixed(1),
    ]),
  );
}

export const injectCommand: Command = {
  name: 'inject',
  summary: 'fault-injection campaign: bit flips at bit error rates, many seeded trials',
  usage: 'MODEL --ber 1e-7,1e-6,1e-5 --trials 100 [--out run.jsonl] [--json summary.json] [--formats float32,float16,bfloat16,int8]',
  positionals: [1, 1],
  options: {
    ...dataOptions,
    ber: { kind: 'numbers', arg: 'B1,B2,…', help: 'bit error rates: probability that each stored bit flips, in [0, 1]' },
    trials: { kind: 'int', arg: 'N', help: 'trials per BER', default: 100, min: 1 },
    seed: { kind: 'int', arg: 'S', help: 'campaign seed: (seed, model, BER, trial) fixes every fault', default: DEFAULT_SEED },
    count: { kind: 'string', arg: 'binomial|floor|fixed', help: 'faults per tensor: Binomial(bits, BER), exactly floor(BER·bits) (paper A), or --faults N', choices: ['binomial', 'floor', 'fixed'], default: 'binomial' },
    faults: { kind: 'int', arg: 'N', help: 'faults per trial with --count fixed', min: 0 },
    kind: { kind: 'string', arg: 'flip|stuck0|stuck1', help: 'fault kind', choices: ['flip', 'stuck0', 'stuck1'], default: 'flip' },
    bits: { kind: 'string', arg: 'LO-HI', help: 'bits that can be hit: 0 = mantissa LSB, 23–30 exponent, 31 sign (e.g. 23-30, exponent, 31)', default: '0-31' },
    targets: { kind: 'strings', arg: 'conv,gemm,batchnorm', help: 'only parameters of these op types' },
    names: { kind: 'strings', arg: 'GLOB,…', help: 'only tensors whose names match (glob or /regex/)' },
    exclude: { kind: 'strings', arg: 'GLOB,…', help: 'leave out tensors whose names match' },
    layers: { kind: 'strings', arg: 'NAME|INDEX,…', help: 'only parameters of these layers (node name pattern or index)' },
    out: { kind: 'string', arg: 'FILE', help: 'JSON-lines record file; re-running into it resumes' },
    json: { kind: 'string', arg: 'FILE', help: 'write the summary as JSON' },
    margin: { kind: 'number', arg: 'PP', help: 'stop a BER early once its 95% CI half-width is below PP percentage points' },
    shard: { kind: 'string', arg: 'i/n|auto', help: 'run only part i of n of the trials (join with flipguard merge); auto: from a Slurm/PBS/LSF array or Kubernetes Indexed Job' },
    shards: { kind: 'int', arg: 'N', help: 'with --shard auto: the number of array tasks where the scheduler does not tell it (Kubernetes, PBS)' },
    ...queueOptions,
    formats: { kind: 'strings', arg: 'float32,float16,bfloat16,int8', help: 'compare the model stored in these formats (float16/bfloat16 converted, int8 quantized on the training split), one campaign each, in one table' },
    'dry-run': { kind: 'bool', help: 'print the fault plan of each BER\'s first trial and stop' },
    'fault-list': { kind: 'string', arg: 'FILE', help: 'evaluate once with the faults listed in FILE (JSON) instead of a campaign' },
    'no-shortcuts': { kind: 'bool', help: 'evaluate every trial in full (results are identical; for checking)' },
    swap: { kind: 'string', arg: 'rebuild|feed', help: 'how faulty parameters reach onnxruntime', choices: ['rebuild', 'feed'], default: 'rebuild' },
    batch: { kind: 'int', arg: 'B', help: 'images per onnxruntime run', default: DEFAULT_BATCH, min: 1 },
    threads: threadsOption,
  },
  async run({ positionals, values: v }) {
    // --out is a record file: an existing one is resumed (appended to), not replaced
    const outputs = checkOutputs(v, ['json', 'out'], [positionals[0], v['fault-list'] as string | undefined], ['out']);
    if (v.count === 'fixed' && v.faults === undefined) throw new FlipguardError('--count fixed needs --faults N, the number of faults per trial; add it, or use --count binomial or floor.');
    if (v.count !== 'fixed' && v.faults !== undefined) throw new FlipguardError(`--faults only applies with --count fixed; add --count fixed or remove --faults.`);
    const model = loadModel(positionals[0]);
    const data = datasetFromOptions(v, model);
    const targets: TargetFilter = {};
    if (v.targets) targets.ops = targetOps(v.targets as string[]);
    if (v.names) targets.names = v.names as string[];
    if (v.exclude) targets.exclude = v.exclude as string[];
    if (v.layers) targets.layers = (v.layers as string[]).map((l) => (/^\d+$/.test(l) ? Number(l) : l));
    if (v['fault-list']) {
      const list = readFaultList(v['fault-list'] as string, model);
      const r = await evaluateFaultList(model, data, list, { batch: v.batch as number, threads: v.threads as number | undefined });
      process.stdout.write(`${r.faults} faults: accuracy ${(r.goldenAccuracy * 100).toFixed(2)}% → ${(r.accuracy * 100).toFixed(2)}% (drop ${r.accuracyDrop.toFixed(2)} pp), SDC ${(r.sdcRate * 100).toFixed(2)}%, DUE ${(r.dueRate * 100).toFixed(2)}%\n`);
      if (v.json) writeJson(v.json as string, r, outputs);
      return;
    }
    if (!v.ber) throw new FlipguardError('flipguard inject needs --ber, e.g. --ber 1e-7,1e-6,1e-5 (probability that each stored bit flips).');
    const faultOpts = { count: v.count as CountMode, faults: v.faults as number | undefined, kind: v.kind as FaultKind, bits: v.bits as string, targets };
    if (v['dry-run']) {
      for (const ber of v.ber as number[]) {
        const plan = planFaults(model, { ...faultOpts, seed: v.seed as number, ber, trial: 0 });
        process.stdout.write(`${terminalJson(plan)}\n`);
      }
      return;
    }
    const bers = v.ber as number[];
    const trials = v.trials as number;
    if (v.formats) {
      for (const flag of ['out', 'shard', 'queue', 'margin']) if (v[flag] !== undefined) throw new FlipguardError(`--formats runs one in-memory campaign per format and cannot be combined with --${flag}; drop one of them.`);
      const formats = v.formats as ModelFormat[];
      let bar: Progress | undefined;
      const rows = await compareFormats({
        model, data, train: formats.includes('int8') ? datasetFromOptions(v, model, 'train') : undefined, formats, bers, trials, seed: v.seed as number, ...faultOpts,
        batch: v.batch as number, threads: v.threads as number | undefined, shortcuts: !v['no-shortcuts'], swap: v.swap as 'rebuild' | 'feed',
        onFormat: (f) => { bar?.done(); bar = new Progress(`inject ${f}`, bers.length * trials, { quiet: Boolean(v.quiet) }); },
        onProgress: (p) => bar?.update(p.done, `BER ${p.ber.toExponential(0)} trial ${p.trial + 1}/${trials}`),
      });
      bar?.done();
      process.stdout.write(`${bold('accuracy drop per format')} (percentage points, mean [95% CI]) — ${data.count} ${data.name} images, ${trials} trials per BER, seed ${v.seed}\n\n${formatsTable(rows)}\n`);
      if (v.json) writeJson(v.json as string, formatsJson(rows, positionals[0]), outputs);
      return;
    }
    let progress: Progress | undefined;
    const drops = new Map<number, number[]>();
    const result = await runCampaign({
      model, data, bers, trials, seed: v.seed as number, ...faultOpts, out: v.out as string | undefined,
      margin: v.margin as number | undefined, shard: parseShard(v.shard as string | undefined, v.shards as number | undefined), batch: v.batch as number,
      threads: v.threads as number | undefined, shortcuts: !v['no-shortcuts'], swap: v.swap as 'rebuild' | 'feed',
      queue: queueFromOptions(v, basename(positionals[0])),
      onNotice: (msg) => { if (!v.quiet) process.stderr.write(`note: ${msg}\n`); },
      onProgress: (p) => {
        progress ??= new Progress('inject', p.total, { quiet: Boolean(v.quiet) });
        const d = drops.get(p.ber) ?? [];
        d.push(p.record.accuracyDrop);
        drops.set(p.ber, d);
        const mean = d.reduce((a, b) => a + b, 0) / d.length;
        if (v.verbose) process.stderr.write(`BER ${p.ber} trial ${p.trial}: ${p.record.faults} faults, accuracy ${(p.record.accuracy * 100).toFixed(2)}%, drop ${p.record.accuracyDrop.toFixed(2)} pp, SDC ${(p.record.sdcRate * 100).toFixed(2)}%, DUE ${(p.record.dueRate * 100).toFixed(2)}% (${p.path}${p.record.millis !== undefined ? `, ${p.record.millis.toFixed(0)} ms` : ''})\n`);
        else progress.update(p.done, `BER ${p.ber.toExponential(0)} trial ${p.trial + 1}/${trials} mean drop ${mean.toFixed(2)} pp`);
      },
    });
    progress?.done();
    process.stdout.write(`${bold('golden')} accuracy ${(result.golden.accuracy * 100).toFixed(2)}% on ${data.count} ${data.name} images; ${plural(result.ran, 'trial')} run, ${result.resumed} resumed${v.out ? ` → ${v.out}` : ''}\n\n`);
    process.stdout.write(summaryTable(result) + '\n');
    if (v.json) writeJson(v.json as string, summaryJson(result, { model: positionals[0], config: result.config }), outputs);
  },
};

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'join shard outputs of one campaign into the result of a single run',
  usage: 'RUN.jsonl... [--out merged.jsonl] [--json summary.json] [--partial]',
  positionals: [1, 1000],
  options: {
    out: { kind: 'string', arg: 'FILE', help: 'write the merged records as one JSON-lines file' },
    json: { kind: 'string', arg: 'FILE', help: 'write the summary as JSON' },
    margin: { kind: 'number', arg: 'PP', help: 'apply the early-stop margin rule when summarising' },
    partial: { kind: 'bool', help: 'merge even with shards or trials missing; the table, JSON and report say PARTIAL' },
  },
  async run({ positionals, values: v }) {
    const outputs = checkOutputs(v, ['json', 'out'], positionals);
    // mergeRuns never writes over a file: with --force the merged records go to a new name in the
    // same folder, renamed over the old file only once complete
    const out = v.out as string | undefined;
    const replacing = out !== undefined && existsSync(out);
    const tmp = replacing ? join(dirname(out), `.${basename(out)}.${process.pid}.merge.tmp`) : undefined;
    let r;
    try {
      r = mergeRuns(positionals, { out: tmp ?? out, margin: v.margin as number | undefined, partial: Boolean(v.partial) });
      if (tmp) renameSync(tmp, out!);
    } catch (e) {
      if (tmp) rmSync(tmp, { force: true });
      throw e instanceof FlipguardError ? e : new FlipguardError(ioErrorMessage(e, out!));
    }
    process.stdout.write(`${bold('golden')} accuracy ${(r.golden.accuracy * 100).toFixed(2)}%; ${plural(r.records.length, 'trial')} from ${plural(positionals.length, 'file')}${v.out ? ` → ${v.out}` : ''}\n\n`);
    if (r.partial) process.stdout.write(`${bold(partialNote(r.partial))}\n`);
    process.stdout.write(summaryTable(r) + '\n');
    if (v.json) writeJson(v.json as string, summaryJson(r, { config: r.config }), outputs);
  },
};
