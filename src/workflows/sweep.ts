/**
 * A set of hardening variants of one model, each measured the same way: overheads against the
 * original and one fault-injection campaign over the same BERs, seeds and images. What
 * `flipguard harden --sweep` and `flipguard demo` print and report.
 */
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import { writeModel } from '../graph/onnx.js';
import { outputDirOf, type OutputDir } from '../util/fs-safe.js';
import type { Scores } from '../analysis/scores.js';
import { rank, type RankMethod } from '../analysis/index.js';
import { runCampaign, type CampaignOptions, type CampaignResult } from '../campaign/index.js';
import type { ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { harden, HARDEN_METHODS, type HardenMethod, type HardenReport } from '../harden/index.js';
import { countHardened, overheads, readOverheads, type HardenReportFile, type Overheads } from '../harden/overhead.js';
import { readSummaryFile, summaryJson, type CampaignSummaryFile } from '../campaign/summary.js';
import { FieldError, arr, at, num, obj, optStr, str, type Obj } from '../util/validate.js';
import { profileIntervals, type Intervals } from '../harden/profile.js';
import { paretoBer, paretoView, type ParetoView } from '../report/pareto.js';
import { DEFAULT_PARETO_BER, DEFAULT_RATIO } from '../defaults.js';
import { checkBits } from '../harden/tmr-bits.js';

export interface Variant {
  /** Display name, e.g. "edac 15%". */
  name: string;
  /** 'none' is the unprotected original. */
  method: HardenMethod | 'none';
  ratio?: number;
  /** Choose the ratio so that the float-parameter overhead matches this value (e.g. 0.15). */
  matchMemory?: number;
  /** tmr-bits: the bit positions (default [30]). */
  bits?: number[];
}

/**
 * Parses "edac:0.15,ranger,tmr-weights:mem0.15,tmr-bits:b30+29:0.1,none" into variants (tmr-bits:
 * `bB1+B2…` names the bits, default 30; without a ratio it protects every weight).
 */
export function parseVariants(spec: string): Variant[] {
  return spec.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const parts = s.split(':');
    let bits: number[] | undefined;
    if (parts[0] === 'tmr-bits' && parts[1] !== undefined && /^b/.test(parts[1])) {
      if (!/^b\d+(\+\d+)*$/.test(parts[1])) throw new FlipguardError(`Variant "${s}" has bits "${parts[1]}"; write them as b30 or b31+30+29.`);
      bits = checkBits(parts[1].slice(1).split('+').map(Number));
      parts.splice(1, 1);
    }
    const v = parseVariant(s, parts[0], parts[1]);
    if (!bits) return v;
    const label = `b${[...bits].reverse().join('+')}`;
    return { ...v, bits, name: v.name.replace(/^tmr-bits/, `tmr-bits ${label}`) };
  });
}

function parseVariant(s: string, method: string, arg: string | undefined): Variant {
  if (method !== 'none' && !HARDEN_METHODS.includes(method as HardenMethod)) {
    throw new FlipguardError(`Unknown variant "${s}"; use none or one of ${HARDEN_METHODS.join(', ')}, optionally with :RATIO or :memOVERHEAD (e.g. edac:0.15, tmr-weights:mem0.15).`);
  }
  if (arg === undefined) return { name: method, method: method as Variant['method'] };
  const mem = /^mem([\d.]+)$/.exec(arg);
  if (mem) return { name: `${method} (mem ${Math.round(Number(mem[1]) * 100)}%)`, method: method as HardenMethod, matchMemory: Number(mem[1]) };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new FlipguardError(`Variant "${s}" has ratio "${arg}"; give a number in [0, 1] or memX (e.g. mem0.15).`);
  return { name: `${method} ${Math.round(ratio * 1000) / 10}%`, method: method as HardenMethod, ratio };
}

/** The default comparison of issue 6 / paper A: unprotected, ranger, edac 0%/15%, tmr-channels 15%, tmr-weights and tmr-neurons at edac-15%'s memory. */
export const DEFAULT_VARIANTS = 'none,ranger,edac:0,edac:0.15,tmr-channels:0.15,tmr-weights:mem0.15,tmr-neurons:mem0.15';

export type Unit = 'channel' | 'weight' | 'neuron';

/** Default ranking per unit kind: Eq. (1) for channels (paper A), LRP for weights (B), neuron criticality for neurons (C). */
export const DEFAULT_RANKING: Readonly<Record<Unit, RankMethod>> = { channel: 'vulnerability', weight: 'lrp', neuron: 'neurons' };

