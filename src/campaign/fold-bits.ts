/**
 * The `foldBits` shortcut for tmr-bits models (harden/tmr-bits.ts). Such a model votes its stored
 * copies in a subgraph of constants, which onnxruntime folds into the weights when it creates a
 * session — seconds per session on a VGG-style model, paid again on every campaign trial. Instead,
 * the campaign votes the faulted copies itself (`voteWords`, the bitwise majority the graph
 * computes) and swaps the voted weights into one graph whose votes are already folded
 * (`foldBitsModel`), like any other parameter: float32 values for float32 words and float16/bfloat16
 * words (read through Cast), the int8/uint8 integers for a QDQ model (read on by DequantizeLinear).
 * A trial whose faults are all outvoted changes no voted weight, so the `noEffect`/`noFault`
 * shortcuts see no change at all.
 *
 * Exactness: at start-up the model's own vote subgraph is run by onnxruntime on the stored copies
 * (clean, then seeded random words; `selfCheck`), and its outputs must equal `voteWords`
 * bit for bit (any NaN counted equal: the graph makes NaN words arithmetically, with its own
 * payload, and every NaN weight gives the same NaN outputs); otherwise the model runs unfolded.
 */
import type { Model, TensorData } from '../graph/types.js';
import { DataType } from '../graph/types.js';
import { allocate, wordView } from '../graph/dtype.js';
import { foldBitsModel, votedInput, votedValue, voteWords, wordsOf, type BitFold } from '../harden/tmr-bits.js';
import { listParameters, type ParameterInfo } from '../faults/params.js';
import { fixedBatch } from '../runtime/evaluate.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';

interface Vote {
  value: string;
  fold: BitFold['votes'][number];
  stored: [string, string, string];
  clean: Uint32Array;
}

export class BitFolding {
  private readonly byStored = new Map<string, Vote>();

  private constructor(
    /** The graph with folded votes (run by the engine in place of the hardened one). */
    readonly model: Model,
    /** The engine's targets in that graph: the voted weights replace their stored copies. */
    readonly targets: ParameterInfo[],
    private readonly votes: Vote[],
    private readonly hardened: Model,
  ) {
    for (const v of votes) for (const n of v.stored) this.byStored.set(n, v);
  }

  /**
   * The folding of `model` for a campaign over `targets`, or undefined when the model has no
   * tmr-bits triples, no target is a stored copy, or the self-check (module comment) fails.
   */
  static async create(model: Model, targets: readonly ParameterInfo[], shape: readonly number[], runtime: RuntimeOptions): Promise<BitFolding | undefined> {
    const fold = foldBitsModel(model);
    if (!fold) return undefined;
    const names = new Set(targets.map((t) => t.name));
    const votes: Vote[] = fold.votes.map((v) => {
      const stored: [string, string, string] = [v.triple.words, v.triple.planes[0], v.triple.planes[1]];
      const w = fold.model.graph.initializers.get(v.value)!;
      return { value: v.value, fold: v, stored, clean: Uint32Array.from(wordView(w.data)) };
    });
    if (!votes.some((v) => v.stored.some((n) => names.has(n)))) return undefined;
    const keep = new Set([...names, ...votes.filter((v) => v.stored.some((n) => names.has(n))).map((v) => v.value)]);
    const folded = listParameters(fold.model).filter((p) => keep.has(p.name));
    const f = new BitFolding(fold.model, folded, votes, model);
    return (await f.selfCheck(shape, runtime)) ? f : undefined;
  }

  /** The voted words of `v` from `tensors` (stored copies by name; missing ones clean). */
  private vote(v: Vote, tensors: ReadonlyMap<string, TensorData>): Uint32Array {
    const get = (n: string): TensorData => tensors.get(n) ?? this.hardened.graph.initializers.get(n)!.data;
    return voteWords(v.fold.triple, votedInput(v.fold.format, get(v.stored[0])), [wordsOf(get(v.stored[1])), wordsOf(get(v.stored[2]))], v.fold.index);
  }

