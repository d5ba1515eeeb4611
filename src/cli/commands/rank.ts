import { visible } from '../../util/text.js';
import { FlipguardError } from '../../errors.js';
import { loadModel } from '../../graph/load.js';
import {
  rank, compareRankings, formatComparison, bitProfile, formatBitProfile, topK, ANALYSIS_DEFAULTS as D, RANK_METHODS, COMPOSITE_NAMES, RULE_NAMES, NEURON_SCORE_FUNCTIONS, NEURON_MERGES,
  type RankMethod, type RankOptions, type Scores, type RobustOption,
} from '../../analysis/index.js';
import { scoresFile, type ScoreUnit } from '../../analysis/scores.js';
import { Progress } from '../progress.js';
import { dataOptions, datasetFromOptions, threadsOption, checkOutputs, type Command } from '../command.js';
import { writeJson, bold } from '../output.js';
import { formatTable } from '../table.js';
import { queueFromOptions, queueOptions } from './worker.js';
import { basename } from 'node:path';

const { split: _split, ...rankDataOptions } = dataOptions;

const fmt = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toPrecision(3));

/** Per layer: units, the top `top` units with their scores, and Eq. (1)'s heavy-tail diagnostics when present. */
export function scoresSummary(s: Scores, top: number): string {
  const tail = (s.info?.layers as { name: string; maxImageShare?: number; effectiveImages?: number }[] | undefined) ?? [];
  const hasTail = tail.some((t) => t.maxImageShare !== undefined);
  const rows = s.layers.map((l) => {
    const best = topK(l.scores, top).map((i) => `${i}:${fmt(l.scores[i])}`).join('  ');
    const t = tail.find((x) => x.name === l.name);
    const extra = hasTail ? [t?.maxImageShare !== undefined ? `${(t.maxImageShare * 100).toFixed(1)}%` : '-', t?.effectiveImages !== undefined ? t.effectiveImages.toFixed(1) : '-'] : [];
    return [l.name, l.op, `${l.scores.length} ${l.unit}s`, ...extra, best];
  });
  const header = ['layer', 'op', 'units', ...(hasTail ? ['top image', 'eff. images'] : []), `top ${top} (index:score)`];
  let text = formatTable(header, rows);
  const info = s.info ?? {};
  if (hasTail) {
    text += `\n\nheavy tail (Eq. 1): the largest single image carries up to ${((info.maxImageShare as number) * 100).toFixed(1)}% of a layer's total; ` +
      `fewest effective images ${(info.effectiveImages as number).toFixed(1)} of ${info.images}; smallest top-2 logit margin ${(info.smallestTopMargin as number).toFixed(3)}` +
      (info.robust ? ` (robust: ${JSON.stringify(info.robust)})` : ' (no robust option)');
  }
  if (s.method === 'lrp' && Array.isArray(info.rules)) {
    text += `\n\nLRP: ${info.images} reference images (${(info.perClass as number[]).join('/')} per class), composite ${info.composite}: ${(info.rules as { name: string; rule: string }[]).map((r) => `${r.name} ${r.rule}`).join(', ')}; relevance starts at the ${info.start} class`;
  }
  if (s.method === 'neurons') text += `\n\nneurons: score ${info.score}, merge ${info.merge}, ${info.images} reference images`;
  return text;
}

function robustOption(v: Record<string, unknown>): RobustOption | undefined {
  const floor = v['robust-floor'] as number | undefined;
  const trim = v['robust-trim'] as number | undefined;
  if (floor !== undefined && trim !== undefined) throw new FlipguardError('Give either --robust-floor or --robust-trim, not both.');
  if (floor !== undefined) return { floor };
  if (trim !== undefined) return { trim };
  return undefined;
}

