/**
 * The per-format comparison (issue 15): one model in float32, float16, bfloat16 and int8, each
 * assessed by a campaign with the same seed, BERs and trials, so the rows answer "in the format I
 * ship, how fragile is my model?". float16/bfloat16 versions come from `convertModel`, the int8 one
 * from `quantizeModel` calibrated on the training images; BER is per stored bit in each format, so
 * a format with fewer bits per parameter also receives fewer faults at the same BER.
 */
import { FlipguardError, opt } from '../errors.js';
import { runCampaign, type CampaignOptions, type CampaignResult } from '../campaign/run.js';
import { readSummaryFile, summaryJson, type CampaignSummaryFile } from '../campaign/summary.js';
import { FieldError, arr, at, num, obj, optStr, str, type Obj } from '../util/validate.js';
import { convertModel } from '../formats/convert.js';
import { quantizeModel, type Calibration } from '../formats/quantize.js';
import { formatCounts } from '../graph/info.js';
import { harden, type HardenMethod } from '../harden/index.js';
import { profileIntervals, type Intervals } from '../harden/profile.js';
import { DEFAULT_RATIO } from '../defaults.js';
import { parseVariants, rankingProvider, unitOf } from './sweep.js';
import type { Model } from '../graph/types.js';
import type { ImageSet } from '../runtime/evaluate.js';

export type ModelFormat = 'float32' | 'float16' | 'bfloat16' | 'int8';
export const MODEL_FORMATS: readonly ModelFormat[] = ['float32', 'float16', 'bfloat16', 'int8'];

export interface CompareFormatsOptions extends Omit<CampaignOptions, 'model' | 'data' | 'out'> {
  /** The float32 model. */
  model: Model;
  /** Evaluation images of the campaigns. */
  data: ImageSet;
  /** Training images (int8 calibration); required when `formats` holds int8. */
  train?: ImageSet;
  /** Formats to compare, default all four. */
  formats?: readonly ModelFormat[];
  /** int8 activation calibration (default minmax). */
  calibration?: Calibration;
  /** Called when a format's campaign starts. */
  onFormat?: (format: ModelFormat) => void;
}

export interface FormatRow {
  format: ModelFormat;
  model: Model;
  /** Stored parameter bits the BER applies to (all formats of the version's targets). */
  bits: number;
  campaign: CampaignResult;
  /** Hardening variant of a protected version (absent: the unprotected one). */
  variant?: string;
}

/**
 * The per-format comparison file (`flipguard inject --formats … --json`, the demo's formats.json;
 * report kind 'formats'): one campaign summary per number format of one model, each with the
 * stored parameter bits its BER applies to; `variant` names a hardening method for a protected
 * version (absent: unprotected).
 */
export interface FormatsFile {
  model?: string;
  formats: { format: string; bits: number; variant?: string; summary: CampaignSummaryFile }[];
}

/** The per-format comparison file of `rows` (`FormatsFile`). */
export function formatsJson(rows: readonly FormatRow[], model?: string): FormatsFile {
  return {
    ...(model === undefined ? {} : { model }),
    formats: rows.map((r) => ({ format: r.format, bits: r.bits, ...(r.variant ? { variant: r.variant } : {}), summary: summaryJson(r.campaign, { config: r.campaign.config }) })),
  };
}

/** Reads a per-format comparison file (`FormatsFile`); throws a FieldError naming the first bad field. */
export function readFormatsFile(o: Obj): FormatsFile {
  const formats = arr(o.formats, 'formats', true).map((v, i) => {
    const f = at('formats', i);
    const fo = obj(v, f);
    let summary: CampaignSummaryFile;
    try {
      summary = readSummaryFile(obj(fo.summary, `${f}.summary`));
    } catch (e) {
      if (e instanceof FieldError && !e.field.startsWith(f)) throw new FieldError(`${f}.summary.${e.field}`, e.problem);
      throw e;
    }
    const entry: FormatsFile['formats'][number] = { format: str(fo.format, `${f}.format`), bits: num(fo.bits, `${f}.bits`, [0, Number.MAX_SAFE_INTEGER]), summary };
    const variant = optStr(fo.variant, `${f}.variant`);
    if (variant !== undefined) entry.variant = variant;
    return entry;
  });
  const seen = new Set<string>();
  for (const [i, e] of formats.entries()) {
    const key = `${e.format}|${e.variant ?? 'none'}`;
    if (seen.has(key)) throw new FieldError(at('formats', i), `repeats format ${e.format}${e.variant ? ` with variant ${e.variant}` : ''}`);
    seen.add(key);
  }
  const out: FormatsFile = { formats };
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}

