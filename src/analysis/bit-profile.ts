/**
 * Bit-position profile (issue 17): which bits of a stored weight matter (32 of a float32 word, 16 of
 * a float16/bfloat16 word, 8 of an int8 word; the profiled weights must share one format). For every bit
 * position b, `trials` trials each flip exactly `faults` stored bits at position b, in weights drawn
 * uniformly (without replacement) from the conv/dense weight tensors (all of them, or one `layer`);
 * the profile is the mean accuracy drop per position (percentage points of the evaluation set, with
 * its 95% Student-t interval) and the share of images with a wrong or non-finite output.
 *
 * Position b's draws use `Rng.derive(seed, 'bitprofile', layer, b, faults, trial)`: the same seed
 * gives the same flips and numbers, and any (position, trial) cell can be replayed alone. Trials are
 * evaluated by the campaign's trial engine (exact shortcuts included).
 */
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import { checkDataFitsModel, type ImageSet } from '../runtime/evaluate.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { FORMAT_BIT_RANGES, resolveBitsFor, type BitRange } from '../faults/bits.js';
import type { WordFormat } from '../graph/dtype.js';
import { findLayer } from './scores.js';
import { cleanParameters, injectFaults } from '../faults/inject.js';
import { listParameters, type ParameterInfo } from '../faults/params.js';
import { checkSeed, type WeightFault } from '../faults/plan.js';
import { positionsWithoutReplacement } from '../faults/sample.js';
import { TrialEngine } from '../campaign/engine.js';
import { halfWidth, mean } from '../campaign/stats.js';
import { Rng } from '../util/rng.js';
import { textTable } from './format.js';
import { DEFAULT_SEED } from '../defaults.js';
import { FieldError, arr, at, num, obj, str, type Obj } from '../util/validate.js';

export interface BitProfileOptions {
  /** Evaluation images (e.g. the test split). */
  data: ImageSet;
  /** Trials per bit position (default 10). */
  trials?: number;
  /** Flips per trial, all at the position profiled (default 1). */
  faults?: number;
  /** Bit positions to profile (default every bit of the weights' stored format). */
  bits?: BitRange | string;
  /** Only the weights of this conv/dense layer (default: every conv/dense weight tensor). */
  layer?: string;
  seed?: number;
  batch?: number;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface BitProfileRow {
  bit: number;
  field: 'sign' | 'exponent' | 'mantissa';
  /** Mean accuracy drop, percentage points. */
  drop: number;
  /** 95% Student-t interval of the mean drop ([drop, drop] with one trial). */
  ci95: [number, number];
  /** Mean share of images with a wrong top-1 (SDC) or non-finite logits (DUE) against the fault-free run. */
  sdc: number;
  due: number;
}

export interface BitProfile {
  layer: string | null;
  /** Weights the flips were drawn from. */
  weights: number;
  trials: number;
  faults: number;
  seed: number;
  images: number;
  goldenAccuracy: number;
  rows: BitProfileRow[];
}

/**
 * A bit-position profile JSON (`flipguard rank --compare --compare-unit bit --json`, a `BitProfile`
 * serialised), as the report reads it: seed and images optional, the field any name.
 */
export type BitProfileFile = Pick<BitProfile, 'layer' | 'weights' | 'trials' | 'faults'> & Partial<Pick<BitProfile, 'seed' | 'images'>> & {
  rows: (Omit<BitProfileRow, 'field'> & { field: string })[];
};

/** The field of `bit` in a word of `format` (float32 by default); integer words have sign (int8, int32) and value bits, reported as 'mantissa'. */
export function fieldOf(bit: number, format: WordFormat = 'float32'): BitProfileRow['field'] {
  const r = FORMAT_BIT_RANGES[format];
  const inside = (f: string) => { const x = r[f]; return !!x && bit >= x[0] && bit <= x[1]; };
  return inside('sign') ? 'sign' : inside('exponent') ? 'exponent' : 'mantissa';
}

/** The one word format of the profiled tensors, or a FlipguardError when they mix formats. */
function profileFormat(targets: readonly ParameterInfo[]): WordFormat {
  const formats = [...new Set(targets.map((t) => t.format))];
  if (formats.length > 1) throw new FlipguardError(`The weights profiled are stored in ${formats.join(' and ')}, whose bit positions differ; profile one layer with ${opt('layer')}.`);
  return formats[0];
}

/** The weight tensors a profile draws from, and the faults of one (bit, trial) cell. */
function profileSpace(model: Model, opts: Pick<BitProfileOptions, 'layer' | 'faults' | 'seed'>): { targets: ParameterInfo[]; total: number; cell: (bit: number, trial: number) => WeightFault[] } {
  const seed = opts.seed ?? DEFAULT_SEED;
  checkSeed(seed);
  const k = opts.faults ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new FlipguardError(`The ${opt('faults')} per trial must be a whole number ≥ 1, got ${k}.`);
  const params = listParameters(model);
  let targets: ParameterInfo[];
  if (opts.layer !== undefined) {
    const l = findLayer(model, opts.layer, { stored: true });
    targets = params.filter((p) => p.name === l.weight);
  } else {
    targets = params.filter((p) => p.role === 'weight' && p.live && ['Conv', 'Gemm', 'MatMul', 'ConvTranspose'].includes(p.opType));
  }
  if (targets.length === 0) throw new FlipguardError('The model has no conv or dense weight tensor to profile; check the model file.');
  const offsets: number[] = [];
  let total = 0;
  for (const t of targets) { offsets.push(total); total += t.numel; }
  if (k > total) throw new FlipguardError(`${k} flips per trial do not fit in the ${total} weights profiled; ask for at most ${total}.`);
  const locate = (p: number): { tensor: string; index: number } => {
    let lo = 0, hi = offsets.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (offsets[mid] <= p) lo = mid; else hi = mid - 1; }
    return { tensor: targets[lo].name, index: p - offsets[lo] };
  };
  const cell = (bit: number, t: number): WeightFault[] => {
    const rng = new Rng(Rng.derive(seed, 'bitprofile', opts.layer ?? '*', bit, k, t));
    return positionsWithoutReplacement(rng, total, k).map((p) => ({ ...locate(p), bit, kind: 'flip' as const }));
  };
  return { targets, total, cell };
}

