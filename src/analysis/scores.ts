/**
 * Importance scores: the common currency of `rank`, `harden` and `prune`. A score belongs to a unit
 * of a layer — an output channel of a conv, a neuron (output unit) of a dense layer, an element of
 * a conv output map (paper C), or a single weight — higher means more important / more vulnerable.
 * JSON form (what `flipguard rank --json` writes):
 * `{"method", "layers": [{"name", "op", "unit", "scores": [...]}]}`, scores in the layer's natural
 * order: output-channel index; activation element (channel, row, col) row-major; weight flat index
 * in ONNX layout.
 */
import { readFileSync } from 'node:fs';
import { FlipguardError, opt } from '../errors.js';
import { FieldError, arr, at, isObj, obj, optStr, str, type Obj } from '../util/validate.js';
import { computeLayers, type ComputeLayer } from '../graph/layers.js';
import type { Model } from '../graph/types.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_SAMPLE_SEED } from '../defaults.js';

// layer identity lives in graph/layers.ts; re-exported here because scores are keyed by it
export { computeLayers, findLayer, findLayers, labelNodes, nodeLabel, type ComputeLayer } from '../graph/layers.js';

export type ScoreUnit = 'channel' | 'neuron' | 'weight';

export interface LayerScores {
  /** Label of the conv or dense (Gemm/MatMul) layer (graph/layers.ts nodeLabel: its node name, or its output's name when unnamed). */
  name: string;
  op: string;
  unit: ScoreUnit;
  scores: number[];
}

export interface Scores {
  method: string;
  layers: LayerScores[];
  /** Extra facts about the estimate (e.g. heavy-tail diagnostics for Eq. 1). */
  info?: Record<string, unknown>;
}

/** Per-output-channel view of a weight tensor: for each channel, the flat indices of its weights. */
export function channelWeightIndices(model: Model, layer: ComputeLayer): (c: number) => Iterable<number> {
  const w = model.graph.initializers.get(layer.weight)!;
  if (layer.kind === 'conv' || (layer.node.opType === 'Gemm' && (layer.node.attributes.transB?.type === 'int' && layer.node.attributes.transB.value === 1))) {
    const per = w.data.length / w.dims[0];
    return function* (c) { for (let i = 0; i < per; i++) yield c * per + i; };
  }
  // weight [in, out]: channel c is column c
  const [rows, cols] = w.dims;
  return function* (c) { for (let r = 0; r < rows; r++) yield r * cols + c; };
}

/** L1 norm Σ|w| of each output channel / neuron's weights (the pruning literature's baseline). */
export function l1Scores(model: Model): Scores {
  return {
    method: 'l1',
    layers: computeLayers(model).map((l) => {
      const w = model.graph.initializers.get(l.weight)!.data as Float32Array;
      const idx = channelWeightIndices(model, l);
      const scores = Array.from({ length: l.outChannels }, (_, c) => { let s = 0; for (const i of idx(c)) s += Math.abs(w[i]); return s; });
      return { name: l.label, op: l.node.opType, unit: l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores };
    }),
  };
}

/** |w| per weight. */
export function magnitudeScores(model: Model): Scores {
  return {
    method: 'magnitude',
    layers: computeLayers(model).map((l) => ({
      name: l.label, op: l.node.opType, unit: 'weight' as const,
      scores: Array.from(model.graph.initializers.get(l.weight)!.data as Float32Array, (v) => Math.abs(v)),
    })),
  };
}

/** Seeded uniform random scores per channel/neuron (unit 'channel') or per weight (unit 'weight'). */
export function randomScores(model: Model, opts: { seed?: number; unit?: 'channel' | 'weight' } = {}): Scores {
  const unit = opts.unit ?? 'channel';
  return {
    method: 'random',
    layers: computeLayers(model).map((l) => {
      const rng = new Rng(Rng.derive('random-scores', opts.seed ?? DEFAULT_SAMPLE_SEED, l.label));
      const n = unit === 'weight' ? model.graph.initializers.get(l.weight)!.data.length : l.outChannels;
      return { name: l.label, op: l.node.opType, unit: unit === 'weight' ? 'weight' as const : l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores: Array.from({ length: n }, () => rng.next()) };
    }),
  };
}

/**
 * The ranking rule every selection by score uses (hardening's protected units, pruning's kept
 * channels, `rank --top`, top-k overlaps): higher scores rank first, a NaN score ranks as −∞ (an
 * unknown importance is the least important; it ties with −∞), and ties go to the lower index. Scores
 * files store NaN as null (JSON has no NaN); readScores turns null back into NaN.
 */
export function rankKey(v: number): number {
  return Number.isNaN(v) ? -Infinity : v;
}

/** Indices of the `k` largest scores by rankKey, highest first; ties go to the lower index. */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const key = Float64Array.from(idx, (i) => rankKey(scores[i]));
  // −∞ − (−∞) and ∞ − ∞ are NaN: equal keys fall through to the index
  idx.sort((a, b) => (key[b] - key[a]) || (a - b));
  return idx.slice(0, Math.max(0, Math.min(k, idx.length)));
}

/** Indices of the `k` highest scores, returned ascending; ties go to the lower index. */
export function topIndices(scores: ArrayLike<number>, k: number): number[] {
  return globalTop([scores], k)[0];
}