export interface ProtectFormatsOptions extends Omit<CampaignOptions, 'model' | 'data' | 'out'> {
  /** Hardening variants (sweep syntax, e.g. "ranger,tmr-channels:0.15"; memory-matched ones are not taken). */
  variants: string;
  /** Training images: rankings (vulnerability, as the sweep) and ranger/EDAC intervals. */
  train: ImageSet;
  /** Evaluation images of the campaigns. */
  data: ImageSet;
}

/**
 * Per format row, every hardening variant applied to that version and its campaign (the same
 * settings as the unprotected ones): what each method buys in each format. A variant harden
 * refuses for a format (a FlipguardError) is left out, its sentence returned in `skipped`.
 */
export async function protectFormats(rows: readonly FormatRow[], opts: ProtectFormatsOptions): Promise<{ rows: FormatRow[]; skipped: string[] }> {
  const { variants: spec, train, data, ...campaign } = opts;
  const variants = parseVariants(spec).filter((v) => v.method !== 'none');
  for (const v of variants) if (v.matchMemory !== undefined) throw new FlipguardError(`The variant "${v.name}" matches a memory budget, which the per-format comparison does not search; give a ratio (e.g. ${v.method}:0.15).`);
  const out: FormatRow[] = [];
  const skipped: string[] = [];
  const runtime = { threads: opts.threads };
  for (const row of rows) {
    const scores = rankingProvider(row.model, train, { seed: opts.seed, threads: opts.threads });
    let intervals: Intervals | undefined;
    for (const v of variants) {
      const method = v.method as HardenMethod; // 'none' filtered out above
      try {
        if ((method === 'edac' || method === 'ranger') && !intervals) intervals = await profileIntervals(row.model, train, runtime);
        const everyWeight = method === 'tmr-bits' && v.ratio === undefined;
        const ratio = v.ratio ?? (method === 'ranger' ? 0 : everyWeight ? 1 : DEFAULT_RATIO);
        const h = await harden(row.model, { method, ratio, scores: method === 'ranger' || everyWeight ? undefined : await scores(unitOf(method)), intervals, bits: v.bits, runtime });
        const result = await runCampaign({ ...campaign, model: h.model, data });
        out.push({ format: row.format, variant: v.name, model: h.model, bits: formatCounts(h.model).reduce((s, c) => s + c.bits, 0), campaign: result });
      } catch (e) {
        if (!(e instanceof FlipguardError)) throw e;
        skipped.push(`${row.format} ${v.name}: ${e.message}`);
      }
    }
  }
  return { rows: out, skipped };
}

/** Builds one model version per format (float32 is the model itself). */
export async function modelVersion(model: Model, format: ModelFormat, train: ImageSet | undefined, opts: { calibration?: Calibration; threads?: number } = {}): Promise<Model> {
  if (format === 'float32') return model;
  if (format === 'float16' || format === 'bfloat16') return convertModel(model, format).model;
  if (!train) throw new FlipguardError(`The int8 version needs training images to calibrate on; pass ${opt('train')}.`);
  return (await quantizeModel(model, train, { calibration: opts.calibration, threads: opts.threads })).model;
}

/** Campaigns over every requested format of `model`, with identical settings. */
export async function compareFormats(opts: CompareFormatsOptions): Promise<FormatRow[]> {
  const formats = opts.formats ?? MODEL_FORMATS;
  if (formats.length === 0) throw new FlipguardError(`No formats to compare; set ${opt('formats')} to some of ${MODEL_FORMATS.join(', ')}.`);
  for (const f of formats) if (!MODEL_FORMATS.includes(f)) throw new FlipguardError(`Unknown format "${String(f)}"; set ${opt('formats')} to some of ${MODEL_FORMATS.join(', ')}.`);
  const { model, data, train, formats: _f, calibration, onFormat, ...campaign } = opts;
  const rows: FormatRow[] = [];
  for (const format of formats) {
    const version = await modelVersion(model, format, train, { calibration, threads: opts.threads });
    onFormat?.(format);
    const result = await runCampaign({ ...campaign, model: version, data });
    rows.push({ format, model: version, bits: formatCounts(version).reduce((s, c) => s + c.bits, 0), campaign: result });
  }
  return rows;
}
