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
import { FieldError, arr, at, isObj, obj, optStr, str, type Obj } from '../util/validate.js';
import { opSet } from '../graph/ops/index.js';
import { consumers } from '../graph/builder.js';
import type { Model, Node } from '../graph/types.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_SAMPLE_SEED } from '../defaults.js';

export type ScoreUnit = 'channel' | 'neuron' | 'weight';

export interface LayerScores {
  /** Node name of the conv or dense (Gemm/MatMul) layer. */
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

/** A conv or dense layer with its weight tensor, as hardening and pruning see it. */
export interface ComputeLayer {
  node: Node;
  /** 'conv' or 'dense'. */
  kind: 'conv' | 'dense';
  weight: string;
  bias?: string;
  /** Output channels (conv) or output neurons (dense). */
  outChannels: number;
  /** Whether the layer produces the model's output (directly or through shape-only ops). */
  isOutput: boolean;
}

/** Ops after which a layer's output is still what the model outputs (registry field `keepsLayerOutput`). */
const KEEPS_LAYER_OUTPUT = opSet((r) => !!r.keepsLayerOutput);

/**
 * The conv and dense layers of a model in graph order, with their weights. Dense means Gemm, or
 * MatMul with a constant 2-D weight (+ a following Add for the bias).
 */
export function computeLayers(model: Model): ComputeLayer[] {
  const g = model.graph;
  const out: ComputeLayer[] = [];
  const cons = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const passThrough = KEEPS_LAYER_OUTPUT;
  const reachesOutput = (value: string, depth = 0): boolean => {
    if (outputs.has(value)) return true;
    if (depth > 4) return false;
    return (cons.get(value) ?? []).some((n) => (passThrough.has(n.opType) || (n.opType === 'Add' && g.initializers.has(n.inputs[1]))) && reachesOutput(n.outputs[0], depth + 1));
  };
  for (const n of g.nodes) {
    if (n.opType === 'Conv') {
      const w = g.initializers.get(n.inputs[1]);
      if (!w) continue;
      out.push({ node: n, kind: 'conv', weight: w.name, bias: n.inputs[2] || undefined, outChannels: w.dims[0], isOutput: reachesOutput(n.outputs[0]) });
    } else if (n.opType === 'Gemm') {
      const w = g.initializers.get(n.inputs[1]);
      if (!w || w.dims.length !== 2) continue;
      const transB = n.attributes.transB?.type === 'int' ? n.attributes.transB.value : 0;
      out.push({ node: n, kind: 'dense', weight: w.name, bias: n.inputs[2] || undefined, outChannels: transB ? w.dims[0] : w.dims[1], isOutput: reachesOutput(n.outputs[0]) });
    } else if (n.opType === 'MatMul') {
      const w = g.initializers.get(n.inputs[1]);
      if (!w || w.dims.length !== 2) continue;
      const add = (cons.get(n.outputs[0]) ?? []).find((c) => c.opType === 'Add' && g.initializers.has(c.inputs[1]));
      out.push({ node: n, kind: 'dense', weight: w.name, bias: add?.inputs[1], outChannels: w.dims[1], isOutput: reachesOutput(n.outputs[0]) });
    }
  }
  return out;
}

/** Finds a layer by node name or throws a clear error listing the layers. */
export function findLayer(model: Model, name: string): ComputeLayer {
  const layers = computeLayers(model);
  const l = layers.find((x) => x.node.name === name);
  if (!l) throw new FlipguardError(`No conv or dense layer named "${name}"; the model's layers are ${layers.map((x) => x.node.name).join(', ')}.`);
  return l;
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
      return { name: l.node.name, op: l.node.opType, unit: l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores };
    }),
  };
}

/** |w| per weight. */
export function magnitudeScores(model: Model): Scores {
  return {
    method: 'magnitude',
    layers: computeLayers(model).map((l) => ({
      name: l.node.name, op: l.node.opType, unit: 'weight' as const,
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
      const rng = new Rng(Rng.derive('random-scores', opts.seed ?? DEFAULT_SAMPLE_SEED, l.node.name));
      const n = unit === 'weight' ? model.graph.initializers.get(l.weight)!.data.length : l.outChannels;
      return { name: l.node.name, op: l.node.opType, unit: unit === 'weight' ? 'weight' as const : l.kind === 'conv' ? 'channel' as const : 'neuron' as const, scores: Array.from({ length: n }, () => rng.next()) };
    }),
  };
}

/** Indices of the `k` largest scores, highest first; ties broken by lower index (deterministic). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => (scores[b] - scores[a]) || (a - b));
  return idx.slice(0, Math.max(0, Math.min(k, idx.length)));
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

/** Reads a scores JSON (`ScoresFile`); throws a FieldError naming the first bad field. */
export function readScoresFile(o: Obj): ScoresFile {
  const method = str(o.method, 'method');
  const layers = arr(o.layers, 'layers', true).map((l, i) => {
    const f = at('layers', i);
    const lo = obj(l, f);
    const unit = lo.unit;
    if (typeof unit !== 'string' || !SCORE_UNITS.includes(unit as ScoreUnit)) throw new FieldError(`${f}.unit`, `is ${JSON.stringify(unit)}, not one of ${SCORE_UNITS.join(', ')}`);
    const scores = arr(lo.scores, `${f}.scores`, true);
    for (let j = 0; j < scores.length; j++) {
      if (typeof scores[j] !== 'number' || !Number.isFinite(scores[j])) throw new FieldError(at(`${f}.scores`, j), 'is not a finite number');
    }
    return { name: str(lo.name, `${f}.name`), op: str(lo.op, `${f}.op`), unit: unit as ScoreUnit, scores: scores as number[] };
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
    return readScoresFile(obj(parsed, 'the document'));
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

