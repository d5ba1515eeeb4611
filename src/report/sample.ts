/**
 * A synthetic but realistic set of report inputs (LeNet-5 on a 10 000-image MNIST test set, seeded,
 * deterministic): campaigns of three variants over five BERs, rank scores, three harden reports, a
 * ranking comparison, a prune search and provenance. For demos (`flipguard report` on a sample)
 * and tests; the numbers are simulated, not measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize } from '../campaign/summary.js';
import { Rng } from '../util/rng.js';
import type { CampaignRecordsHeader, CampaignSummaryFile, CampaignTrialLine, CompareFile, HardenReportFile, ProvenanceFile, PruneReportFile, RankScoresFile } from './types.js';

export const SAMPLE_BERS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3] as const;
export const SAMPLE_VARIANTS = ['lenet5-baseline', 'lenet5-tmr10', 'lenet5-tmr30'] as const;
const IMAGES = 10000;
const GOLDEN = 0.9912;
const STORED_BITS = 61706 * 32;
/** Share of the vulnerability that each variant's redundancy removes. */
const PROTECTION: Record<(typeof SAMPLE_VARIANTS)[number], number> = { 'lenet5-baseline': 0, 'lenet5-tmr10': 0.55, 'lenet5-tmr30': 0.85 };

function poisson(rng: Rng, lambda: number): number {
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * rng.normal()));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  for (;;) {
    p *= rng.next();
    if (p <= l) return k;
    k++;
  }
}

/** Simulated trial lines of one variant: critical (exponent MSB) flips drive the drop and DUEs. */
export function sampleTrials(variant: (typeof SAMPLE_VARIANTS)[number], trials = 30, seed = 1): CampaignTrialLine[] {
  const out: CampaignTrialLine[] = [];
  for (const ber of SAMPLE_BERS) {
    for (let trial = 0; trial < trials; trial++) {
      const tseed = Rng.derive(seed, 'sample', variant, ber, trial);
      const rng = new Rng(tseed);
      const faults = poisson(rng, ber * STORED_BITS);
      const critical = poisson(rng, (faults / 32) * (1 - PROTECTION[variant]) * 1.4);
      let keep = 1;
      let due = 0;
      for (let i = 0; i < critical; i++) {
        keep *= 1 - 0.7 * rng.next() ** 2;
        if (rng.next() < 0.08) due += 0.2 + 0.8 * rng.next();
      }
      due = Math.min(1, due);
      const noise = Math.abs(rng.normal()) * 0.0004 * Math.sqrt(faults);
      const acc = Math.max(0.098, Math.min(GOLDEN, (GOLDEN * keep - noise) * (1 - due) + 0.098 * due * keep));
      const correct = Math.round(acc * IMAGES);
      const accuracy = correct / IMAGES;
      const sdc = Math.min(1 - due, Math.max(0, (GOLDEN - accuracy) * 1.04 - due * 0.9 + 0.0003 * rng.next()));
      out.push({
        ber, trial, seed: tseed, faults, accuracy,
        accuracyDrop: ((Math.round(GOLDEN * IMAGES) - correct) * 100) / IMAGES,
        sdcRate: Math.round(sdc * IMAGES) / IMAGES,
        dueRate: Math.round(due * IMAGES) / IMAGES,
        millis: Math.round((180 + 0.02 * faults + 40 * rng.next()) * 1000) / 1000,
      });
    }
  }
  return out;
}

/** A campaign summary document of one variant, as `flipguard campaign --json` writes it. */
export function sampleSummary(variant: (typeof SAMPLE_VARIANTS)[number], trials = 30): CampaignSummaryFile & { records?: unknown } {
  const s = summarize(sampleTrials(variant, trials), { golden: { accuracy: GOLDEN, correct: Math.round(GOLDEN * IMAGES), count: IMAGES, due: 0 } });
  return JSON.parse(JSON.stringify({ model: 'lenet5', config: { seed: 1, data: { name: 'mnist-test', count: IMAGES }, kind: 'flip', count: 'binomial' }, ...s }));
}

/** The record-file header a campaign of `variant` starts with (flat spelling). */
export function sampleHeader(variant: string): CampaignRecordsHeader {
  return { kind: 'flipguard-campaign', variant, model: 'lenet5', seed: 1, data: 'mnist-test', count: 'binomial', faultKind: 'flip', golden: { accuracy: GOLDEN } };
}

const LENET = [
  { name: 'conv1', op: 'Conv', unit: 'channel' as const, n: 6, scale: 0.6 },
  { name: 'conv2', op: 'Conv', unit: 'channel' as const, n: 16, scale: 1 },
  { name: 'fc1', op: 'Gemm', unit: 'neuron' as const, n: 120, scale: 0.35 },
  { name: 'fc2', op: 'Gemm', unit: 'neuron' as const, n: 84, scale: 0.25 },
  { name: 'fc3', op: 'Gemm', unit: 'neuron' as const, n: 10, scale: 0.8 },
];

/** Eq. (1)-style vulnerability scores of LeNet-5's layers (heavy-tailed, seeded). */
export function sampleScores(method = 'eq1-vulnerability', seed = 7): RankScoresFile {
  const rng = new Rng(seed);
  return {
    method,
    layers: LENET.map((l) => ({
      name: l.name, op: l.op, unit: l.unit,
      scores: Array.from({ length: l.n }, () => Math.round(l.scale * Math.exp(1.1 * rng.normal()) * 1e6) / 1e6),
    })),
  };
}

