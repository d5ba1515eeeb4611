/**
 * What the hardening transforms share: ratio checks, selection of protected units from Scores,
 * and the `flipguard.hardened` model metadata.
 */
import { FlipguardError } from '../errors.js';
import { DataType, getMetadata, withMetadata, type Model } from '../graph/types.js';
import { globalTop, topIndices, type LayerScores, type ScoreUnit, type Scores } from '../analysis/scores.js';
import type { LayerSite } from './layers.js';

/** Metadata key of hardened models: JSON `HardenedInfo`. */
export const HARDENED_KEY = 'flipguard.hardened';

/** A stage as counting tools must see it: `output` has the shape of `input` cut to `channels` along axis 1 ('channels'), or of `input` itself ('same'). */
export interface StageRecord {
  kind: 'channels' | 'same';
  input: string;
  output: string;
  channels?: number;
}

/** The triple of stored copies of one weight tensor's protected elements (tmr-weights). */
export interface WeightTriple {
  /** The layer's weight initializer (copy 1 of the protected elements, and the unprotected ones). */
  weight: string;
  /** Int32 initializer: flat indices of the protected elements, ascending. */
  index: string;
  /** Initializers holding copies 2 and 3 of the protected elements, in index order, in the weight's stored format (float32, float16, bfloat16, int8). */
  copies: [string, string];
}

/** The stored copies of one weight tensor's protected bits (tmr-bits). */
export interface BitTriple {
  /** The original weight's name (the voted float32 weight the layer reads is computed from the tensors below). */
  weight: string;
  /** The weight's words (copy 1 of every protected bit, and every other bit): an int32 initializer for a float32 weight, the stored float16/bfloat16/int8 tensor itself otherwise. */
  words: string;
  /** Int32 initializers [bits, ⌈protected/32⌉]: copies 2 and 3 as packed bit planes. */
  planes: [string, string];
  /** Protected bit positions, ascending (plane row i holds bit bits[i]). */
  bits: number[];
  /** Protected weights of the tensor. */
  protected: number;
  /** Int32 initializer of the protected flat indices, ascending (absent when every weight is protected). */
  index?: string;
}

/** Content of the `flipguard.hardened` metadata entry. */
export interface HardenedInfo {
  method: string;
  ratio: number;
  /** The Scores' method (e.g. "vulnerability", "lrp", "l1"), or null when no ranking was used. */
  ranking: string | null;
  /** Options that shaped the graph (rules, margin, …). */
  options: Record<string, unknown>;
  /** Protected units per layer. */
  layers: { name: string; units: number; protected: number }[];
  /** Stage boundaries (see StageRecord) — lets counting tools see through the hardening ops. */
  stages: StageRecord[];
  /** tmr-weights: the stored triples. */
  weights?: WeightTriple[];
  /** tmr-bits: the stored bit copies. */
  bits?: BitTriple[];
}

/** Int32 initializers of a tmr-bits model that hold stored weight bits (words and planes): fault targets like float32 parameters. */
export function storedWordTensors(model: Model): Set<string> {
  const out = new Set<string>();
  for (const t of bitTriples(model)) for (const n of [t.words, ...t.planes]) if (model.graph.initializers.get(n)?.dataType === DataType.INT32) out.add(n);
  return out;
}

/** The tmr-bits triples of a model, from every hardening step. */
export function bitTriples(model: Model): BitTriple[] {
  const out: BitTriple[] = [];
  // metadata comes from the model file: entries that are not well-formed triples are ignored
  const wellFormed = (t: unknown): t is BitTriple => {
    const o = t as Partial<BitTriple> | null;
    return typeof o === 'object' && o !== null && typeof o.weight === 'string' && typeof o.words === 'string' && Array.isArray(o.planes) && o.planes.length === 2
      && o.planes.every((n) => typeof n === 'string') && Array.isArray(o.bits) && (o.index === undefined || typeof o.index === 'string');
  };
  for (const info of hardenedHistory(model)) out.push(...(Array.isArray(info.bits) ? info.bits.filter(wellFormed) : []));
  return out;
}

