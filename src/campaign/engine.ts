/**
 * Evaluates one model under many faulty parameter sets, with exact shortcuts.
 *
 * Plain path (`swap: 'rebuild'`, the default): the model is encoded once; a trial writes its faulted
 * tensors into those bytes, builds an onnxruntime session from them, restores the bytes, and runs
 * the whole evaluation set — exactly what a deployed session of the faulty model computes,
 * including onnxruntime's weight pre-packing and conv+batch-norm fusion. `swap: 'feed'` instead keeps
 * one session whose targeted parameters are run-time inputs (no rebuild, but no pre-packing or
 * fusion either: much slower on conv nets, see bench/RESULTS.md "parameter swapping"; its logits
 * can differ from the fused session's in the last bits, so golden and trials always use one mode).
 *
 * Shortcuts (each switchable; each gives records identical to the plain path):
 * - `noEffect`: tensors whose stored words all equal the clean ones after injection (a flip applied
 *   twice in `floor` mode, a stuck-at bit that already had that value) are fed clean.
 * - `dead`: tensors no graph output depends on are fed clean (their faults cannot reach an output).
 * - `noFault`: a trial left with no changed tensor is the golden result — no run at all.
 * - `foldBits`: a tmr-bits model's votes are computed in JavaScript and the voted weights swapped
 *   into one graph whose votes are folded (fold-bits.ts), instead of a session that folds them per trial.
 * - `prefix`: the layers before the first faulted one compute exactly what the golden run computed,
 *   so the golden activation at a cut point is cached once and only the suffix runs. Cut points are
 *   layer inputs (values read only by Conv/ConvTranspose/Gemm/MatMul, or an activation/pooling
 *   output read by such layers and a residual Add/Concat) that the rest of the graph
 *   reads alone (no skip connection across them, see `singleValueCuts`); cutting there leaves
 *   onnxruntime's fusions unchanged (a cut between a conv and its batch norm would not). Each trial
 *   uses the latest cut before every faulted tensor's first use. Cut points whose cached activations
 *   would not fit in `cacheBytes` are not used, and at start-up every suffix must reproduce the
 *   golden logits bit for bit on clean parameters (checked on its first use) or its cut is dropped
 *   (`rejectedCuts`).
 */
import { FlipguardError, opt } from '../errors.js';
import type { Model, Node, TensorData } from '../graph/types.js';
import { DataType } from '../graph/types.js';
import { DEFAULT_BATCH, fixedBatch, predict, type ImageSet, type Predictions } from '../runtime/evaluate.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { PatchableModel } from '../runtime/patch.js';
import { imageBatches } from '../runtime/batched.js';
import { probeValues } from '../faults/neuron.js';
import type { ParameterInfo } from '../faults/params.js';
import { singleValueCuts, splitModels, type GraphSplit } from '../faults/split.js';
import { consumers, producers } from '../graph/builder.js';
import { countModel } from '../graph/count.js';
import { nodeLabel } from '../graph/layers.js';
import { opSet } from '../graph/ops/index.js';
import { NameScope, dotted } from '../graph/editor.js';
import type { GoldenResult } from './records.js';
import { BitFolding } from './fold-bits.js';

/** Ops whose data input is a cut point for the prefix shortcut. */
// Cut-point roles, read from the op registry (graph/ops/<Op>.ts, field `campaign`)
const LAYER_OPS = opSet((r) => !!r.campaign?.cut);
/** Producers after which a cut also may feed skip connections (no fusion spans them). */
const SAFE_PRODUCERS = opSet((r) => !!r.campaign?.safeProducer);
const SKIP_OPS = opSet((r) => !!r.campaign?.skip);
const QDQ_OPS = opSet((r) => !!r.campaign?.qdq);

export interface Shortcuts {
  /** A trial whose (remaining) faults change no stored word is the golden result, without a run. */
  noFault?: boolean;
  /** Reuse golden activations before the first faulted layer. */
  prefix?: boolean;
  /** Feed clean any tensor the faults left bit-identical (flipped twice, stuck at its own value). */
  noEffect?: boolean;
  /** Feed clean any tensor no graph output depends on. */
  dead?: boolean;
  /** tmr-bits models: vote the stored copies in JavaScript and swap the voted weights into one folded graph (fold-bits.ts). */
  foldBits?: boolean;
}

