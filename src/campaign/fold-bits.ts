/**
 * The `foldBits` shortcut for tmr-bits models (harden/tmr-bits.ts). Such a model votes its stored
 * copies in a subgraph of constants, which onnxruntime folds into the weights when it creates a
 * session — seconds per session on a VGG-style model, paid again on every campaign trial. Instead,
 * the campaign votes the faulted copies itself (`voteWords`, the bitwise majority the graph
 * computes) and swaps the voted float32 weights into one graph whose votes are already folded
 * (`foldBitsModel`), like any other parameter. A trial whose faults are all outvoted changes no
 * voted weight, so the `noEffect`/`noFault` shortcuts see no change at all.
 *
 * Exactness: at start-up the model's own vote subgraph is run by onnxruntime, with the stored
 * copies fed as inputs (clean, then seeded random words), and its outputs must equal `voteWords`
 * bit for bit (any NaN counted equal: the graph makes NaN words arithmetically, with its own
 * payload, and every NaN weight gives the same NaN outputs); otherwise the model runs unfolded.
 */
import type { Model, TensorData } from '../graph/types.js';
import { DataType } from '../graph/types.js';
import { foldBitsModel, voteWords, wordsOf, type BitFold } from '../harden/tmr-bits.js';
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
      return { value: v.value, fold: v, stored, clean: Uint32Array.from(wordsOf(w.data)) };
    });
    if (!votes.some((v) => v.stored.some((n) => names.has(n)))) return undefined;
    const keep = new Set([...names, ...votes.filter((v) => v.stored.some((n) => names.has(n))).map((v) => v.value)]);
    const folded = listParameters(fold.model).filter((p) => keep.has(p.name));
    const f = new BitFolding(fold.model, folded, votes, model);
    return (await f.selfCheck(shape, runtime)) ? f : undefined;
  }

  /** The voted words of `v` from `tensors` (stored copies by name; missing ones clean). */
  private vote(v: Vote, tensors: ReadonlyMap<string, TensorData>): Uint32Array {
    const get = (n: string): Uint32Array => wordsOf(tensors.get(n) ?? this.hardened.graph.initializers.get(n)!.data);
    return voteWords(v.fold.triple, get(v.stored[0]), [get(v.stored[1]), get(v.stored[2])], v.fold.index);
  }

  /**
   * `tensors` (faulted copies of the hardened model's parameters, by name) as the folded graph's
   * parameters: every stored copy is replaced by its voted float32 weight. With `onlyChanged`, a
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
      out.set(v.value, new Float32Array(w.buffer));
    }
    return out;
  }

  /** The hardened graph's own votes, computed by onnxruntime from fed copies, against `voteWords`. */
  private async selfCheck(shape: readonly number[], runtime: RuntimeOptions): Promise<boolean> {
    const stored = this.votes.flatMap((v) => v.stored);
    const runner = await ModelRunner.create(this.hardened, { ...runtime, swappable: stored, outputs: this.votes.map((v) => v.value) });
    try {
      const n = fixedBatch(this.hardened) ?? 1;
      const dims = [n, ...shape];
      const x = new Float32Array(dims.reduce((a, b) => a * b, 1));
      const rng = new Rng(17);
      const random = new Map<string, TensorData>();
      for (const name of stored) {
        const t = this.hardened.graph.initializers.get(name)!;
        if (t.dataType !== DataType.INT32) return false;
        random.set(name, Int32Array.from({ length: t.data.length }, () => rng.nextU32() | 0));
      }
      for (const params of [new Map<string, TensorData>(), random]) {
        const out = await runner.run(x, dims, params);
        for (const v of this.votes) {
          const want = this.vote(v, params);
          const got = out[v.value]?.data;
          if (!(got instanceof Float32Array) || got.length !== want.length) return false;
          const g = wordsOf(got);
          const isNaN32 = (u: number): boolean => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
          for (let i = 0; i < want.length; i++) if (g[i] !== want[i] && !(isNaN32(g[i]) && isNaN32(want[i]))) return false;
        }
      }
      return true;
    } finally {
      await runner.release();
    }
  }
}
