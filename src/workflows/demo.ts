/**
 * The main job on one model: assess → explain → harden → compare, written as a report.
 * `flipguard demo` runs it on the bundled default (models/vgg11-mnist.onnx + MNIST).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, normalizationFromMetadata, subset, type Dataset } from '../data/index.js';
import { compareFormats, formatsJson, protectFormats } from './formats.js';
import { loadModel } from '../graph/load.js';
import type { Model } from '../graph/types.js';
import { evaluate } from '../runtime/evaluate.js';
import { rank, compareRankings, computeLayers, bitProfile, type Scores, type RankMethod } from '../analysis/index.js';
import { hardenSweep, parseVariants, rankingProvider, type SweepRow } from './sweep.js';
import type { HardenReportFile } from '../harden/overhead.js';
import { summaryJson, type CampaignProgress } from '../campaign/index.js';
import { prepareOutputDir } from '../util/fs-safe.js';
import { writeReport, type WriteReportResult } from '../report/write.js';
import { DEFAULT_SEED } from '../defaults.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The shipped default model (dist/src/workflows → repo root/models). */
export const DEFAULT_MODEL = resolve(here, '..', '..', '..', 'models', 'vgg11-mnist.onnx');

export interface DemoOptions {
  /** Model path (default the shipped VGG-11-style MNIST model). */
  model?: string;
  /** Fewer BERs, trials and images, stated in the report (a few minutes on 2 cores). */
  quick?: boolean;
  /** Report folder (default flipguard-report); a non-empty one is refused unless `force`. */
  outDir?: string;
  /** Replace the files an earlier flipguard run wrote in `outDir` (the user's other files stay). */
  force?: boolean;
  seed?: number;
  threads?: number;
  /** The command line, for the report's provenance. */
  command?: string;
  onStage?: (stage: string, index: number, total: number) => void;
  onProgress?: (p: CampaignProgress) => void;
  onGroundTruth?: (done: number, total: number) => void;
}

/** The demo's settings, in one place (what --quick changes is visible here and in the report). */
export function demoSettings(quick: boolean) {
  return quick
    ? {
      bers: [1e-7, 1e-6, 1e-5, 5e-5], trials: 8, images: 1000, compareTrials: 3, compareImages: 500, bitTrials: 2, profileBits: '20-31', variants: 'none,ranger,edac:0.15,tmr-channels:0.15,tmr-weights:mem0.15,tmr-neurons:mem0.15,tmr-bits',
      formatBers: [1e-6, 1e-5, 1e-4], formatTrials: 2, calibrationImages: 200, formatProtection: 'tmr-channels:0.15',
    }
    : {
      bers: [1e-8, 5e-8, 1e-7, 5e-7, 1e-6, 5e-6, 1e-5, 5e-5, 1e-4], trials: 50, images: 2000, compareTrials: 10, compareImages: 2000, bitTrials: 10, profileBits: '0-31', variants: 'none,ranger,edac:0,edac:0.15,tmr-channels:0.15,tmr-weights:mem0.15,tmr-neurons:mem0.15,tmr-bits,tmr-bits:b31+30+29',
      formatBers: [1e-7, 1e-6, 1e-5, 1e-4], formatTrials: 20, calibrationImages: 1000, formatProtection: 'ranger,edac:0.15,tmr-channels:0.15,tmr-weights:0.15',
    };
}

export interface DemoResult extends WriteReportResult {
  golden: { accuracy: number; imagesPerSecond: number };
  rows: SweepRow[];
  scores: Scores;
}

