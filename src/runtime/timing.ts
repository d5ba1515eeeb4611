/**
 * Inference timing: milliseconds per pass over a data set, passes of several models interleaved so
 * drift on a shared machine affects all of them alike. Session creation is never timed. Also where
 * a model's time goes: onnxruntime's own profiler summed per op type, and the optimised graph
 * onnxruntime actually runs (to see what it fused and folded).
 */
import ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlipguardError } from '../errors.js';
import { encodeModel } from '../graph/onnx.js';
import type { Model } from '../graph/types.js';
import { ModelRunner, dataInput, sessionOptions, type RuntimeOptions } from './session.js';
import { DEFAULT_BATCH, fixedBatch, predict, type ImageSet } from './evaluate.js';

export interface TimingOptions extends RuntimeOptions {
  /** Images per onnxruntime run (default 256). */
  batch?: number;
  /** Timed passes over the data after one warm-up pass (default 5). */
  repeats?: number;
}

/**
 * Milliseconds per inference pass over all of `data` (median of `repeats` passes after one
 * warm-up pass; session creation excluded), and every pass's time.
 */
export async function timeInference(model: Model, data: ImageSet, opts: TimingOptions = {}): Promise<{ msPerPass: number; passes: number[]; cpuPasses: number[] }> {
  const runners = await timeInferenceMany([model], data, opts);
  return runners[0];
}

/**
 * Like `timeInference` for several models, their passes interleaved so drift affects all alike.
 * Also the process CPU time of each pass (`cpuPasses`, ms of user + system time of every thread):
 * on a loaded machine it is not inflated by waiting for a core, as wall time is (with one thread;
 * onnxruntime's pool threads spin while waiting, which counts as CPU time).
 */
export async function timeInferenceMany(models: Model[], data: ImageSet, opts: TimingOptions = {}): Promise<{ msPerPass: number; passes: number[]; cpuPasses: number[] }[]> {
  const repeats = opts.repeats ?? 5;
  const batch = opts.batch ?? DEFAULT_BATCH;
  const runners = await Promise.all(models.map((m) => ModelRunner.create(m, opts)));
  try {
    const passes: number[][] = models.map(() => []);
    const cpu: number[][] = models.map(() => []);
    // a model with a fixed batch dimension is run at that size (last run padded)
    const run = (i: number) => predict(runners[i], data, { batch, fixedBatch: fixedBatch(models[i]) });
    for (let i = 0; i < runners.length; i++) await run(i);
    for (let k = 0; k < repeats; k++) {
      for (let i = 0; i < runners.length; i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await run(i);
        const c = process.cpuUsage(c0);
        passes[i].push(performance.now() - t0);
        cpu[i].push((c.user + c.system) / 1000);
      }
    }
    return passes.map((p, i) => ({ msPerPass: median(p), passes: p, cpuPasses: cpu[i] }));
  } finally {
    for (const r of runners) await r.release();
  }
}

/** Median (mean of the middle two for an even count; NaN for none). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One pass of a bare session over `data` in batches (seconds). */
async function pass(session: ort.InferenceSession, input: string, data: ImageSet, batch: number): Promise<number> {
  const per = data.shape.reduce((a, b) => a * b, 1);
  const t0 = performance.now();
  for (let s = 0; s < data.count; s += batch) {
    const n = Math.min(batch, data.count - s);
    await session.run({ [input]: new ort.Tensor('float32', data.x.subarray(s * per, (s + n) * per), [n, ...data.shape]) });
  }
  return (performance.now() - t0) / 1000;
}

/** One op type's share of a profiled pass. */
export interface OpTime {
  /** onnxruntime's op type after its fusions (e.g. "FusedConv", "Conv", "Where", "ReorderOutput"). */
  op: string;
  /** Kernel time summed over all nodes of this type and all profiled runs, divided by the runs (ms per pass). */
  ms: number;
  /** Nodes of this type in the optimised graph. */
  nodes: number;
}

/**
 * Per-op-type kernel time of `model` on `data` (one untimed warm-up pass, then `runs` profiled passes,
 * default 1 = `repeats`), from onnxruntime's profiler (`enableProfiling`): the trace's node events summed per
 * op type, highest first. The op types are those of onnxruntime's optimised graph, so fusions
 * (FusedConv = Conv + activation, layout reorders of the NCHWc transformer, …) show as they run.
 */
export async function profileOps(model: Model, data: ImageSet, opts: TimingOptions = {}): Promise<OpTime[]> {
  const batch = opts.batch ?? DEFAULT_BATCH;
  const runs = opts.repeats ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-profile-'));
  try {
    const o = { ...sessionOptions(opts), enableProfiling: false };
    const session = await ort.InferenceSession.create(encodeModel(model), { ...o, enableProfiling: true, profileFilePrefix: join(dir, 'p') });
    const input = dataInput(model).name;
    try {
      await pass(session, input, data, batch);
      for (let r = 0; r < runs; r++) await pass(session, input, data, batch);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new FlipguardError('onnxruntime wrote no profile trace; this onnxruntime build may lack profiling support.');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat?: string; name?: string; dur?: number; args?: { op_name?: string; thread_scheduling_stats?: unknown } }[];
    // the first pass is the warm-up: count only the last `runs` of each node's kernel events
    const perNode = new Map<string, { op: string; durs: number[] }>();
    for (const ev of events) {
      if (ev.cat !== 'Node' || !ev.name?.endsWith('_kernel_time') || !ev.args?.op_name) continue;
      const k = perNode.get(ev.name) ?? { op: ev.args.op_name, durs: [] };
      k.durs.push(ev.dur ?? 0);
      perNode.set(ev.name, k);
    }
    const byOp = new Map<string, OpTime>();
    for (const { op, durs } of perNode.values()) {
      const calls = durs.length / (runs + 1);
      const timed = durs.slice(Math.round(calls));
      const t = byOp.get(op) ?? { op, ms: 0, nodes: 0 };
      t.ms += timed.reduce((a, b) => a + b, 0) / 1000 / runs; // µs → ms per pass
      t.nodes++;
      byOp.set(op, t);
    }
    return [...byOp.values()].sort((a, b) => b.ms - a.ms);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The graph onnxruntime actually runs after its optimisations, as ONNX bytes (to see what it fused and folded). */
export async function optimizedModelBytes(model: Model, opts: RuntimeOptions = {}): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'flipguard-opt-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const s = await ort.InferenceSession.create(encodeModel(model), { ...sessionOptions(opts), optimizedModelFilePath: path });
    await s.release();
    return new Uint8Array(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
