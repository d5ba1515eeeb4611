/**
 * The per-format comparison (issue 15): one model in float32, float16, bfloat16 and int8, each
 * assessed by a campaign with the same seed, BERs and trials, so the rows answer "in the format I
 * ship, how fragile is my model?". float16/bfloat16 versions come from `convertModel`, the int8 one
 * from `quantizeModel` calibrated on the training images; BER is per stored bit in each format, so
 * a format with fewer bits per parameter also receives fewer faults at the same BER.
 */
import { FlipguardError, opt } from '../errors.js';
import { runCampaign, type CampaignOptions, type CampaignResult } from '../campaign/run.js';
import { summaryJson } from '../campaign/summary.js';
import { convertModel } from '../formats/convert.js';
import { quantizeModel, type Calibration } from '../formats/quantize.js';
import { formatCounts } from '../graph/info.js';
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
}

/**
 * The per-format comparison as the JSON `flipguard inject --formats --json` writes and the report
 * reads (report kind 'formats'): per format its stored bits and campaign summary.
 */
export function formatsJson(rows: readonly FormatRow[], model?: string): { model?: string; formats: { format: ModelFormat; bits: number; summary: ReturnType<typeof summaryJson> }[] } {
  return { ...(model === undefined ? {} : { model }), formats: rows.map((r) => ({ format: r.format, bits: r.bits, summary: summaryJson(r.campaign, { config: r.campaign.config }) })) };
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