export const rankCommand: Command = {
  name: 'rank',
  summary: 'importance scores (Eq. 1 vulnerability, LRP, neuron criticality, baselines), or their agreement with fault injection',
  usage: 'MODEL --data mnist --method vulnerability|lrp|neurons|l1|magnitude|taylor|random [--images N] [--json scores.json]  |  MODEL --compare --layer NAME --ber B [--methods …] [--trials T] [--json compare.json]  |  MODEL --compare --compare-unit bit [--faults K] [--trials T]',
  positionals: [1, 1],
  options: {
    ...rankDataOptions,
    method: { kind: 'string', arg: RANK_METHODS.join('|'), help: 'scoring method', choices: RANK_METHODS, default: 'vulnerability' },
    images: { kind: 'int', arg: 'N', help: `training images: profiling set (vulnerability, taylor; default ${D.vulnerabilityImages}) or reference set (lrp, neurons; default ${D.referenceImages})`, min: 1 },
    seed: { kind: 'int', arg: 'S', help: 'seed of the image samples and random scores (and of the ground-truth faults with --compare)', default: D.seed },
    unit: { kind: 'string', arg: 'channel|weight|neuron', help: 'score unit (default per method: channel; weight for lrp, taylor, magnitude; neuron for neurons)', choices: ['channel', 'weight', 'neuron'] },
    json: { kind: 'string', arg: 'FILE', help: 'write the scores ({"method", "layers": [{"name", "op", "unit", "scores"}], "info"}) or the comparison as JSON' },
    top: { kind: 'int', arg: 'K', help: 'units listed per layer', default: 5, min: 1 },
    approx: { kind: 'string', arg: 'exact|batch', help: 'Eq. (1): exact per-image gradients, or gradients summed over a batch before squaring', choices: ['exact', 'batch'], default: 'exact' },
    'approx-batch': { kind: 'int', arg: 'B', help: 'images per summed batch with --approx batch', default: D.approxBatch },
    'robust-floor': { kind: 'number', arg: 'F', help: 'Eq. (1): floor on |y_t − y_k| (robust option, off by default)' },
    'robust-trim': { kind: 'number', arg: 'Q', help: 'Eq. (1): trimmed mean over images, dropping the Q lowest and highest share' },
    composite: { kind: 'string', arg: COMPOSITE_NAMES.join('|'), help: 'LRP rules: default = flat first layer, z+ conv, epsilon dense; epsilon = epsilon everywhere', choices: COMPOSITE_NAMES, default: 'default' },
    first: { kind: 'string', arg: RULE_NAMES.join('|'), help: 'LRP rule of the first layer (default flat; epsilon for --composite epsilon)', choices: RULE_NAMES },
    epsilon: { kind: 'number', arg: 'E', help: 'LRP stabiliser', default: D.epsilon },
    low: { kind: 'number', arg: 'L', help: 'z^B lower input bound', default: D.zBoxLow },
    high: { kind: 'number', arg: 'H', help: 'z^B upper input bound', default: D.zBoxHigh },
    start: { kind: 'string', arg: 'predicted|true', help: 'LRP relevance starts at the predicted or the true class logit', choices: ['predicted', 'true'], default: 'predicted' },
    score: { kind: 'string', arg: NEURON_SCORE_FUNCTIONS.join('|'), help: 'neurons: per-class score |a|, |a·dy/da| or |LRP relevance|', choices: NEURON_SCORE_FUNCTIONS, default: 'activation' },
    merge: { kind: 'string', arg: NEURON_MERGES.join('|'), help: 'neurons: merge of rank-normalised class scores', choices: NEURON_MERGES, default: 'max' },
    q: { kind: 'number', arg: 'Q', help: 'neurons --merge topq: top share of a layer', default: D.topq },
    compare: { kind: 'bool', help: 'measure each unit of --layer by fault injection and correlate every --methods ranking with it' },
    layer: { kind: 'string', arg: 'NAME', help: 'with --compare: the conv or dense layer whose units are faulted' },
    ber: { kind: 'number', arg: 'B', help: 'with --compare: bit error rate (probability that each stored bit of the unit flips)' },
    methods: { kind: 'strings', arg: 'M1,M2,…', help: 'with --compare: methods to compare (default vulnerability,lrp,neurons,l1,taylor,random)', choices: RANK_METHODS },
    trials: { kind: 'int', arg: 'T', help: 'with --compare: trials per unit', default: D.groundTruthTrials, min: 1 },
    faults: { kind: 'int', arg: 'K', help: 'with --compare: exactly K bit flips per unit and trial instead of BER draws' },
    exhaustive: { kind: 'bool', help: 'with --compare: flip every single (weight, bit) of each unit once instead of random trials (no sampling noise)' },
    bits: { kind: 'string', arg: 'LO-HI', help: 'with --compare: bits that can flip, of the layer\'s stored words (float32: 0 = mantissa LSB, 23–30 exponent, 31 sign; float16/bfloat16 0–15; int8 0–7; or all|mantissa|exponent|sign of the format)', default: '0-31' },
    k: { kind: 'int', arg: 'K', help: 'with --compare: k of the top-k overlap (default 10% of the units)' },
    'compare-unit': { kind: 'string', arg: 'channel|weight|bit', help: 'with --compare: fault whole channels, a sample of single weights, or each bit position (drop per bit; --layer optional, --faults flips per trial, default 1)', choices: ['channel', 'weight', 'bit'], default: 'channel' },
    sample: { kind: 'int', arg: 'N', help: 'with --compare-unit weight: weights sampled', default: D.weightSample },
    'eval-limit': { kind: 'int', arg: 'N', help: 'with --compare: evaluate on the first N test images (default all)' },
    ...queueOptions,
    batch: { kind: 'int', arg: 'B', help: 'images per onnxruntime run (default per method)', min: 1 },
    threads: threadsOption,
  },
  async run({ positionals, values: v }) {
    const outputs = checkOutputs(v, ['json'], [positionals[0]]);
    const model = loadModel(positionals[0]);
    const train = datasetFromOptions(v, model, 'train');
    const common: Omit<RankOptions, 'method'> = {
      images: v.images as number | undefined, seed: v.seed as number, threads: v.threads as number | undefined, batch: v.batch as number | undefined,
      approx: v.approx as 'exact' | 'batch', approxBatch: v['approx-batch'] as number, robust: robustOption(v),
      composite: v.composite as 'default' | 'epsilon', first: v.first as RankOptions['first'], epsilon: v.epsilon as number, low: v.low as number, high: v.high as number,
      start: v.start as 'predicted' | 'true', score: v.score as RankOptions['score'], merge: v.merge as RankOptions['merge'], q: v.q as number,
    };
    if (!v.compare) {
      for (const k of ['layer', 'ber', 'methods', 'faults', 'k', 'eval-limit', 'exhaustive', 'queue'] as const) {
        if (v[k] !== undefined) throw new FlipguardError(`--${k} only applies to "flipguard rank --compare"; add --compare or remove --${k}.`);
      }
      const method = v.method as RankMethod;
      const t0 = performance.now();
      if (!v.quiet) process.stderr.write(`rank: ${method} on ${train.name} (${train.count} images)…\n`);
      const scores = await rank(model, { ...common, method, data: train, unit: v.unit as ScoreUnit | undefined });
      process.stdout.write(`${bold(method)} scores of ${visible(positionals[0])} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n\n${scoresSummary(scores, v.top as number)}\n`);
      if (v.json) writeJson(v.json as string, scoresFile(scores), outputs);
      return;
    }
    if (v['compare-unit'] === 'bit') {
      for (const k of ['methods', 'k', 'exhaustive', 'unit'] as const) {
        if (v[k] !== undefined) throw new FlipguardError(`--${k} does not apply to --compare-unit bit, which profiles bit positions, not rankings; remove --${k}.`);
      }
      const test = datasetFromOptions({ ...v, limit: v['eval-limit'] }, model, 'test');
      let bar: Progress | undefined;
      const profile = await bitProfile(model, {
        data: test, layer: v.layer as string | undefined, trials: v.trials as number, faults: (v.faults as number | undefined) ?? 1, bits: v.bits as string,
        seed: v.seed as number, batch: v.batch as number | undefined, runtime: { threads: v.threads as number | undefined },
        onProgress: (done, total) => { bar ??= new Progress('bit profile', total, { quiet: Boolean(v.quiet) }); bar.update(done); },
      });
      bar?.done();
      process.stdout.write(`${bold('accuracy drop per bit position')} of ${visible(positionals[0])}\n\n${formatBitProfile(profile)}\n`);
      if (v.json) writeJson(v.json as string, profile, outputs);
      return;
    }
    if (!v.layer) throw new FlipguardError('flipguard rank --compare needs --layer NAME (a conv or dense layer; "flipguard info MODEL" lists them).');
    if (v.ber === undefined) throw new FlipguardError('flipguard rank --compare needs --ber B, e.g. --ber 1e-4 (with --faults K it only seeds the draws).');
    if (v.unit !== undefined) throw new FlipguardError('--unit does not apply to --compare, which compares per --compare-unit (channel or weight); remove --unit.');
    const test = datasetFromOptions({ ...v, limit: v['eval-limit'] }, model, 'test');
    let bar: Progress | undefined;
    const result = await compareRankings(model, {
      layer: v.layer as string, ber: v.ber as number, data: test, trials: v.trials as number, seed: v.seed as number,
      faults: v.faults as number | undefined, exhaustive: Boolean(v.exhaustive), bits: v.bits as string, unit: v['compare-unit'] as 'channel' | 'weight', sample: v.sample as number,
      methods: v.methods as RankMethod[] | undefined, rankData: train, images: v.images as number | undefined, rankSeed: v.seed as number, k: v.k as number | undefined,
      batch: v.batch as number | undefined, runtime: { threads: v.threads as number | undefined }, queue: queueFromOptions(v, `${basename(positionals[0])} rank --compare ${v.layer as string}`),
      rankOptions: { ...common, images: undefined },
      onProgress: (done, total) => { bar ??= new Progress('ground truth', total, { quiet: Boolean(v.quiet) }); bar.update(done); },
    });
    bar?.done();
    process.stdout.write(`${bold('rank agreement')} with fault injection on ${visible(result.layer)}\n\n${formatComparison(result)}\n`);
    if (v.json) writeJson(v.json as string, result, outputs);
  },
};
