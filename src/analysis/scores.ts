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
import { FlipguardError } from '../errors.js';
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

/** Indices of the `k` largest scores, highest first; ties broken by lower index (deterministic). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => (scores[b] - scores[a]) || (a - b));
  return idx.slice(0, Math.max(0, Math.min(k, idx.length)));
}

/** Reads a scores JSON file written by `flipguard rank --json`. */
export function readScores(path: string): Scores {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FlipguardError(`Cannot read scores from "${path}" (${(e as Error).message.split('\n')[0]}); give a file written by "flipguard rank --json".`);
  }
  const s = parsed as Scores;
  if (!s || typeof s.method !== 'string' || !Array.isArray(s.layers) || s.layers.some((l) => typeof l.name !== 'string' || !Array.isArray(l.scores))) {
    throw new FlipguardError(`"${path}" is not a scores file (expected {"method", "layers": [{"name", "op", "unit", "scores"}]}); give a file written by "flipguard rank --json".`);
  }
  return s;
}

/** The scores of one layer, checked against the expected count. */
export function layerScores(scores: Scores, layer: string, expected: number): number[] {
  const l = scores.layers.find((x) => x.name === layer);
  if (!l) throw new FlipguardError(`The ${scores.method} scores have no entry for layer "${layer}"; compute scores for this model with "flipguard rank".`);
  if (l.scores.length !== expected) throw new FlipguardError(`The ${scores.method} scores for layer "${layer}" have ${l.scores.length} values but the layer has ${expected} units; the scores were computed for another model.`);
  return l.scores;
}