/** The flips of trial `trial` at bit position `bit` of a profile with these options (replayable alone). */
export function bitProfileFaults(model: Model, opts: Pick<BitProfileOptions, 'layer' | 'faults' | 'seed'>, bit: number, trial: number): WeightFault[] {
  const sp = profileSpace(model, opts);
  return sp.cell(resolveBitsFor({ list: [bit] }, profileFormat(sp.targets))[0], trial);
}

/** The accuracy drop per bit position (see the module comment). */
export async function bitProfile(model: Model, opts: BitProfileOptions): Promise<BitProfile> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const trials = opts.trials ?? 10;
  const k = opts.faults ?? 1;
  if (!Number.isInteger(trials) || trials < 1) throw new FlipguardError(`The ${opt('trials')} per bit position must be a whole number ≥ 1, got ${trials}.`);
  const { targets, total, cell } = profileSpace(model, opts);
  checkDataFitsModel(model, opts.data);
  const format = profileFormat(targets);
  const bits = resolveBitsFor(opts.bits, format);
  if (bits.length === 0) throw new FlipguardError(`The ${format} weights profiled have none of the bits selected (${String(opts.bits)}); choose bits the format has (e.g. all).`);
  const engine = await TrialEngine.create(model, opts.data, targets, { batch: opts.batch, threads: opts.runtime?.threads, executionProvider: opts.runtime?.executionProvider });
  const clean = cleanParameters(model);
  const rows: BitProfileRow[] = [];
  try {
    for (const [bi, bit] of bits.entries()) {
      const drops: number[] = [], sdc: number[] = [], due: number[] = [];
      for (let t = 0; t < trials; t++) {
        const inj = injectFaults(clean, cell(bit, t));
        const o = await engine.evaluate(inj.tensors, inj.changed);
        drops.push(((engine.golden.correct - o.correct) / opts.data.count) * 100);
        sdc.push(o.sdc / opts.data.count);
        due.push(o.due / opts.data.count);
        opts.onProgress?.(bi * trials + t + 1, bits.length * trials);
      }
      const m = mean(drops), h = trials > 1 ? halfWidth(drops) : 0;
      rows.push({ bit, field: fieldOf(bit, format), drop: m, ci95: [m - h, m + h], sdc: mean(sdc), due: mean(due) });
    }
  } finally {
    await engine.release();
  }
  return { layer: opts.layer ?? null, weights: total, trials, faults: k, seed, images: opts.data.count, goldenAccuracy: engine.golden.accuracy, rows };
}

/** The profile as a text table, most damaging position first. */
export function formatBitProfile(p: BitProfile): string {
  const rows = [...p.rows].sort((a, b) => b.drop - a.drop || b.bit - a.bit);
  const body = textTable(['bit', 'field', 'drop (pp)', '95% CI', 'SDC', 'DUE'], rows.map((r) => [
    r.bit, r.field, r.drop.toFixed(2), p.trials > 1 ? `[${r.ci95[0].toFixed(2)}, ${r.ci95[1].toFixed(2)}]` : 'n/a (1 trial)', `${(r.sdc * 100).toFixed(1)}%`, `${(r.due * 100).toFixed(1)}%`,
  ]));
  return `${p.faults} flip${p.faults > 1 ? 's' : ''} per trial at one bit position, ${p.trials} trials per position, ${p.weights} weights${p.layer ? ` of ${p.layer}` : ''}, ${p.images} images (golden accuracy ${(p.goldenAccuracy * 100).toFixed(2)}%), seed ${p.seed}\n\n${body}`;
}

/** Reads a bit-position profile JSON (`BitProfileFile`); throws a FieldError naming the first bad field. */
export function readBitProfileFile(o: Obj): BitProfileFile {
  const rows = arr(o.rows, 'rows', true).map((r, i) => {
    const f = at('rows', i);
    const ro = obj(r, f);
    const ci = arr(ro.ci95, `${f}.ci95`, true);
    if (ci.length !== 2) throw new FieldError(`${f}.ci95`, 'is not a [low, high] pair');
    return {
      bit: num(ro.bit, `${f}.bit`, [0, 31]), field: str(ro.field, `${f}.field`), drop: num(ro.drop, `${f}.drop`, [-100, 100]),
      ci95: [num(ci[0], `${f}.ci95[0]`), num(ci[1], `${f}.ci95[1]`)] as [number, number],
      sdc: num(ro.sdc, `${f}.sdc`, [0, 1]), due: num(ro.due, `${f}.due`, [0, 1]),
    };
  });
  return {
    layer: o.layer === null || o.layer === undefined ? null : str(o.layer, 'layer'),
    weights: num(o.weights, 'weights', [1, Number.MAX_SAFE_INTEGER]), trials: num(o.trials, 'trials', [1, Number.MAX_SAFE_INTEGER]),
    faults: num(o.faults, 'faults', [1, Number.MAX_SAFE_INTEGER]), rows,
    ...(typeof o.seed === 'number' ? { seed: o.seed } : {}), ...(typeof o.images === 'number' ? { images: o.images } : {}),
  };
}