/** Runs the whole story and writes the report folder (HTML + JSON + CSV + every input file). */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const quick = Boolean(opts.quick);
  const s = demoSettings(quick);
  const seed = opts.seed ?? DEFAULT_SEED;
  const modelPath = opts.model ?? DEFAULT_MODEL;
  // checked before the first minute of work; the model is never replaced, even with force
  const out = prepareOutputDir(opts.outDir ?? 'flipguard-report', { force: opts.force, protect: [modelPath], label: 'report folder' });
  const stages = ['golden accuracy', 'vulnerability ranking (Eq. 1)', 'ranking vs fault-injection ground truth', 'bit-position profile', 'harden variants and campaigns', 'number formats (float32, float16, bfloat16, int8)', 'report'];
  let stage = 0;
  const next = () => opts.onStage?.(stages[stage], stage++, stages.length);
  const runtime = { threads: opts.threads };

  const model: Model = loadModel(modelPath);
  const norm = normalizationFromMetadata(model.metadata);
  const load = (split: 'train' | 'test', limit?: number): Dataset => loadDataset({ data: 'mnist', split, limit, mean: norm?.mean, std: norm?.std });
  const train = load('train');
  const test = load('test', s.images);

  next();
  const golden = await evaluate(model, test, runtime);

  next();
  const scores = await rank(model, { method: 'vulnerability', data: train, seed, threads: opts.threads });
  const scoresPath = out.write('inputs/vulnerability.scores.json', JSON.stringify(scores));

  next();
  // the first conv layer: few channels, so the per-channel ground truth is affordable
  const layer = computeLayers(model).find((l) => l.kind === 'conv') ?? computeLayers(model)[0];
  const methods: RankMethod[] = ['vulnerability', 'lrp', 'l1', 'taylor', 'random'];
  const comparison = await compareRankings(model, {
    layer: layer.label, ber: 1e-3, data: load('test', s.compareImages), trials: s.compareTrials, seed, bits: '23-30',
    methods, rankData: train, runtime, onProgress: opts.onGroundTruth,
  });
  const comparePath = out.write('inputs/ranking.compare.json', JSON.stringify(comparison));

  next();
  // which bits matter: one flip per trial at each bit position of the conv/dense weights
  const profile = await bitProfile(model, { data: load('test', s.compareImages), bits: s.profileBits, trials: s.bitTrials, faults: 1, seed, runtime });
  const profilePath = out.write('inputs/bits.profile.json', JSON.stringify(profile));

  next();
  const variants = parseVariants(s.variants);
  const rows = await hardenSweep(model, {
    variants, train, test, runtime, outDir: out, outPrefix: 'variants/',
    scores: rankingProvider(model, train, { given: { channel: scores }, seed, threads: opts.threads }),
    campaign: { bers: s.bers, trials: s.trials, seed, threads: opts.threads },
    onProgress: opts.onProgress,
  });
  const inputs: string[] = [scoresPath, comparePath, profilePath];
  for (const r of rows) {
    const slug = r.variant.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
    inputs.push(out.write(`inputs/${slug}.summary.json`, JSON.stringify(summaryJson(r.campaign, { variant: r.variant, model: modelPath, config: r.campaign.config }))));
    if (r.overheads) inputs.push(out.write(`inputs/${slug}.harden.json`, JSON.stringify({ variant: r.variant, method: r.method, ratio: r.ratio, overheads: r.overheads } satisfies HardenReportFile)));
  }

  next();
  // the same model stored as float16, bfloat16 (converted) and int8 (quantized on training images), one campaign each
  const formats = await compareFormats({
    model, data: test, train: subset(train, s.calibrationImages), bers: s.formatBers, trials: s.formatTrials, seed, threads: opts.threads, onProgress: opts.onProgress,
  });
  // …and per format what each hardening method buys (formats harden refuses are left out, with their sentence)
  const protection = await protectFormats(formats, { variants: s.formatProtection, train, data: test, bers: s.formatBers, trials: s.formatTrials, seed, threads: opts.threads, onProgress: opts.onProgress });
  inputs.push(out.write('inputs/formats.json', JSON.stringify(formatsJson([...formats, ...protection.rows], modelPath))));

  next();
  const settings = `${quick ? 'quick mode: ' : ''}${s.bers.length} BERs (${s.bers.join(', ')}), ${s.trials} trials per BER and variant, ${test.count} MNIST test images per trial; ground truth: ${s.compareTrials} trials per channel of ${layer.label} at BER 1e-3 (exponent bits) on ${Math.min(s.compareImages, 2000)} images; bit profile: bits ${s.profileBits}, ${s.bitTrials} single-flip trials per position; number formats: ${s.formatBers.length} BERs (${s.formatBers.join(', ')}), ${s.formatTrials} trials per BER and format, int8 calibrated on ${s.calibrationImages} training images, protection ${s.formatProtection}${protection.skipped.length ? ` (not applied: ${protection.skipped.join(' ')})` : ''}`;
  const report = writeReport({
    inputs, outDir: out,
    title: `flipguard reliability report — ${modelPath.split('/').pop()}`,
    provenance: { commands: [opts.command ?? 'flipguard demo', `settings: ${settings}`], seeds: [seed] },
  });
  return { ...report, golden: { accuracy: golden.accuracy, imagesPerSecond: golden.imagesPerSecond }, rows, scores };
}