/**
 * A scores provider for hardening: each unit kind's ranking is computed once on `data` (the
 * training split), by `methods[unit]` or the default for that unit; `given[unit]` is used as is.
 */
export function rankingProvider(model: Model, data: ImageSet, opts: { methods?: Partial<Record<Unit, RankMethod>>; given?: Partial<Record<Unit, Scores>>; images?: number; seed?: number; threads?: number } = {}): (unit: Unit) => Promise<Scores> {
  const cache = new Map<Unit, Promise<Scores>>();
  return (unit) => {
    const given = opts.given?.[unit];
    if (given) return Promise.resolve(given);
    if (!cache.has(unit)) {
      const method = opts.methods?.[unit] ?? DEFAULT_RANKING[unit];
      cache.set(unit, rank(model, { method, data, images: opts.images, seed: opts.seed, unit, threads: opts.threads }));
    }
    return cache.get(unit)!;
  };
}

/** The unit kind a hardening method protects. */
export function unitOf(method: HardenMethod): Unit {
  return method === 'tmr-weights' || method === 'tmr-bits' ? 'weight' : method === 'tmr-neurons' ? 'neuron' : 'channel';
}

export interface SweepOptions {
  variants: Variant[];
  /** Scores per unit kind: channel scores (edac, tmr-channels), weight scores (tmr-weights), neuron scores (tmr-neurons). */
  scores: (unit: 'channel' | 'weight' | 'neuron') => Promise<Scores>;
  /** Training images (intervals). */
  train: ImageSet;
  /** Test images (campaigns, time). */
  test: ImageSet;
  campaign: Omit<CampaignOptions, 'model' | 'data' | 'out'>;
  /**
   * Folder for the hardened models and campaign records (optional), or one the caller prepared. A
   * non-empty folder is refused unless `force` (then only flipguard's earlier files there are replaced).
   */
  outDir?: string | OutputDir;
  /** Subfolder of `outDir` for the files, e.g. "variants/" (default the folder itself). */
  outPrefix?: string;
  /** Replace the files an earlier flipguard run wrote in `outDir`. */
  force?: boolean;
  /** Files never to replace in `outDir`, even with `force` (the input model). */
  protect?: readonly string[];
  runtime?: RuntimeOptions;
  onVariant?: (v: Variant, index: number) => void;
  onProgress?: CampaignOptions['onProgress'];
}

export interface SweepRow {
  variant: string;
  method: string;
  ratio: number;
  overheads: Overheads | null;
  report: HardenReport | null;
  campaign: CampaignResult;
  modelPath?: string;
  recordsPath?: string;
}

/** Hardens, measures and runs a campaign on every variant. Intervals are profiled once. */
export async function hardenSweep(model: Model, opts: SweepOptions): Promise<SweepRow[]> {
  let intervals: Intervals | undefined;
  const rows: SweepRow[] = [];
  const baseParams = countHardened(model).parameters;
  // queue workers load each variant's model from a file, so the variants must be written first
  if (opts.campaign.queue && !opts.outDir) throw new FlipguardError(`A sweep on a job queue needs ${opt('outDir')} for the hardened models, and the workers need that folder among their models.`);
  const out = opts.outDir !== undefined ? outputDirOf(opts.outDir, { force: opts.force, protect: opts.protect }) : undefined;
  const prefix = opts.outPrefix ?? '';
  for (const [i, v] of opts.variants.entries()) {
    opts.onVariant?.(v, i);
    let hardened = model;
    let report: HardenReport | null = null;
    let ratio = v.ratio ?? 0;
    if (v.method !== 'none') {
      const method = v.method;
      const needsIntervals = method === 'edac' || method === 'ranger';
      if (needsIntervals && !intervals) intervals = await profileIntervals(model, opts.train, { ...opts.runtime });
      const everyWeight = method === 'tmr-bits' && v.ratio === undefined && v.matchMemory === undefined;
      const scores = method === 'ranger' || everyWeight ? undefined : await opts.scores(unitOf(method));
      const make = (r: number) => harden(model, { method, ratio: r, scores, intervals, bits: v.bits, runtime: opts.runtime });
      if (v.matchMemory !== undefined) {
        // bisection on the ratio: parameters grow monotonically with it
        let lo = 0, hi = 1;
        for (let k = 0; k < 14; k++) {
          const mid = (lo + hi) / 2;
          const h = await make(mid);
          if (countHardened(h.model).parameters / baseParams - 1 > v.matchMemory) hi = mid; else lo = mid;
        }
        ratio = lo;
      } else ratio = v.ratio ?? (method === 'ranger' ? 0 : everyWeight ? 1 : DEFAULT_RATIO);
      const r = await make(ratio);
      hardened = r.model;
      report = r.report;
    }
    const ov = v.method === 'none' ? null : await overheads(model, hardened, opts.test, { ...opts.runtime, runs: 3 });
    const slug = v.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
    const modelPath = out && v.method !== 'none' ? out.claim(`${prefix}${slug}.onnx`) : undefined;
    if (modelPath) writeModel(modelPath, hardened);
    const recordsPath = out?.claim(`${prefix}${slug}.jsonl`);
    const campaign = await runCampaign({ ...opts.campaign, model: hardened, data: opts.test, out: recordsPath, onProgress: opts.onProgress });
    rows.push({ variant: v.name, method: v.method, ratio, overheads: ov, report, campaign, modelPath, recordsPath });
  }
  return rows;
}

