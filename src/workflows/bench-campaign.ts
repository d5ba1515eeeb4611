/**
 * Campaign throughput benchmark: trials per second with each exact shortcut on and off, per BER,
 * and plain evaluation throughput (images per second). The lead calls `benchCampaign` from bench/.
 */
import type { Model } from '../graph/types.js';
import { evaluate, type ImageSet } from '../runtime/evaluate.js';
import type { CountMode } from '../faults/plan.js';
import { NO_SHORTCUTS, ALL_SHORTCUTS, type Shortcuts } from '../campaign/engine.js';
import { runCampaign } from '../campaign/run.js';
import { DEFAULT_SEED } from '../defaults.js';
import type { TrialRecord } from '../campaign/records.js';

export interface BenchCampaignOptions {
  model: Model;
  data: ImageSet;
  /** Default 1e-7, 1e-6, 1e-5, 1e-4, 1e-3. */
  bers?: number[];
  /** Trials per BER and setting (default 20). */
  trials?: number;
  seed?: number;
  count?: CountMode;
  limit?: number;
  batch?: number;
  threads?: number;
}

export interface BenchCampaignRow {
  ber: number;
  /** Shortcut setting: none, noFault, noFault+noEffect+dead, prefix, all. */
  setting: string;
  trialsPerSecond: number;
  /** trialsPerSecond / that of setting "none" at the same BER. */
  speedup: number;
  meanFaults: number;
  /** Whether the records equal those of setting "none" (must always be true). */
  identical: boolean;
}

export interface BenchCampaignResult {
  /** Plain `evaluate` throughput on the same data. */
  imagesPerSecond: number;
  /** Images evaluated per trial. */
  images: number;
  rows: BenchCampaignRow[];
  /** The rows as a Markdown table. */
  table: string;
}

export const BENCH_SETTINGS: { name: string; shortcuts: Required<Shortcuts> }[] = [
  { name: 'none', shortcuts: { ...NO_SHORTCUTS } },
  { name: 'noFault', shortcuts: { ...NO_SHORTCUTS, noFault: true } },
  { name: 'noFault+noEffect+dead', shortcuts: { ...NO_SHORTCUTS, noFault: true, noEffect: true, dead: true } },
  { name: 'prefix', shortcuts: { ...NO_SHORTCUTS, prefix: true } },
  { name: 'all', shortcuts: { ...ALL_SHORTCUTS } },
];

function sameResults(a: TrialRecord[], b: TrialRecord[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((r, i) => r.ber === b[i].ber && r.trial === b[i].trial && r.seed === b[i].seed && r.faults === b[i].faults
    && r.accuracy === b[i].accuracy && r.sdcRate === b[i].sdcRate && r.dueRate === b[i].dueRate);
}

/**
 * Measures campaign trials/s for every shortcut setting at every BER (in memory, no output file),
 * checks the records agree across settings, and measures plain evaluation images/s.
 */
export async function benchCampaign(opts: BenchCampaignOptions): Promise<BenchCampaignResult> {
  const bers = opts.bers ?? [1e-7, 1e-6, 1e-5, 1e-4, 1e-3];
  const trials = opts.trials ?? 20;
  const ev = await evaluate(opts.model, limitData(opts.data, opts.limit), { batch: opts.batch, threads: opts.threads });
  const rows: BenchCampaignRow[] = [];
  for (const ber of bers) {
    let base: { tps: number; records: TrialRecord[] } | undefined;
    for (const s of BENCH_SETTINGS) {
      const res = await runCampaign({
        model: opts.model, data: opts.data, limit: opts.limit, bers: [ber], trials, seed: opts.seed ?? DEFAULT_SEED, count: opts.count,
        batch: opts.batch, threads: opts.threads, shortcuts: s.shortcuts,
      });
      const b = res.bers[0];
      const tps = b.trialsPerSecond;
      if (!base) base = { tps, records: res.records };
      rows.push({ ber, setting: s.name, trialsPerSecond: tps, speedup: tps / base.tps, meanFaults: b.meanFaults, identical: sameResults(res.records, base.records) });
    }
  }
  const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '∞');
  const lines = [
    `plain evaluation: ${fmt(ev.imagesPerSecond, 0)} images/s on ${ev.total} images`,
    '',
    '| BER | setting | faults/trial | trials/s | speed-up | identical |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.ber} | ${r.setting} | ${fmt(r.meanFaults, 2)} | ${fmt(r.trialsPerSecond)} | ${fmt(r.speedup, 2)}× | ${r.identical ? 'yes' : 'NO'} |`),
  ];
  return { imagesPerSecond: ev.imagesPerSecond, images: ev.total, rows, table: lines.join('\n') };
}

function limitData(d: ImageSet, limit: number | undefined): ImageSet {
  if (limit === undefined || limit >= d.count) return d;
  const per = d.shape.reduce((a, b) => a * b, 1);
  return { ...d, x: d.x.subarray(0, limit * per), y: d.y.subarray(0, limit), count: limit };
}
