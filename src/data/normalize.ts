import { FlipguardError } from '../errors.js';
import type { Dataset } from './dataset.js';

/** Per-channel normalisation: `x' = (x − mean[c]) / std[c]`, in the dataset's own pixel units. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** ONNX metadata_props key holding the per-channel mean as a JSON array of numbers. */
export const NORMALIZE_MEAN_KEY = 'flipguard.normalize.mean';
/** ONNX metadata_props key holding the per-channel std as a JSON array of numbers. */
export const NORMALIZE_STD_KEY = 'flipguard.normalize.std';

/**
 * Throws a FlipguardError unless `norm` has one finite mean and one finite std > 0 per channel.
 * `channels` is the dataset's C; `where` names the dataset in the message.
 */
export function checkNormalization(norm: Normalization, channels: number, where: string): void {
  const { mean, std } = norm;
  if (!Array.isArray(mean) || mean.length !== channels) {
    throw new FlipguardError(
      `Normalisation mean has ${Array.isArray(mean) ? mean.length : 'no'} values but ${where} has ${channels} channel(s); give exactly one mean per channel.`,
    );
  }
  if (!Array.isArray(std) || std.length !== channels) {
    throw new FlipguardError(
      `Normalisation std has ${Array.isArray(std) ? std.length : 'no'} values but ${where} has ${channels} channel(s); give exactly one std per channel.`,
    );
  }
  for (let c = 0; c < channels; c++) {
    if (typeof mean[c] !== 'number' || !Number.isFinite(mean[c])) {
      throw new FlipguardError(`Normalisation mean[${c}] is ${mean[c]}; give finite numbers.`);
    }
    if (typeof std[c] !== 'number' || !Number.isFinite(std[c]) || std[c] <= 0) {
      throw new FlipguardError(`Normalisation std[${c}] is ${std[c]}; every std must be a finite number greater than 0.`);
    }
  }
}

/**
 * Returns a new dataset with every pixel of channel c replaced by `(x − mean[c]) / std[c]`
 * (computed in float64, stored as float32). `mean` and `std` need one entry per channel.
 */
export function normalize(ds: Dataset, norm: Normalization): Dataset {
  const [C, H, W] = ds.shape;
  checkNormalization(norm, C, `dataset ${ds.name}`);
  const plane = H * W;
  const x = new Float32Array(ds.x.length);
  for (let n = 0; n < ds.count; n++) {
    for (let c = 0; c < C; c++) {
      const m = norm.mean[c];
      const s = norm.std[c];
      const off = (n * C + c) * plane;
      for (let k = off; k < off + plane; k++) x[k] = (ds.x[k] - m) / s;
    }
  }
  return { ...ds, shape: [...ds.shape], x, y: ds.y };
}

function parseNumberArray(key: string, text: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) {
    throw new FlipguardError(
      `Model metadata ${key} is ${JSON.stringify(text)}, not a JSON array of numbers; store it like "[0.1307]".`,
    );
  }
  return v as number[];
}

/**
 * Reads the normalisation a model expects from its ONNX metadata_props (`[key, value]` pairs):
 * `flipguard.normalize.mean` and `flipguard.normalize.std`, each a JSON array of numbers.
 * Returns undefined when neither key is present; throws a FlipguardError when only one is, or
 * when a value is not a non-empty array of finite numbers, or std ≤ 0, or the lengths differ.
 */
export function normalizationFromMetadata(metadata: [string, string][]): Normalization | undefined {
  const map = new Map(metadata);
  const meanText = map.get(NORMALIZE_MEAN_KEY);
  const stdText = map.get(NORMALIZE_STD_KEY);
  if (meanText === undefined && stdText === undefined) return undefined;
  if (meanText === undefined || stdText === undefined) {
    const [has, lacks] = meanText === undefined ? [NORMALIZE_STD_KEY, NORMALIZE_MEAN_KEY] : [NORMALIZE_MEAN_KEY, NORMALIZE_STD_KEY];
    throw new FlipguardError(`Model metadata has ${has} but not ${lacks}; store both keys or neither.`);
  }
  const mean = parseNumberArray(NORMALIZE_MEAN_KEY, meanText);
  const std = parseNumberArray(NORMALIZE_STD_KEY, stdText);
  if (mean.length !== std.length) {
    throw new FlipguardError(
      `Model metadata ${NORMALIZE_MEAN_KEY} has ${mean.length} values but ${NORMALIZE_STD_KEY} has ${std.length}; store one of each per channel.`,
    );
  }
  checkNormalization({ mean, std }, mean.length, 'the model metadata');
  return { mean, std };
}