/**
 * The Pareto view of a sweep at `ber` (default DEFAULT_PARETO_BER when every variant has it, else
 * the largest BER they share): drop with its interval, stored-bytes and time overheads.
 */
export function sweepPareto(rows: readonly SweepRow[], ber?: number): ParetoView | undefined {
  const b = paretoBer(rows.map((r) => r.campaign.bers.map((x) => x.ber)), ber ?? DEFAULT_PARETO_BER);
  if (b === undefined) return undefined;
  return paretoView(rows.map((r) => {
    const s = r.campaign.bers.find((x) => x.ber === b)!;
    const ok = Number.isFinite(s.ci95[0]) && Number.isFinite(s.ci95[1]);
    return {
      variant: r.variant, drop: s.meanDrop, ciLow: ok ? s.ci95[0] : null, ciHigh: ok ? s.ci95[1] : null,
      memory: r.overheads ? r.overheads.storedBytes.ratio - 1 : 0, time: r.overheads ? r.overheads.time.ratio - 1 : 0,
    };
  }), b);
}

// ───────────────────────────── the sweep file ─────────────────────────────

/** One variant of a sweep file: its overheads (null for the unhardened model) and its campaign summary. */
export interface HardenSweepVariant {
  variant: string;
  method: string;
  /** Share of units hardened, in [0, 1]. */
  ratio: number;
  overheads: HardenReportFile['overheads'] | null;
  campaign: CampaignSummaryFile | null;
  /** The harden report without its per-layer lists (null for the unhardened model); not read back. */
  report?: object | null;
  modelPath?: string;
  recordsPath?: string;
}

/** A hardening sweep as `flipguard harden --sweep --json` writes it (`sweepJson`) and the report reads it. */
export interface HardenSweepFile {
  model?: string;
  /** The Pareto view of the sweep (`sweepPareto`); not read back. */
  pareto?: ParetoView;
  variants: HardenSweepVariant[];
}

/** The sweep file of `rows` (`HardenSweepFile`): each variant's overheads, report and campaign summary. */
export function sweepJson(rows: readonly SweepRow[], extra: { model?: string; pareto?: ParetoView } = {}): HardenSweepFile {
  return {
    model: extra.model,
    ...(extra.pareto ? { pareto: extra.pareto } : {}),
    variants: rows.map((r) => ({
      variant: r.variant, method: r.method, ratio: r.ratio, overheads: r.overheads,
      report: r.report && { ...r.report, layers: undefined, weights: undefined },
      campaign: summaryJson(r.campaign, { variant: r.variant }), modelPath: r.modelPath, recordsPath: r.recordsPath,
    })),
  };
}

/** Reads a sweep file (`HardenSweepFile`, the fields the report uses); throws a FieldError naming the first bad field. */
export function readHardenSweepFile(o: Obj): HardenSweepFile {
  const variants = arr(o.variants, 'variants', true).map((v, i): HardenSweepVariant => {
    const f = at('variants', i);
    const vo = obj(v, f);
    let campaign: CampaignSummaryFile | null = null;
    if (vo.campaign !== undefined && vo.campaign !== null) {
      try {
        campaign = readSummaryFile(obj(vo.campaign, `${f}.campaign`));
      } catch (e) {
        if (e instanceof FieldError && !e.field.startsWith(f)) throw new FieldError(`${f}.campaign.${e.field}`, e.problem);
        throw e;
      }
    }
    return {
      variant: str(vo.variant, `${f}.variant`),
      method: str(vo.method, `${f}.method`),
      ratio: num(vo.ratio, `${f}.ratio`, [0, 1]),
      overheads: vo.overheads === undefined || vo.overheads === null ? null : readOverheads(vo.overheads, `${f}.overheads`),
      campaign,
    };
  });
  const out: HardenSweepFile = { variants };
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}
