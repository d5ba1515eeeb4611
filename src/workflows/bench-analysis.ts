/**
 * Bench hook for the importance scores: wall-clock time of each method on the shipped VGG-11-style
 * MNIST model (`models/vgg11-mnist.onnx`, width 0.25) with its default image counts, measured in
 * one process (graph building, session creation, image selection and every onnxruntime run
 * included). The budget: Eq. (1) on 128 images and LRP on 1,000 images each under 60 s.
 */
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../data/index.js';
import { loadModel } from '../graph/load.js';
import type { Model } from '../graph/types.js';
import { ANALYSIS_DEFAULTS } from '../analysis/defaults.js';
import { textTable } from '../analysis/format.js';
import { rank, type RankOptions } from '../analysis/index.js';

/** The shipped default model, resolved from this file (dist/src/analysis → models/). */
export const BENCH_MODEL = fileURLToPath(new URL('../../../models/vgg11-mnist.onnx', import.meta.url));

export interface AnalysisBenchRow {
  method: string;
  /** Training images the method used. */
  images: number;
  ms: number;
  /** Within the 60 s budget. */
  withinBudget: boolean;
}

/**
 * Times every scoring method on `model` (default the shipped VGG-11 MNIST model) with the bundled
 * MNIST training split; returns the rows and a printable table.
 */
export async function benchAnalysis(opts: { model?: Model; threads?: number } = {}): Promise<{ rows: AnalysisBenchRow[]; text: string }> {
  const model = opts.model ?? loadModel(BENCH_MODEL);
  const data = loadDataset({ data: 'mnist', split: 'train' });
  const cases: [string, Omit<RankOptions, 'data' | 'threads'>, number][] = [
    ['vulnerability (Eq. 1, exact)', { method: 'vulnerability' }, ANALYSIS_DEFAULTS.vulnerabilityImages],
    ['vulnerability (batch-summed)', { method: 'vulnerability', approx: 'batch' }, ANALYSIS_DEFAULTS.vulnerabilityImages],
    ['lrp (per weight)', { method: 'lrp' }, ANALYSIS_DEFAULTS.referenceImages],
    ['lrp (epsilon composite)', { method: 'lrp', composite: 'epsilon' }, ANALYSIS_DEFAULTS.referenceImages],
    ['neurons (|a|)', { method: 'neurons' }, ANALYSIS_DEFAULTS.referenceImages],
    ['neurons (|a·dy/da|)', { method: 'neurons', score: 'gradient' }, ANALYSIS_DEFAULTS.referenceImages],
    ['neurons (LRP)', { method: 'neurons', score: 'lrp' }, ANALYSIS_DEFAULTS.referenceImages],
    ['taylor', { method: 'taylor' }, ANALYSIS_DEFAULTS.taylorImages],
    ['l1', { method: 'l1' }, 0],
  ];
  const rows: AnalysisBenchRow[] = [];
  for (const [label, o, images] of cases) {
    const t = performance.now();
    await rank(model, { ...o, data, threads: opts.threads });
    const ms = performance.now() - t;
    rows.push({ method: label, images, ms, withinBudget: ms < 60_000 });
  }
  const text = textTable(['method', 'images', 'ms', '< 60 s'], rows.map((r) => [r.method, r.images, r.ms.toFixed(0), r.withinBudget ? 'yes' : 'NO']));
  return { rows, text };
}
