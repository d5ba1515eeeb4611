import { checkOutputDir } from '../../util/fs-safe.js';
import { FlipguardError } from '../../errors.js';
import { loadModel } from '../../graph/load.js';
import { writeModel } from '../../graph/onnx.js';
import { hasQOperator, refuseIntegerKernels } from '../../formats/qoperator.js';
import { readScores, type Scores } from '../../analysis/scores.js';
import type { RankMethod } from '../../analysis/index.js';
import type { Model } from '../../graph/types.js';
import { harden, HARDEN_METHODS, overheads, topOneAgreement, validateHardened, validateTransformed, type HardenMethod, type HardenReportFile } from '../../harden/index.js';
import { hardenSweep, parseVariants, rankingProvider, sweepJson, sweepPareto, unitOf, DEFAULT_VARIANTS, type SweepRow, type Unit } from '../../workflows/sweep.js';
import type { ParetoView } from '../../report/pareto.js';
import type { ImageSet } from '../../runtime/evaluate.js';
import { Progress } from '../progress.js';
import { dataOptions, datasetFromOptions, threadsOption, checkOutputs, type Command } from '../command.js';
import { writeJson, bold, plural } from '../output.js';
import { formatHalfWidth, formatTable, groupInt } from '../table.js';
import { basename } from 'node:path';
import { queueFromOptions, queueOptions } from './worker.js';
import { DEFAULT_PARETO_BER, DEFAULT_SEED } from '../../defaults.js';
import { budgetHarden, parseBudget, DEFAULT_BUDGET_CANDIDATES } from '../../workflows/budget.js';
import { resolveBits } from '../../faults/bits.js';

/**
 * The scores hardening uses: a --scores file as given, else computed per unit kind; --rank picks
 * the ranking of `rankUnit` (the method's unit; channels for --sweep), the others keep their default.
 */
function scoresFrom(model: Model, train: ImageSet, v: Record<string, unknown>, rankUnit: Unit): (unit: Unit) => Promise<Scores> {
  const file = v.scores ? readScores(v.scores as string) : undefined;
  return rankingProvider(model, train, {
    methods: v.rank ? { [rankUnit]: v.rank as RankMethod } : {},
    given: file ? { [rankUnit]: file } : {},
    images: v.images as number | undefined, seed: v.seed as number, threads: v.threads as number | undefined,
  });
}

export function sweepTable(rows: SweepRow[]): string {
  const bers = rows[0]?.campaign.bers.map((b) => b.ber) ?? [];
  return formatTable(
    ['variant', 'params ×', 'MACs ×', 'time ×', ...bers.map((b) => `drop @${b.toExponential(0)}`), ...bers.map((b) => `SDC @${b.toExponential(0)}`)],
    rows.map((r) => [
      r.variant,
      r.overheads ? r.overheads.parameters.ratio.toFixed(3) : '1.000',
      r.overheads ? r.overheads.macs.ratio.toFixed(3) : '1.000',
      r.overheads ? r.overheads.time.ratio.toFixed(3) : '1.000',
      ...r.campaign.bers.map((b) => `${b.meanDrop.toFixed(2)} ${formatHalfWidth(b.ci95)}`),
      ...r.campaign.bers.map((b) => `${(b.meanSdc * 100).toFixed(1)}%`),
    ]),
  );
}

/** The Pareto table of a sweep: each variant's drop at the view's BER, overheads, front membership and dominators. */
export function paretoTable(view: ParetoView): string {
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  return formatTable(['variant', `drop @${view.ber.toExponential(0)}`, '95% CI', 'memory', 'time', 'front (mem / time / all)', 'dominated by'], view.rows.map((r) => [
    r.variant, r.drop.toFixed(2), r.ciLow === null ? 'n/a' : `[${r.ciLow.toFixed(2)}, ${r.ciHigh!.toFixed(2)}]`, pct(r.memory), pct(r.time),
    [r.frontMemory, r.frontTime, r.front].map((f) => (f ? 'yes' : '—')).join(' / '),
    r.dominatedBy.length ? `${r.dominatedBy.join(', ')}${r.clearly ? '' : ' (within the CIs)'}` : '',
  ]));
}