export const ALL_SHORTCUTS: Required<Shortcuts> = { noFault: true, prefix: true, noEffect: true, dead: true, foldBits: true };
export const NO_SHORTCUTS: Required<Shortcuts> = { noFault: false, prefix: false, noEffect: false, dead: false, foldBits: false };

/** Resolves `true`/`false`/partial settings (missing fields default to on). */
export function resolveShortcuts(s: Shortcuts | boolean | undefined): Required<Shortcuts> {
  if (s === undefined || s === true) return { ...ALL_SHORTCUTS };
  if (s === false) return { ...NO_SHORTCUTS };
  return { ...ALL_SHORTCUTS, ...s };
}

export interface EngineOptions extends RuntimeOptions {
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  shortcuts?: Shortcuts | boolean;
  /** Memory for cached golden activations, bytes (default 512 MiB). */
  cacheBytes?: number;
  /** How faulted parameters reach onnxruntime: rebuild a session from patched bytes (default) or feed them as inputs. */
  swap?: SwapMode;
  /**
   * Smallest share of the model's MACs a cut's prefix must hold for the prefix shortcut to use it
   * (default 0.25): skipping less compute than that does not pay for the separate suffix session.
   */
  minPrefixShare?: number;
}

export type SwapMode = 'rebuild' | 'feed';

/**
 * Runs one model (whole or a suffix) on a data set with some parameters replaced, in either swap
 * mode. The clean session is kept for golden and verification passes.
 */
class Evaluator {
  private constructor(
    private readonly clean: ModelRunner,
    private readonly patchable: PatchableModel | undefined,
    private readonly runtime: RuntimeOptions,
    private readonly batch: number | undefined,
    private readonly fixed: number | undefined,
  ) {}

  static async create(model: Model, mode: SwapMode, targets: Iterable<string>, runtime: RuntimeOptions, batch: number | undefined, fixed: number | undefined): Promise<Evaluator> {
    if (mode === 'feed') return new Evaluator(await ModelRunner.create(model, { ...runtime, swappable: targets }), undefined, runtime, batch, fixed);
    const pm = new PatchableModel(model);
    return new Evaluator(await ModelRunner.fromBytes(pm.bytes, model, runtime), pm, runtime, batch, fixed);
  }

  get outputNames(): string[] { return this.clean.outputNames; }

  /** Predictions with `params` (faulted copies by name) in place of the clean tensors. */
  async predict(data: ImageSet, params?: ReadonlyMap<string, TensorData>): Promise<Predictions> {
    const o = { batch: this.batch, fixedBatch: this.fixed };
    if (!params || params.size === 0) return predict(this.clean, data, o);
    if (!this.patchable) return predict(this.clean, data, { ...o, params });
    return this.patchable.withFaults([], this.runtime, (r) => predict(r, data, o), params);
  }

  async release(): Promise<void> { await this.clean.release(); }
}

/**
 * A suffix whose input `cut` is an activation's DequantizeLinear output (QuantizeLinear → Dequantize-
 * Linear in `model`) starts by quantizing and dequantizing it again with the same scale and zero
 * point: exact (the cached activation is (q − z)·s, which rounds back to q), and the suffix then
 * holds the DequantizeLinear → layer pattern onnxruntime fuses into its integer kernel, as the full
 * model does. Any other suffix is returned as is.
 */
function requantizedSuffix(model: Model, suffix: Model, cut: string): Model {
  const made = producers(model.graph);
  const dq = made.get(cut);
  const q = dq?.opType === 'DequantizeLinear' ? made.get(dq.inputs[0]) : undefined;
  if (!dq || q?.opType !== 'QuantizeLinear') return suffix;
  const g = suffix.graph;
  const taken = new NameScope([...g.initializers.keys(), ...g.nodes.flatMap((n) => n.outputs), ...g.inputs.map((i) => i.name)]);
  const fresh = (base: string): string => taken.variant(base, dotted);
  const inits = new Map(g.initializers);
  const copy = (name: string): string => {
    if (!name) return name;
    const t = model.graph.initializers.get(name);
    if (!t) return name;
    const local = g.initializers.has(name) ? name : fresh(name);
    inits.set(local, { ...t, name: local });
    return local;
  };
  const quantized = fresh(`${cut}.requantized`);
  const restored = fresh(`${cut}.restored`);
  const qNode: Node = { ...q, name: fresh(`${q.name || 'quantize'}.suffix`), inputs: [cut, ...q.inputs.slice(1).map(copy)], outputs: [quantized] };
  const dqNode: Node = { ...dq, name: fresh(`${dq.name || 'dequantize'}.suffix`), inputs: [quantized, ...dq.inputs.slice(1).map(copy)], outputs: [restored] };
  const nodes = g.nodes.map((n) => (n.inputs.includes(cut) ? { ...n, inputs: n.inputs.map((i) => (i === cut ? restored : i)) } : n));
  return { ...suffix, graph: { ...g, nodes: [qNode, dqNode, ...nodes], initializers: inits } };
}