/** The k-th smallest value (0-based) of `a`, reordering `a` (iterative quickselect, Hoare partition). */
function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    let x = a[lo], y = a[mid], z = a[hi];
    if (x > y) [x, y] = [y, x];
    if (y > z) { y = z; if (x > y) y = x; }
    const pivot = y;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/**
 * Global top-k over several score lists by rankKey (ties go to the earlier list, then the lower
 * index): returns, per list, the chosen indices ascending. Linear time (quickselect for the
 * threshold), so it handles tens of millions of weights.
 */
export function globalTop(lists: readonly ArrayLike<number>[], k: number): number[][] {
  const n = lists.reduce((s, l) => s + l.length, 0);
  const out = lists.map(() => [] as number[]);
  if (k <= 0 || n === 0) return out;
  if (k >= n) return lists.map((l) => Array.from({ length: l.length }, (_, i) => i));
  const all = new Float64Array(n);
  let o = 0;
  for (const l of lists) for (let i = 0; i < l.length; i++) all[o++] = rankKey(l[i]);
  const t = kthSmallest(Float64Array.from(all), n - k);
  let above = 0;
  for (let i = 0; i < n; i++) if (all[i] > t) above++;
  let ties = k - above;
  o = 0;
  lists.forEach((l, li) => {
    const dst = out[li];
    for (let i = 0; i < l.length; i++, o++) {
      const v = all[o];
      if (v > t) dst.push(i);
      else if (v === t && ties > 0) { dst.push(i); ties--; }
    }
  });
  return out;
}

/**
 * A ratio option: the share of the ranked units a transform acts on (hardening: protected,
 * pruning: removed from each layer), a number from 0 to 1 inclusive — 0 acts on none, 1 on all
 * (pruning still keeps `minKeep` channels per layer). Throws a FlipguardError naming the option field.
 */
export function checkRatio(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new FlipguardError(`The ${opt(field)} must be a share from 0 to 1 inclusive (e.g. 0.15 for 15%), got ${String(value)}.`);
  }
  return value;
}

const SCORE_UNITS: readonly ScoreUnit[] = ['channel', 'neuron', 'weight'];

/** The `rank --json` document: a `Scores` serialised (method, layers, info), plus `variant` when a report names it. */
export type ScoresFile = Scores & { variant?: string };

/** The `rank --json` document of `s`: exactly {method, layers: [{name, op, unit, scores}]} plus info when present. */
export function scoresFile(s: Scores): ScoresFile {
  const out: ScoresFile = { method: s.method, layers: s.layers.map((l) => ({ name: l.name, op: l.op, unit: l.unit, scores: l.scores })) };
  if (s.info) out.info = s.info;
  return out;
}

/**
 * Reads a scores JSON (`ScoresFile`); throws a FieldError naming the first bad field. JSON writes a
 * NaN score as null: with `nan: true` it is read back as NaN (it ranks lowest, see rankKey), else refused.
 */
export function readScoresFile(o: Obj, opts: { nan?: boolean } = {}): ScoresFile {
  const method = str(o.method, 'method');
  const layers = arr(o.layers, 'layers', true).map((l, i) => {
    const f = at('layers', i);
    const lo = obj(l, f);
    const unit = lo.unit;
    if (typeof unit !== 'string' || !SCORE_UNITS.includes(unit as ScoreUnit)) throw new FieldError(`${f}.unit`, `is ${JSON.stringify(unit)}, not one of ${SCORE_UNITS.join(', ')}`);
    const scores = arr(lo.scores, `${f}.scores`, true);
    const values = scores.map((v, j) => {
      if (v === null && opts.nan) return Number.NaN;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(at(`${f}.scores`, j), `is ${JSON.stringify(v)}, not a finite number${opts.nan ? ' (or null for NaN)' : ''}`);
      return v;
    });
    return { name: str(lo.name, `${f}.name`), op: str(lo.op, `${f}.op`), unit: unit as ScoreUnit, scores: values };
  });
  const out: ScoresFile = { method, layers };
  if (isObj(o.info)) out.info = o.info;
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  return out;
}

/** Reads a scores JSON file written by `flipguard rank --json` (every field checked, see `readScoresFile`). */
export function readScores(path: string): Scores {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FlipguardError(`Cannot read scores from "${path}" (${(e as Error).message.split('\n')[0]}); give a file written by "flipguard rank --json".`);
  }
  try {
    return readScoresFile(obj(parsed, 'the document'), { nan: true });
  } catch (e) {
    if (e instanceof FieldError) throw new FlipguardError(`"${path}" is not a scores file (its ${e.field} ${e.problem}); give a file written by "flipguard rank --json".`);
    throw e;
  }
}

/** The scores of one layer, checked against the expected count. */
export function layerScores(scores: Scores, layer: string, expected: number): number[] {
  const l = scores.layers.find((x) => x.name === layer);
  if (!l) throw new FlipguardError(`The ${scores.method} scores have no entry for layer "${layer}"; compute scores for this model with "flipguard rank".`);
  if (l.scores.length !== expected) throw new FlipguardError(`The ${scores.method} scores for layer "${layer}" have ${l.scores.length} values but the layer has ${expected} units; the scores were computed for another model.`);
  return l.scores;
}