export const hardenCommand: Command = {
  name: 'harden',
  summary: 'write a hardened ONNX model (EDAC, TMR, range restriction) and report its overheads',
  usage: 'MODEL --method edac|edac-nointervals|ranger|tmr-channels|tmr-weights|tmr-neurons|tmr-bits [--ratio R] [--bits 30,29] --data mnist --out hardened.onnx',
  positionals: [1, 1],
  options: {
    ...dataOptions,
    method: { kind: 'string', arg: HARDEN_METHODS.join('|'), help: 'hardening transform', choices: HARDEN_METHODS },
    ratio: { kind: 'number', arg: 'R', help: 'share of channels / weights / neurons to protect (default 0.15; ranger 0; tmr-bits: every weight)' },
    bits: { kind: 'string', arg: 'B1,…', help: 'tmr-bits: bit positions to store three times, e.g. 30 or 30,29,31 or 23-30 (default: the exponent\'s top bit of the stored format — 30 float32, 14 float16/bfloat16 — or 7, the sign, of int8)' },
    rank: { kind: 'string', arg: 'METHOD', help: 'ranking for the selection (default: vulnerability for channels, lrp for weights, neurons for neurons; with --sweep it sets the channel ranking)', choices: ['vulnerability', 'lrp', 'neurons', 'l1', 'magnitude', 'taylor', 'random'] },
    scores: { kind: 'string', arg: 'FILE', help: 'use scores from "flipguard rank --json" for the method\'s units (channels with --sweep) instead of computing them' },
    images: { kind: 'int', arg: 'N', help: 'images for the ranking (default per method)', min: 1 },
    'per-layer': { kind: 'bool', help: 'tmr-weights / tmr-neurons: protect the top share of every layer instead of a global top' },
    'both-inside': { kind: 'string', arg: 'min|mean|original', help: 'EDAC case C (copies differ, both inside the interval)', choices: ['min', 'mean', 'original'], default: 'min' },
    'both-outside': { kind: 'string', arg: 'zero|clip|original', help: 'EDAC case D (copies differ, both outside the interval)', choices: ['zero', 'clip', 'original'], default: 'zero' },
    margin: { kind: 'number', arg: 'M', help: 'widen the detection intervals by M × their width on each side', default: 0 },
    'range-mode': { kind: 'string', arg: 'zero|saturate', help: 'ranger / EDAC case E: out-of-interval values → 0 (paper A) or clamped to the bound (Ranger)', choices: ['zero', 'saturate'], default: 'zero' },
    placement: { kind: 'string', arg: 'paper|after-bn|after-act', help: 'ranger: check behind the batch norm (default after-bn: keeps Conv+BN fused, also catches batch-norm faults), at the conv output (paper A), or behind batch norm and ReLU (fastest with --range-mode saturate --range-bounds layer); edac, edac-nointervals, tmr-channels: the stage at the conv output (default paper) or behind the batch norm (+ ReLU), widened with the copies', choices: ['paper', 'after-bn', 'after-act'] },
    'range-check': { kind: 'string', arg: 'exact|fused', help: 'ranger --range-mode zero behind the batch norm or ReLU: compare + Where (exact, a NaN becomes the fill) or a mask fused into onnxruntime\'s conv kernels (fused: same for every finite value, faster; a NaN passes through)', choices: ['exact', 'fused'], default: 'exact' },
    'range-bounds': { kind: 'string', arg: 'channel|layer', help: 'ranger: one interval per channel (paper A) or per layer (Ranger; saturating, it fuses into the conv)', choices: ['channel', 'layer'], default: 'channel' },
    'fold-bn': { kind: 'bool', help: 'fold batch norm into the preceding conv/dense layer first (its parameters then are part of the conv\'s stored weights for the fault model)' },
    'neuron-replicas': { kind: 'string', arg: 'auto|positions|channels', help: 'tmr-neurons: per conv layer the faster of recomputing only the protected positions and whole channels voted at those positions (auto, default), always the former (positions), or whole channels voted everywhere (channels, the older construction)', choices: ['auto', 'positions', 'channels'] },
    'side-by-side': { kind: 'bool', help: 'edac, tmr-channels: reorder each layer\'s channels so the protected ones are contiguous (fewer copy passes; fault-free logits then agree to float rounding, same top-1)' },
    out: { kind: 'string', arg: 'FILE', help: 'where to write the hardened ONNX model' },
    json: { kind: 'string', arg: 'FILE', help: 'write the report (protected units, overheads) as JSON' },
    sweep: { kind: 'bool', help: 'compare several variants with one campaign each (see --variants)' },
    variants: { kind: 'string', arg: 'LIST', help: 'for --sweep: e.g. none,ranger,edac:0.15,tmr-weights:mem0.15', default: DEFAULT_VARIANTS },
    ber: { kind: 'numbers', arg: 'B1,…', help: 'for --sweep: bit error rates', default: '1e-6,1e-5,5e-5' },
    budget: { kind: 'string', arg: 'memory=M,time=T', help: 'search methods × ratios for the smallest accuracy drop at --ber (one value, default 1e-5) within these overheads (fractions); writes the winner to --out and the evidence to --json' },
    candidates: { kind: 'string', arg: 'LIST', help: `for --budget: candidates as in --variants, ranger+X for intervals with X on top (default, float32 model: ${DEFAULT_BUDGET_CANDIDATES}; other formats use their own bits)` },
    'pareto-ber': { kind: 'number', arg: 'B', help: 'for --sweep: the BER of the Pareto view (default 1e-5 when swept, else the largest BER)' },
    trials: { kind: 'int', arg: 'N', help: 'for --sweep: trials per BER', default: 20, min: 1 },
    seed: { kind: 'int', arg: 'S', help: 'seed for rankings and campaigns', default: DEFAULT_SEED },
    'out-dir': { kind: 'string', arg: 'DIR', help: 'for --sweep: write each variant\'s model and campaign records here' },
    threads: threadsOption,
    ...queueOptions,
  },
  async run({ positionals, values: v }) {
    const inputs = [positionals[0], v.scores as string | undefined];
    const outputs = checkOutputs(v, ['out', 'json'], inputs);
    if (v['out-dir'] !== undefined) checkOutputDir(v['out-dir'] as string, outputs);
    const model = loadModel(positionals[0]);
    refuseIntegerKernels(model, 'flipguard harden'); // before ranking, so the refusal names harden
    const train = datasetFromOptions({ ...v, limit: undefined }, model, 'train');
    const test = datasetFromOptions(v, model, 'test');
    const runtime = { threads: v.threads as number | undefined };
    if (v.sweep) {
      const variants = parseVariants(v.variants as string);
      const bers = Array.isArray(v.ber) ? (v.ber as number[]) : String(v.ber).split(',').map(Number);
      if (v['pareto-ber'] !== undefined && !bers.includes(v['pareto-ber'] as number)) throw new FlipguardError(`--pareto-ber ${v['pareto-ber']} is not one of the swept BERs (${bers.join(', ')}); pick one of them.`);
      let bar: Progress | undefined;
      const rows = await hardenSweep(model, {
        variants, scores: scoresFrom(model, train, v, 'channel'), train, test, outDir: v['out-dir'] as string | undefined, force: outputs.force, protect: outputs.protect, runtime,
        campaign: { bers, trials: v.trials as number, seed: v.seed as number, threads: runtime.threads, queue: queueFromOptions(v, `${basename(positionals[0])} sweep`) },
        onVariant: (variant, i) => { bar?.done(); bar = undefined; if (!v.quiet) process.stderr.write(`[${i + 1}/${variants.length}] ${variant.name}\n`); },
        onProgress: (p) => { bar ??= new Progress('  campaign', p.total, { quiet: Boolean(v.quiet) }); bar.update(p.done, `BER ${p.ber.toExponential(0)}`); },
      });
      bar?.done();
      process.stdout.write(`${bold('accuracy drop (percentage points, mean ± 95% CI half-width) and overheads')} — ${test.count} ${test.name} images, ${plural(v.trials as number, 'trial')} per BER, seed ${v.seed}\n\n${sweepTable(rows)}\n`);
      const pareto = sweepPareto(rows, v['pareto-ber'] as number | undefined);
      if (pareto) process.stdout.write(`\n${bold('Pareto view')} at BER ${pareto.ber.toExponential(0)}: memory = stored bytes, time = inference time, both hardened ÷ original − 1; a variant is dominated when another is no worse on drop, memory and time\n\n${paretoTable(pareto)}\n`);
      if (v.json) writeJson(v.json as string, sweepJson(rows, { model: positionals[0], pareto }), outputs);
      return;
    }
    if (v.budget !== undefined) {
      if (v.method !== undefined || v.sweep) throw new FlipguardError('--budget chooses the method itself; remove --method / --sweep.');
      if (!v.out) throw new FlipguardError('flipguard harden --budget needs --out FILE for the chosen model.');
      const budget = parseBudget(v.budget as string);
      const bers = Array.isArray(v.ber) ? (v.ber as number[]) : String(v.ber).split(',').map(Number);
      const isDefault = String(v.ber) === '1e-6,1e-5,5e-5' || (bers.length === 3 && bers.join() === [1e-6, 1e-5, 5e-5].join());
      if (bers.length !== 1 && !isDefault) throw new FlipguardError(`--budget compares at one BER; give one --ber value (e.g. --ber 1e-5), not ${bers.length}.`);
      const ber = bers.length === 1 ? bers[0] : DEFAULT_PARETO_BER;
      const t0 = performance.now();
      const r = await budgetHarden(model, {
        budget, ber, train, test, scores: scoresFrom(model, train, v, 'channel'), candidates: v.candidates as string | undefined,
        maxTrials: Math.max(4, v.trials as number), seed: v.seed as number, runtime,
        onCandidate: (name, stage, detail) => { if (!v.quiet) process.stderr.write(`${stage === 'build' ? 'build' : 'race '} ${name}${detail ? ` (${detail})` : ''}\n`); },
      });
      const validation = r.combined
        ? await validateTransformed(model, r.model, { images: { ...train, x: train.x.subarray(0, 4 * train.shape.reduce((a, b) => a * b, 1)), count: Math.min(4, train.count) }, fidelity: 'top1', runtime, what: `${r.winner}-hardened` })
        : await validateHardened(model, { model: r.model, report: r.report }, train, runtime);
      writeModel(v.out as string, r.model, outputs);
      const seconds = (performance.now() - t0) / 1000;
      const pctOr = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
      process.stdout.write(`${bold('budgeted hardening')}: ${r.winner} → ${v.out} (${seconds.toFixed(0)} s)\n\n${r.why}\n\n`);
      process.stdout.write(formatTable(['candidate', 'memory', 'time', 'trials', `drop @${ber.toExponential(0)}`, '95% CI', 'outcome'], r.candidates.map((c) => [
        c.name, pctOr(c.memory), pctOr(c.time), c.trials ? String(c.trials) : '', c.drop === null ? '' : c.drop.toFixed(2), c.ci95 ? `[${c.ci95[0].toFixed(2)}, ${c.ci95[1].toFixed(2)}]` : '', c.outcome,
      ])) + '\n');
      if (v.json) writeJson(v.json as string, { model: positionals[0], out: v.out, seconds, budget: r.budget, ber: r.ber, seed: r.seed, winner: r.winner, why: r.why, rounds: r.rounds, candidates: r.candidates, validation }, outputs);
      return;
    }
    if (!v.method) throw new FlipguardError('flipguard harden needs --method (edac, edac-nointervals, ranger, tmr-channels, tmr-weights, tmr-neurons or tmr-bits), or --sweep.');
    if (!v.out) throw new FlipguardError('flipguard harden needs --out FILE for the hardened model.');
    const method = v.method as HardenMethod;
    const unit = unitOf(method);
    if (v.bits !== undefined && method !== 'tmr-bits') throw new FlipguardError(`--bits applies to --method tmr-bits only, not ${method}.`);
    const bits = v.bits === undefined ? undefined : resolveBits(v.bits as string);
    // tmr-bits without --ratio protects every weight: no ranking needed
    const needsScores = method !== 'ranger' && !(method === 'tmr-bits' && v.ratio === undefined && !v.scores);
    const scores = needsScores ? await scoresFrom(model, train, v, unit)(unit) : undefined;
    const { model: hardened, report } = await harden(model, {
      method, ratio: v.ratio as number | undefined, scores, bits, data: train, runtime, perLayer: Boolean(v['per-layer']),
      bothInside: v['both-inside'] as 'min', bothOutside: v['both-outside'] as 'zero', margin: v.margin as number,
      rangeMode: v['range-mode'] as 'zero', placement: v.placement as 'paper' | undefined, rangeBounds: v['range-bounds'] as 'channel', rangeCheck: v['range-check'] as 'exact', foldBn: Boolean(v['fold-bn']), sideBySide: Boolean(v['side-by-side']), neuronReplicas: v['neuron-replicas'] as 'auto' | undefined,
    });
    // nothing is written unless the hardened model passes its checks and is counted and timed (an
    // error in any of them leaves no file behind)
    const validation = await validateHardened(model, { model: hardened, report }, train, runtime);
    const ov = await overheads(model, hardened, test, { ...runtime, runs: 3 });
    const agreement = await topOneAgreement(model, hardened, test, runtime);
    writeModel(v.out as string, hardened, outputs);
    const qdq = hasQOperator(model) ? ' (QOperator kernels written in QDQ form, which onnxruntime fuses back into them)' : '';
    process.stdout.write(`${bold(method)} at ratio ${report.ratio}: ${report.totals.protected} of ${report.totals.units} ${report.unit}s protected${report.ranking ? ` (ranked by ${report.ranking})` : ''} → ${v.out}${qdq}\n\n`);
    process.stdout.write(formatTable(['', 'original', 'hardened', 'ratio'], [
      ['parameters', groupInt(ov.parameters.original), groupInt(ov.parameters.hardened), ov.parameters.ratio.toFixed(3)],
      ['stored bytes', groupInt(ov.storedBytes.original), groupInt(ov.storedBytes.hardened), ov.storedBytes.ratio.toFixed(3)],
      ...(ov.parameterBits ? [['parameter bits', groupInt(ov.parameterBits.original), groupInt(ov.parameterBits.hardened), ov.parameterBits.ratio.toFixed(3)]] : []),
      ['MACs/image', groupInt(ov.macs.original), groupInt(ov.macs.hardened), ov.macs.ratio.toFixed(3)],
      [`s per ${ov.time.images}-image pass`, ov.time.original.toFixed(4), ov.time.hardened.toFixed(4), ov.time.ratio.toFixed(3)],
      ['fault-free agreement', '', `${agreement.same}/${agreement.images}`, `${(agreement.share * 100).toFixed(2)}%`],
    ]) + '\n');
    if (agreement.same < agreement.images) {
      process.stderr.write(`warning: without faults, ${agreement.images - agreement.same} of ${agreement.images} ${test.name} images get a different top-1 from the hardened model (agreement ${(agreement.share * 100).toFixed(2)}%): detection intervals profiled on the training split clip some of their activations; widen them with --margin or profile on more representative data.\n`);
    }
    if (v.json) writeJson(v.json as string, { method, ratio: report.ratio, ranking: report.ranking, ...(report.bits ? { bits: report.bits[0]?.bits ?? [], addedBits: report.addedBits } : {}), protected: report.protected, totals: report.totals, memoryOverhead: report.memoryOverhead, replicaMacs: report.replicaMacs, overheads: ov, agreement, validation } satisfies HardenReportFile & Record<string, unknown>, outputs);
  },
};