export interface TrialOutcome {
  correct: number;
  /** Images with finite logits whose top-1 differs from the golden top-1. */
  sdc: number;
  /** Images whose logits hold NaN or ±Inf. */
  due: number;
  /** How the trial was evaluated. */
  path: 'golden' | 'suffix' | 'full';
  /** The cut value, for path 'suffix'. */
  cut?: string;
}

interface Cut {
  split: GraphSplit;
  state: 'unverified' | 'ok' | 'rejected';
  data: ImageSet;
  runner?: Evaluator;
  swappable: Set<string>;
}

function countOutcome(p: Predictions, labels: Uint8Array, golden: Int32Array): { correct: number; sdc: number; due: number } {
  let correct = 0;
  let sdc = 0;
  let due = 0;
  const t = p.top1;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v < 0) { due++; continue; }
    if (v === labels[i]) correct++;
    if (v !== golden[i]) sdc++;
  }
  return { correct, sdc, due };
}

export class TrialEngine {
  private cuts: Cut[] = [];
  private readonly live: Map<string, boolean>;
  /** Cut points dropped because their suffix did not reproduce the golden logits exactly. */
  readonly rejectedCuts: string[] = [];

  private constructor(
    private readonly model: Model,
    private readonly data: ImageSet,
    private readonly full: Evaluator,
    readonly golden: GoldenResult,
    readonly goldenTop1: Int32Array,
    private readonly goldenLogits: Float32Array,
    private readonly targets: readonly ParameterInfo[],
    readonly shortcuts: Required<Shortcuts>,
    private readonly opts: EngineOptions,
    private readonly fold: BitFolding | undefined,
  ) {
    this.live = new Map(targets.map((t) => [t.name, t.live]));
  }