/** Harden reports: selective TMR of 10 % and 30 % of channels, and range restriction. */
export function sampleHardenReports(): { name: string; data: HardenReportFile }[] {
  const ov = (p: number, b: number, m: number, t: number): HardenReportFile['overheads'] => ({
    parameters: { original: 61706, hardened: Math.round(61706 * p), ratio: Math.round(61706 * p) / 61706 },
    storedBytes: { original: 246824, hardened: Math.round(246824 * b), ratio: Math.round(246824 * b) / 246824 },
    macs: { original: 416520, hardened: Math.round(416520 * m), ratio: Math.round(416520 * m) / 416520 },
    time: { original: 2.31, hardened: Math.round(2310 * t) / 1000, ratio: Math.round(2310 * t) / 2310, images: 10000, runs: 3, batch: 256 },
  });
  return [
    { name: 'lenet5-tmr10', data: { method: 'selective-tmr', ratio: 0.1, model: 'lenet5', overheads: ov(1.21, 1.21, 1.18, 1.27) } },
    { name: 'lenet5-tmr30', data: { method: 'selective-tmr', ratio: 0.3, model: 'lenet5', overheads: ov(1.63, 1.63, 1.55, 1.71) } },
    { name: 'lenet5-ranger', data: { method: 'range-restriction', ratio: 0, model: 'lenet5', variant: 'lenet5-ranger', overheads: ov(1.004, 1.004, 1.0, 1.06) } },
  ];
}

export function sampleCompare(): CompareFile {
  return {
    layer: 'conv2', ber: 1e-5, k: 8,
    rows: [
      { method: 'eq1-vulnerability', spearman: 0.824, kendall: 0.663, topkOverlap: 0.75 },
      { method: 'lrp', spearman: 0.712, kendall: 0.55, topkOverlap: 0.625 },
      { method: 'gradient', spearman: 0.641, kendall: 0.492, topkOverlap: 0.5 },
      { method: 'weight-magnitude', spearman: 0.381, kendall: 0.267, topkOverlap: 0.375 },
      { method: 'random', spearman: 0.021, kendall: 0.017, topkOverlap: 0.125 },
    ],
  };
}

export function samplePrune(): PruneReportFile {
  const explored = [];
  for (const pConv of [0, 0.25, 0.5]) {
    for (const pFc of [0, 0.25, 0.5, 0.75]) {
      const accuracy = Math.round((GOLDEN - 0.004 * pConv ** 1.5 * 4 - 0.006 * pFc ** 2.2 * 3) * 10000) / 10000;
      const parameters = Math.round(61706 * (1 - 0.25 * pConv - 0.7 * pFc));
      const macs = Math.round(416520 * (1 - 0.85 * pConv - 0.1 * pFc));
      explored.push({ pConv, pFc, accuracy, parameters, macs, timeMs: Math.round(412 * (1 - 0.6 * pConv - 0.1 * pFc)) / 1000, accepted: accuracy >= 0.985 });
    }
  }
  const chosen = explored.filter((e) => e.accepted).sort((a, b) => a.parameters - b.parameters)[0] ?? null;
  return { variant: 'lenet5', explored, chosen };
}

export function sampleProvenance(): ProvenanceFile {
  return {
    commands: [
      'flipguard train lenet5 --data mnist --epochs 10 --seed 1 --out lenet5.onnx',
      'flipguard rank lenet5.onnx --method eq1 --data mnist --json > scores.json',
      'flipguard harden lenet5.onnx --scores scores.json --method tmr --ratio 0.1 --out lenet5-tmr10.onnx --json > lenet5-tmr10.harden.json',
      'flipguard campaign lenet5.onnx --data mnist --ber 1e-7,1e-6,1e-5,1e-4,1e-3 --trials 30 --seed 1 --json > lenet5-baseline.summary.json',
    ],
    seeds: [1],
  };
}

/**
 * The sample inputs as `{name, data}` documents: three campaign summaries (the first names its
 * variant in a field, the others take the name), rank scores, three harden reports, a comparison,
 * a prune report and provenance.
 */
export function sampleReportInputs(trials = 30): { name: string; data: unknown }[] {
  const summaries = SAMPLE_VARIANTS.map((v, i) => ({ name: v, data: i === 0 ? { ...sampleSummary(v, trials), variant: v } : sampleSummary(v, trials) }));
  return [
    ...summaries,
    { name: 'scores', data: sampleScores() },
    ...sampleHardenReports(),
    { name: 'compare', data: sampleCompare() },
    { name: 'prune', data: samplePrune() },
    { name: 'provenance', data: sampleProvenance() },
  ];
}

/** Writes the sample inputs as files into `dir` (file names as flipguard's commands suggest); returns their paths. */
export function writeSampleInputs(dir: string, trials = 30): string[] {
  mkdirSync(dir, { recursive: true });
  const fileName = (name: string, data: unknown): string => {
    const d = data as Record<string, unknown>;
    if ('bers' in d) return `${name}.summary.json`;
    if ('overheads' in d) return `${name}.harden.json`;
    return `${name}.json`;
  };
  return sampleReportInputs(trials).map(({ name, data }) => {
    const p = join(dir, fileName(name, data));
    writeFileSync(p, `${JSON.stringify(data, null, 1)}\n`);
    return p;
  });
}

/** A campaign record file text (header line + one line per trial) of one sample variant. */
export function sampleRecordsText(variant: (typeof SAMPLE_VARIANTS)[number], trials = 30): string {
  return [JSON.stringify(sampleHeader(variant)), ...sampleTrials(variant, trials).map((r) => JSON.stringify(r))].join('\n') + '\n';
}