  /**
   * `tensors` (faulted copies of the hardened model's parameters, by name) as the folded graph's
   * parameters: every stored copy is replaced by its voted weight (as the layer reads it). With `onlyChanged`, a
   * voted weight equal to the clean one is left out (its faults were all outvoted).
   */
  translate(tensors: ReadonlyMap<string, TensorData>, onlyChanged: boolean): Map<string, TensorData> {
    const out = new Map<string, TensorData>();
    const touched = new Set<Vote>();
    for (const [n, a] of tensors) {
      const v = this.byStored.get(n);
      if (v) touched.add(v);
      else out.set(n, a);
    }
    for (const v of touched) {
      const w = this.vote(v, tensors);
      if (onlyChanged && w.every((x, i) => x === v.clean[i])) continue;
      out.set(v.value, votedValue(v.fold.format, w, v.fold.half).data);
    }
    return out;
  }

  /**
   * The hardened graph's own votes, computed by onnxruntime from the stored copies (clean, then
   * seeded random words), against `voteWords`. The copies are fed as session inputs; a model with a
   * stored type onnxruntime-node cannot feed (bfloat16) is instead rebuilt with the copies as
   * initializers, a session per check (onnxruntime then folds the votes as on the slow path).
   */
  private async selfCheck(shape: readonly number[], runtime: RuntimeOptions): Promise<boolean> {
    const stored = this.votes.flatMap((v) => v.stored);
    const inits = this.hardened.graph.initializers;
    const feed = stored.every((n) => inits.get(n)!.dataType !== DataType.BFLOAT16);
    const outputs = this.votes.map((v) => v.value);
    const rng = new Rng(17);
    const random = new Map<string, TensorData>();
    for (const name of stored) {
      const t = inits.get(name)!;
      const data = allocate(t.dataType, t.data.length);
      const w = wordView(data);
      for (let i = 0; i < w.length; i++) w[i] = rng.nextU32();
      random.set(name, data);
    }
    const n = fixedBatch(this.hardened) ?? 1;
    const dims = [n, ...shape];
    const x = new Float32Array(dims.reduce((a, b) => a * b, 1));
    const shared = feed ? await ModelRunner.create(this.hardened, { ...runtime, swappable: stored, outputs }) : undefined;
    try {
      for (const params of [new Map<string, TensorData>(), random]) {
        let out;
        if (shared) out = await shared.run(x, dims, params);
        else {
          const g = new Map(inits);
          for (const [name, data] of params) g.set(name, { ...inits.get(name)!, data });
          const runner = await ModelRunner.create({ ...this.hardened, graph: { ...this.hardened.graph, initializers: g } }, { ...runtime, outputs });
          try { out = await runner.run(x, dims); } finally { await runner.release(); }
        }
        for (const v of this.votes) if (!sameVote(out[v.value]?.data, votedValue(v.fold.format, this.vote(v, params), v.fold.half).data)) return false;
      }
      return true;
    } finally {
      await shared?.release();
    }
  }
}

/** Whether onnxruntime's vote output `got` equals `want` word for word (any two float32 or float16 NaNs counted equal: module comment). */
function sameVote(got: unknown, want: TensorData): boolean {
  if (!ArrayBuffer.isView(got) || got.constructor !== want.constructor || (got as TensorData).length !== want.length) return false;
  const g = wordView(got as TensorData), w = wordView(want);
  // float32 values, or float16 words of a native float16 model
  const isNaN = want instanceof Float32Array ? (u: number): boolean => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0
    : want instanceof Uint16Array ? (u: number): boolean => (u & 0x7c00) === 0x7c00 && (u & 0x3ff) !== 0 : (): boolean => false;
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i] && !(isNaN(g[i]) && isNaN(w[i]))) return false;
  return true;
}