  /** Builds the sessions and runs the golden (fault-free) pass. */
  static async create(model: Model, data: ImageSet, targets: readonly ParameterInfo[], opts: EngineOptions = {}): Promise<TrialEngine> {
    if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1)) throw new FlipguardError(`The ${opt('batch')} must be a whole number ≥ 1, got ${opts.batch}.`);
    const runtime: RuntimeOptions = { threads: opts.threads, executionProvider: opts.executionProvider, optimization: opts.optimization };
    const mode = opts.swap ?? 'rebuild';
    if (mode !== 'rebuild' && mode !== 'feed') throw new FlipguardError(`Unknown swap mode "${String(mode)}"; use rebuild or feed.`);
    const shortcuts = resolveShortcuts(opts.shortcuts);
    // a tmr-bits model runs as its folded graph (the engine then sees voted weights, not stored copies)
    const fold = shortcuts.foldBits ? await BitFolding.create(model, targets, data.shape, runtime) : undefined;
    if (fold) { model = fold.model; targets = fold.targets; }
    const names = targets.map((t) => t.name);
    const full = await Evaluator.create(model, mode, names, runtime, opts.batch, fixedBatch(model));
    const goldenPred = await full.predict(data);
    let correct = 0;
    let due = 0;
    for (let i = 0; i < data.count; i++) { if (goldenPred.top1[i] === data.y[i]) correct++; if (goldenPred.top1[i] < 0) due++; }
    const golden: GoldenResult = { accuracy: data.count ? correct / data.count : 0, correct, count: data.count, due };
    const engine = new TrialEngine(model, data, full, golden, goldenPred.top1, goldenPred.logits, targets, shortcuts, opts, fold);
    if (engine.shortcuts.prefix) await engine.prepareCuts(runtime);
    return engine;
  }

  /** Whether the model is run as its folded tmr-bits graph (the `foldBits` shortcut engaged). */
  get foldedBits(): boolean { return this.fold !== undefined; }

  /** Cut points prepared (value names, graph order), not counting rejected ones. */
  get cutValues(): string[] {
    return this.cuts.filter((c) => c.state !== 'rejected').map((c) => c.split.cut);
  }

  /** Runs the self-check of every prepared cut now (normally done on first use). */
  async verifyAllCuts(): Promise<void> {
    for (const c of this.cuts) await this.verified(c);
  }

  private async prepareCuts(runtime: RuntimeOptions): Promise<void> {
    // Cut only at layer inputs (values read solely by Conv/Gemm/MatMul nodes): then the suffix is
    // the same subgraph the whole model runs, so onnxruntime fuses it the same way (a cut between
    // a conv and its BN or activation would change fusions and hence rounding).
    // In a QDQ model a layer input is reached through its activation's QuantizeLinear →
    // DequantizeLinear: the cut sits before that chain, so the suffix keeps the whole pattern
    // onnxruntime fuses into its integer kernel (cutting after it would change the kernel).
    const readers = consumers(this.model.graph);
    const made = producers(this.model.graph);
    const layerInput = (n: Node, v: string): boolean => n.inputs[0] === v && (LAYER_OPS.has(n.opType) || (QDQ_OPS.has(n.opType) && feedsLayers(n.outputs[0])));
    const feedsLayers = (v: string): boolean => { const r = readers.get(v) ?? []; return r.length > 0 && r.every((n) => layerInput(n, v)); };
    const candidates = singleValueCuts(this.model).filter((c) => {
      const r = readers.get(c.cut) ?? [];
      if (r.length === 0) return false;
      if (feedsLayers(c.cut)) return true;
      // residual-style boundaries: an activation/pooling output read by layers and by a skip Add/Concat
      const p = made.get(c.cut);
      return !!p && SAFE_PRODUCERS.has(p.opType) && r.every((n) => layerInput(n, c.cut) || SKIP_OPS.has(n.opType));
    });
    // a cut that skips little compute costs more (a second session, larger cached inputs) than it saves
    const layerMacs = new Map(countModel(this.model).layers.map((l) => [l.name, l.macs]));
    const totalMacs = [...layerMacs.values()].reduce((a, b) => a + b, 0);
    const minShare = this.opts.minPrefixShare ?? 0.25;
    const position = new Map(this.model.graph.nodes.map((n, i) => [n, i]));
    const worthIt = (c: GraphSplit) => totalMacs === 0 || c.prefixNodes.reduce((sum, n) => sum + (layerMacs.get(nodeLabel(n, position.get(n))) ?? 0), 0) >= minShare * totalMacs;
    const all = candidates.filter(worthIt);
    if (all.length === 0) return;
    // the latest usable cut for each live target
    const wanted = new Set<number>();
    for (const t of this.targets) {
      if (!t.live) continue;
      for (let i = all.length - 1; i >= 0; i--) if (!all[i].prefixParams.has(t.name)) { wanted.add(i); break; }
    }
    if (wanted.size === 0) return;
    const idx = [...wanted].sort((a, b) => a - b);
    const probes = await probeValues(this.model, idx.map((i) => all[i].cut), this.data.shape, runtime);
    const probeBatch = fixedBatch(this.model) ?? 2;
    const budget = this.opts.cacheBytes ?? 512 * 1024 * 1024;
    let used = 0;
    const keep: { split: GraphSplit; shape: number[] }[] = [];
    for (let k = idx.length - 1; k >= 0; k--) {
      const split = all[idx[k]];
      const p = probes.get(split.cut)!;
      if (p.elemType !== DataType.FLOAT || p.dims[0] !== probeBatch) continue;
      const shape = p.dims.slice(1);
      const bytes = shape.reduce((a, b) => a * b, 1) * this.data.count * 4;
      if (used + bytes > budget) continue;
      used += bytes;
      keep.unshift({ split, shape });
    }
    if (keep.length === 0) return;
    // capture the golden activations with the same swappable layout as the plain path
    const names = this.targets.map((t) => t.name);
    const out0 = this.full.outputNames[0];
    const capture = await ModelRunner.create(this.model, { ...runtime, swappable: (this.opts.swap ?? 'rebuild') === 'feed' ? names : [], outputs: [out0, ...keep.map((k) => k.split.cut)] });
    const acts = keep.map((k) => new Float32Array(k.shape.reduce((a, b) => a * b, 1) * this.data.count));
    try {
      for (const { start, n, runN, x } of imageBatches(this.data, this.opts.batch ?? DEFAULT_BATCH, fixedBatch(this.model))) {
        const out = await capture.run(x, [runN, ...this.data.shape]);
        keep.forEach((k, j) => {
          const size = acts[j].length / this.data.count;
          acts[j].set((out[k.split.cut].data as Float32Array).subarray(0, n * size), start * size);
        });
      }
    } finally {
      await capture.release();
    }
    const targetNames = new Set(names);
    const cuts: Cut[] = keep.map((k, j) => ({
      split: k.split,
      state: 'unverified' as const,
      data: { name: `${this.data.name}@${k.split.cut}`, x: acts[j], y: this.data.y, shape: k.shape, count: this.data.count, classes: this.data.classes },
      swappable: new Set([...k.split.suffixParams].filter((n) => targetNames.has(n))),
    }));
    this.cuts = cuts;
  }

  /**
   * Self-check on first use: on clean parameters a suffix must reproduce the golden logits bit for
   * bit; a cut that does not (a runtime computing the tail differently) is never used.
   */
  private async verified(cut: Cut): Promise<boolean> {
    if (cut.state === 'ok') return true;
    if (cut.state === 'rejected') return false;
    const runner = await this.suffixRunner(cut);
    const p = await runner.predict(cut.data);
    const golden = new Uint32Array(this.goldenLogits.buffer, this.goldenLogits.byteOffset, this.goldenLogits.length);
    const got = new Uint32Array(p.logits.buffer, p.logits.byteOffset, p.logits.length);
    let same = got.length === golden.length;
    for (let i = 0; same && i < got.length; i++) if (got[i] !== golden[i]) same = false;
    if (same) { cut.state = 'ok'; return true; }
    cut.state = 'rejected';
    this.rejectedCuts.push(cut.split.cut);
    await runner.release();
    cut.runner = undefined;
    cut.data = { ...cut.data, x: new Float32Array(0) };
    return false;
  }

  private async suffixRunner(cut: Cut): Promise<Evaluator> {
    if (!cut.runner) {
      const { suffix: plain } = splitModels(this.model, cut.split, new Map([[cut.split.cut, { elemType: DataType.FLOAT }]]));
      const suffix = requantizedSuffix(this.model, plain, cut.split.cut);
      const runtime: RuntimeOptions = { threads: this.opts.threads, executionProvider: this.opts.executionProvider, optimization: this.opts.optimization };
      cut.runner = await Evaluator.create(suffix, this.opts.swap ?? 'rebuild', cut.swappable, runtime, this.opts.batch, fixedBatch(this.model));
    }
    return cut.runner;
  }

  /**
   * Evaluates the data set with `tensors` (faulted copies, by name) in place of the clean ones.
   * `changed`, when given, is the subset whose words differ from the clean ones (used by the
   * `noEffect` shortcut).
   */
  async evaluate(tensors: ReadonlyMap<string, TensorData>, changed?: ReadonlyMap<string, TensorData>): Promise<TrialOutcome> {
    if (this.fold) {
      tensors = this.fold.translate(tensors, false);
      if (changed) changed = this.fold.translate(changed, true);
    }
    let swap = new Map(this.shortcuts.noEffect && changed ? changed : tensors);
    if (this.shortcuts.dead) for (const n of [...swap.keys()]) if (this.live.get(n) === false) swap.delete(n);
    if (swap.size === 0 && this.shortcuts.noFault) {
      return { correct: this.golden.correct, sdc: 0, due: this.golden.due, path: 'golden' };
    }
    if (this.shortcuts.prefix && this.cuts.length) {
      for (let i = this.cuts.length - 1; i >= 0; i--) {
        const cut = this.cuts[i];
        let ok = true;
        for (const n of swap.keys()) if (cut.split.prefixParams.has(n)) { ok = false; break; }
        if (!ok || !(await this.verified(cut))) continue;
        const params = new Map<string, TensorData>();
        for (const [n, a] of swap) if (cut.swappable.has(n)) params.set(n, a);
        const runner = await this.suffixRunner(cut);
        const p = await runner.predict(cut.data, params);
        return { ...countOutcome(p, this.data.y, this.goldenTop1), path: 'suffix', cut: cut.split.cut };
      }
    }
    const p = await this.full.predict(this.data, swap);
    return { ...countOutcome(p, this.data.y, this.goldenTop1), path: 'full' };
  }

  async release(): Promise<void> {
    await this.full.release();
    for (const c of this.cuts) if (c.runner) await c.runner.release();
    this.cuts = [];
  }
}