/** Every hardening step's info, latest first (a model hardened twice keeps the earlier HardenedInfo under `previous`). */
export function hardenedHistory(model: Model): HardenedInfo[] {
  const out: HardenedInfo[] = [];
  for (let info = hardenedInfo(model) as (HardenedInfo & { previous?: HardenedInfo }) | undefined; info && typeof info === 'object'; info = info.previous) out.push(info);
  return out;
}

/** The stage records of every hardening step (well-formed objects only: the metadata comes from the model file). */
export function hardenedStages(model: Model): StageRecord[] {
  return hardenedHistory(model).flatMap((i) => (Array.isArray(i.stages) ? i.stages.filter((x) => typeof x === 'object' && x !== null) : []));
}

/** Reads the `flipguard.hardened` metadata, or undefined for a model that is not hardened. */
export function hardenedInfo(model: Model): HardenedInfo | undefined {
  const s = getMetadata(model, HARDENED_KEY);
  if (!s) return undefined;
  try {
    return JSON.parse(s) as HardenedInfo;
  } catch {
    throw new FlipguardError(`The model's "${HARDENED_KEY}" metadata is not valid JSON; re-create the hardened model with flipguard harden.`);
  }
}

/** Returns `model` with `info` stored under HARDENED_KEY (an already hardened model keeps a history under `previous`). */
export function withHardenedInfo(model: Model, info: HardenedInfo): Model {
  const prev = getMetadata(model, HARDENED_KEY);
  const value = prev ? { ...info, previous: JSON.parse(prev) } : info;
  return withMetadata(model, HARDENED_KEY, JSON.stringify(value));
}

/** Units protected out of `n` at ratio r: 0 when r = 0, else max(1, ⌊r·n⌋) (SPEC §4.1's d). */
export function protectedCount(ratio: number, n: number): number {
  if (ratio <= 0 || n === 0) return 0;
  return Math.min(n, Math.max(1, Math.floor(ratio * n + 1e-9)));
}

/**
 * The scores of layer `site`, checked: present, of one of the `units` allowed, with `count` values.
 * (NaN scores rank lowest: see analysis/scores.ts rankKey.)
 */
export function siteScores(scores: Scores, site: LayerSite, units: readonly ScoreUnit[], count: number, method: string): number[] {
  const l: LayerScores | undefined = scores.layers.find((x) => x.name === site.name);
  if (!l) throw new FlipguardError(`The ${scores.method} scores have no entry for layer "${site.name}"; compute scores for this model (flipguard rank) before hardening it with ${method}.`);
  if (!units.includes(l.unit)) {
    throw new FlipguardError(`${method} needs ${units.join(' or ')} scores for layer "${site.name}", but the ${scores.method} scores are per ${l.unit}; rank the model with a ${units[0]}-level score.`);
  }
  if (!Array.isArray(l.scores) || l.scores.length !== count) {
    throw new FlipguardError(`The ${scores.method} scores for layer "${site.name}" have ${l.scores?.length ?? 0} values but ${method} needs ${count} (one per ${l.unit}); the scores were computed for another model.`);
  }
  return l.scores;
}

/**
 * The units to protect per layer at `ratio`, by the `unit` scores of each site (`counts[i]` units
 * in site i): a global top share over all layers, or the top share of every layer (`perLayer`).
 */
export function chooseUnits(sites: readonly LayerSite[], counts: readonly number[], opts: { ratio: number; scores?: Scores; perLayer?: boolean }, unit: ScoreUnit, method: string, what: string): number[][] {
  if (opts.ratio <= 0) return sites.map(() => []);
  if (!opts.scores) throw new FlipguardError(`${method} with ratio ${opts.ratio} needs ${what} to choose the ${unit}s to protect; pass scores.`);
  const lists = sites.map((s, i) => siteScores(opts.scores!, s, [unit], counts[i], method));
  return opts.perLayer
    ? lists.map((l, i) => topIndices(l, protectedCount(opts.ratio, counts[i])))
    : globalTop(lists, protectedCount(opts.ratio, counts.reduce((a, b) => a + b, 0)));
}

// the one ranking rule (NaN lowest, ties to the lower index) and ratio check, shared with pruning
export { checkRatio, globalTop, topIndices } from '../analysis/scores.js';
