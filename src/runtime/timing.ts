/**
 * Time and profile of bare onnxruntime sessions: several models timed over the same images with
 * their passes interleaved (so machine noise falls on all of them alike), and onnxruntime's own
 * profiler summed per op type (where a model's time goes, after onnxruntime's graph fusions).
 */
import ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlipguardError } from '../errors.js';
import { encodeModel } from '../graph/onnx.js';
import type { Model } from '../graph/types.js';
import { createSession, dataInput, sessionOptions, type RuntimeOptions } from './session.js';

/** Images fed to a timing or profiling run: `count` images of per-image shape `shape`, row-major. */
export interface TimingImages {
  x: Float32Array;
  shape: readonly number[];
  count: number;
}

export interface TimingOptions extends RuntimeOptions {
  /** Images per session.run (default 256). */
  batch?: number;
  /** Timed passes per model (default 5), after one untimed warm-up pass each. */
  runs?: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function pass(session: ort.InferenceSession, input: string, data: TimingImages, batch: number): Promise<number> {
  const per = data.shape.reduce((a, b) => a * b, 1);
  const t0 = performance.now();
  for (let s = 0; s < data.count; s += batch) {
    const n = Math.min(batch, data.count - s);
    await session.run({ [input]: new ort.Tensor('float32', data.x.subarray(s * per, (s + n) * per), [n, ...data.shape]) });
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Seconds per pass over `data` for each model (median of `runs` passes), in one run: pass i of
 * every model is made before pass i + 1 of any, so a load spike on the machine hits all models.
 * Each model gets its own plain onnxruntime session (no flipguard runner in between).
 */
export async function timeModels(models: readonly Model[], data: TimingImages, opts: TimingOptions = {}): Promise<{ seconds: number; passes: number[] }[]> {
  const batch = opts.batch ?? 256;
  const runs = opts.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 1) throw new FlipguardError(`The number of timed runs must be a whole number ≥ 1, got ${runs}.`);
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The batch size must be a whole number ≥ 1, got ${batch}.`);
  const sessions: ort.InferenceSession[] = [];
  try {
    for (const m of models) sessions.push(await createSession(m, opts));
    const inputs = models.map((m) => dataInput(m).name);
    const times: number[][] = models.map(() => []);
    for (let i = 0; i < sessions.length; i++) await pass(sessions[i], inputs[i], data, batch);
    for (let r = 0; r < runs; r++) for (let i = 0; i < sessions.length; i++) times[i].push(await pass(sessions[i], inputs[i], data, batch));
    return times.map((t) => ({ seconds: median(t), passes: t }));
  } finally {
    for (const s of sessions) await s.release();
  }
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
 * default 1), from onnxruntime's profiler (`enableProfiling`): the trace's node events summed per
 * op type, highest first. The op types are those of onnxruntime's optimised graph, so fusions
 * (FusedConv = Conv + activation, layout reorders of the NCHWc transformer, …) show as they run.
 */
export async function profileOps(model: Model, data: TimingImages, opts: TimingOptions = {}): Promise<OpTime[]> {
  const batch = opts.batch ?? 256;
  const runs = opts.runs ?? 1;
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
