/**
 * What the hardening tests share: seeded scores for every method's unit, logits of a model on a
 * set of images, a bit-level comparison of two logit arrays, and a JavaScript oracle of tmr-bits' vote.
 */
import { computeLayers, l1Scores, magnitudeScores, type Scores } from '../../src/analysis/scores.js';
import { inferShapes } from '../../src/graph/shapes.js';
import type { Model } from '../../src/graph/types.js';
import type { HardenMethod } from '../../src/harden/index.js';
import { ModelRunner, type RuntimeOptions } from '../../src/runtime/session.js';
import { predict, type ImageSet, type Predictions } from '../../src/runtime/evaluate.js';
import { Rng } from '../../src/util/rng.js';
import { FlipguardError } from '../../src/errors.js';
import { hardenedInfo } from '../../src/harden/common.js';
import { voteWords, wordsOf } from '../../src/harden/tmr-bits.js';

/** Seeded random neuron scores (C·H·W per conv layer, C per dense layer). */
export function neuronScores(model: Model, seed = 7): Scores {
  const shapes = inferShapes(model, { batch: 1 });
  return {
    method: 'random-neuron',
    layers: computeLayers(model).map((l) => {
      const n = shapes.get(l.node.outputs[0])!.slice(1).reduce((a, b) => a * b, 1);
      const r = new Rng(Rng.derive('neuron', seed, l.node.name));
      return { name: l.node.name, op: l.node.opType, unit: 'neuron' as const, scores: Array.from({ length: n }, () => r.next()) };
    }),
  };
}

/** Scores of the unit `method` protects: L1 per channel, |w| per weight, random per neuron. */
export function scoresFor(method: HardenMethod, model: Model): Scores | undefined {
  if (method === 'ranger') return undefined;
  if (method === 'tmr-weights' || method === 'tmr-bits') return magnitudeScores(model);
  if (method === 'tmr-neurons') return neuronScores(model);
  return l1Scores(model);
}

/** The model's logits and top-1 on `data` in one batch. */
export async function logitsOf(model: Model, data: ImageSet, opts: RuntimeOptions): Promise<Predictions> {
  const r = await ModelRunner.create(model, opts);
  try {
    return await predict(r, data, { batch: data.count });
  } finally {
    await r.release();
  }
}

/** A copy of `m` whose float32 initializer `name` was edited in place by `edit` (a forged fault). */
export function withInit(m: Model, name: string, edit: (d: Float32Array) => void): Model {
  const inits = new Map(m.graph.initializers);
  const t = inits.get(name)!;
  const data = Float32Array.from(t.data as Float32Array);
  edit(data);
  inits.set(name, { ...t, data });
  return { ...m, graph: { ...m.graph, initializers: inits } };
}

/** Number of positions where the 32-bit words of `a` and `b` differ. */
export function countDiffs(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let d = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) d++;
  return d;
}

/** `count` seeded uniform [0, 1) images of shape `shape` (labels 0). */
export function randomImages(shape: readonly number[], count: number, seed = 5, classes = 10): ImageSet {
  const per = shape.reduce((a, b) => a * b, 1);
  const r = new Rng(seed);
  return { name: 'random', x: Float32Array.from({ length: per * count }, () => r.next()), y: new Uint8Array(count), shape: [...shape], count, classes };
}

/**
 * A tmr-bits model's voted float32 weights, from its stored copies through the library's JavaScript
 * vote (`voteWords`, what the campaign's foldBits shortcut uses), so the tests compare the graph's
 * vote with it. `params` overrides stored tensors by name (32-bit words seen as Float32Array or
 * Int32Array, e.g. faulted copies).
 */
export function voteBits(model: Model, params: ReadonlyMap<string, ArrayBufferView> = new Map()): Map<string, Float32Array> {
  const info = hardenedInfo(model);
  if (!info?.bits) throw new FlipguardError('The model is not a tmr-bits hardened model (no bit triples in its flipguard.hardened metadata); harden it with method tmr-bits first.');
  const words = (n: string): Uint32Array => {
    const v = params.get(n) ?? model.graph.initializers.get(n)?.data;
    if (!v || !ArrayBuffer.isView(v)) throw new FlipguardError(`The tmr-bits model has no stored tensor "${n}"; the model was edited after hardening.`);
    return wordsOf(v);
  };
  const out = new Map<string, Float32Array>();
  for (const t of info.bits) {
    const idx = t.index ? (model.graph.initializers.get(t.index)!.data as Int32Array) : null;
    out.set(t.weight, new Float32Array(voteWords(t, words(t.words), [words(t.planes[0]), words(t.planes[1])], idx).buffer));
  }
  return out;
}
