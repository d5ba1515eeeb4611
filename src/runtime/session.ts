/**
 * onnxruntime sessions built from a Model in memory (no temporary files), and a runner that feeds
 * batches and, when asked, takes parameter tensors as run-time inputs so that a faulty copy of the
 * parameters can be swapped in without rebuilding the session.
 */
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { FlipguardError, opt } from '../errors.js';
import { encodeModel } from '../graph/onnx.js';
import { float16ToNumber, ortTypeName } from '../graph/dtype.js';
import { DataType, type Model, type Tensor, type TensorData, type Graph } from '../graph/types.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Intra-op threads; default: onnxruntime's choice (all cores). */
  threads?: number;
  /** Execution provider; `cuda` only where the installed onnxruntime has it. Default `cpu`. */
  executionProvider?: ExecutionProvider;
  /** Graph optimisation level; default `all`. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** Cores of this machine, and the most intra-op threads a session may ask for (more only costs memory). */
export const CORES = availableParallelism();
export const MAX_THREADS = 4 * CORES;

/** onnxruntime session options from flipguard's runtime options. */
export function sessionOptions(opts: RuntimeOptions = {}): ort.InferenceSession.SessionOptions {
  const ep = opts.executionProvider ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new FlipguardError(`Unknown execution provider "${ep}"; use cpu or cuda.`);
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > MAX_THREADS) {
      throw new FlipguardError(`The ${opt('threads')} must be a whole number from 1 to ${MAX_THREADS} (4 × the ${CORES} cores), got ${opts.threads}.`);
    }
    o.intraOpNumThreads = opts.threads;
  }
  return o;
}

/** Creates an onnxruntime session from a Model held in memory. */
export async function createSession(model: Model | Uint8Array, opts: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions(opts));
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    if (/cuda/i.test(msg) && opts.executionProvider === 'cuda') {
      throw new FlipguardError(`The CUDA execution provider is not available in this onnxruntime install (${msg}); set ${opt('provider')} to cpu.`);
    }
    const kernel = /Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'/.exec(msg);
    if (kernel) {
      throw new FlipguardError(`onnxruntime's ${opts.executionProvider ?? 'cpu'} provider has no kernel for the ${kernel[1]} node "${kernel[3]}" (opset ${kernel[2]}) with the model's tensor types; for float16, run "flipguard convert --to float16" on the float32 model instead (float16 parameters cast to float32, computed in float32).`);
    }
    throw new FlipguardError(`onnxruntime could not load the model: ${msg}`);
  }
}

/** Wraps typed data as an onnxruntime tensor (no copy for CPU tensors). */
export function toOrt(t: { dataType: number; dims: number[]; data: TensorData }): ort.Tensor {
  return new ort.Tensor(ortTypeName(t.dataType), t.data as never, t.dims);
}

/**
 * Returns a copy of `model` whose initializers named in `names` are graph inputs instead, so that
 * values can be fed per run.
 */
export function paramsAsInputs(model: Model, names: Iterable<string>): Model {
  const g = model.graph;
  const initializers = new Map(g.initializers);
  const inputs = [...g.inputs];
  for (const n of names) {
    const t = initializers.get(n);
    if (!t) throw new Error(`no initializer ${n}`);
    initializers.delete(n);
    inputs.push({ name: n, elemType: t.dataType, shape: [...t.dims] });
  }
  const graph: Graph = { ...g, initializers, inputs, initializerInputs: g.initializerInputs?.filter((v) => initializers.has(v.name)) };
  return { ...model, graph };
}

/** The model as a session sees it: swappable parameters as inputs, extra values as outputs. */
function runnableModel(model: Model, swappable: string[], outputs?: string[]): Model {
  let m = swappable.length ? paramsAsInputs(model, swappable) : model;
  if (outputs) {
    const known = new Set(m.graph.outputs.map((o) => o.name));
    m = { ...m, graph: { ...m.graph, outputs: [...m.graph.outputs, ...outputs.filter((o) => !known.has(o)).map((name) => ({ name }))] } };
  }
  return m;
}

/** The name and per-image shape of a model's single data input. */
export function dataInput(model: Model): { name: string; shape: (number | string | null)[] } {
  const ins = model.graph.inputs;
  if (ins.length !== 1) {
    throw new FlipguardError(`The model has ${ins.length} data inputs (${ins.map((i) => i.name).join(', ') || 'none'}); flipguard works on image classifiers with exactly one input.`);
  }
  return { name: ins[0].name, shape: ins[0].shape ?? [] };
}

/**
 * float32 values rounded (half to even) to float16 words, for a native float16 model's input: the
 * words `numberToFloat16` gives, from the float32 bits (4× faster; every trial feeds every image).
 */
export function toFloat16Words(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const w = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = u[i];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    const e = exp - 112; // float16 biased exponent
    let h: number;
    let rem: number;
    let half: number;
    if (exp === 0xff) { w[i] = mant ? 0x7e00 : sign | 0x7c00; continue; }
    if (e >= 31) { w[i] = sign | 0x7c00; continue; }
    if (e <= 0) {
      if (e < -10) { w[i] = sign; continue; }
      const m = mant | 0x800000;
      const shift = 14 - e;
      h = m >>> shift;
      rem = m & ((1 << shift) - 1);
      half = 1 << (shift - 1);
    } else {
      h = (e << 10) | (mant >>> 13);
      rem = mant & 0x1fff;
      half = 0x1000;
    }
    if (rem > half || (rem === half && (h & 1))) h++; // a carry into the exponent is still exact
    w[i] = sign | h;
  }
  return w;
}

let HALF_VALUES: Float32Array | undefined;
/** float16 words decoded to float32 (exact: every float16 value is a float32). */
export function fromFloat16Words(w: Uint16Array): Float32Array {
  if (!HALF_VALUES) {
    HALF_VALUES = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_VALUES[h] = float16ToNumber(h);
  }
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = HALF_VALUES[w[i]];
  return out;
}

/**
 * A run's outputs with the model's own float16 outputs (a native float16 model's logits) decoded to
 * float32; extra outputs keep their type, so probes see which activations are float16.
 */
function widenHalfOutputs(out: Record<string, ort.Tensor>, names: ReadonlySet<string>): Record<string, ort.Tensor> {
  for (const [k, t] of Object.entries(out)) if (t.type === 'float16' && names.has(k)) out[k] = new ort.Tensor('float32', fromFloat16Words(t.data as Uint16Array), t.dims);
  return out;
}

/**
 * Runs a model on batches. With `swappable`, the named parameters are session inputs and each run
 * can feed replacement values (the clean ones otherwise).
 */
export class ModelRunner {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputNames: string[],
    private readonly cleanFeeds: Record<string, ort.Tensor>,
    readonly swappable: ReadonlyMap<string, Tensor>,
    /** Shapes of float inputs other than the data input (parameters a gradient graph takes as inputs). */
    private readonly inputDims: ReadonlyMap<string, number[]> = new Map(),
    /** True when the data input is float16 (a native float16 model): images are rounded to float16 words. */
    private readonly halfInput = false,
    /** The model's own outputs (float16 ones are returned as float32). */
    private readonly modelOutputs: ReadonlySet<string> = new Set(),
  ) {}

  static async create(model: Model, opts: RuntimeOptions & { swappable?: Iterable<string>; outputs?: string[]; input?: string } = {}): Promise<ModelRunner> {
    const swapNames = [...(opts.swappable ?? [])];
    for (const n of swapNames) if (!model.graph.initializers.has(n)) throw new Error(`no initializer ${n} to make swappable`);
    return ModelRunner.fromBytes(encodeModel(runnableModel(model, swapNames, opts.outputs)), model, { ...opts, swappable: swapNames });
  }

  /**
   * A runner over already-encoded model bytes (the bytes may be modified after this returns:
   * onnxruntime copies what it needs). `model` describes those bytes (for names and shapes).
   */
  static async fromBytes(bytes: Uint8Array, model: Model, opts: RuntimeOptions & { swappable?: Iterable<string>; outputs?: string[]; input?: string } = {}): Promise<ModelRunner> {
    const swappable = new Map<string, Tensor>();
    for (const n of opts.swappable ?? []) swappable.set(n, model.graph.initializers.get(n)!);
    const input = opts.input ?? dataInput(model).name;
    const m = runnableModel(model, [...swappable.keys()], opts.outputs);
    const session = await createSession(bytes, opts);
    const clean: Record<string, ort.Tensor> = {};
    for (const [n, t] of swappable) clean[n] = toOrt(t);
    const inputDims = new Map<string, number[]>();
    for (const v of m.graph.inputs) if (v.name !== input && v.shape && v.shape.every((d) => typeof d === 'number')) inputDims.set(v.name, v.shape as number[]);
    const halfInput = m.graph.inputs.find((v) => v.name === input)?.elemType === DataType.FLOAT16;
    return new ModelRunner(session, input, opts.outputs ?? model.graph.outputs.map((o) => o.name), clean, swappable, inputDims, halfInput, new Set(model.graph.outputs.map((o) => o.name)));
  }

  /**
   * Runs one batch `x` of `n` images with per-image shape `imageShape`; returns the requested
   * outputs. `params` replaces swappable parameters for this run only.
   */
  async run(x: Float32Array, dims: number[], params?: ReadonlyMap<string, TensorData>): Promise<Record<string, ort.Tensor>> {
    return this.runFeeds(x, dims, params);
  }

  /** Like `run`, with extra named inputs (labels, seeds) and parameters that are graph inputs. */
  async runFeeds(x: Float32Array, dims: number[], params?: ReadonlyMap<string, TensorData>, extra: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
    const feeds: Record<string, ort.Tensor> = { ...this.cleanFeeds, ...extra };
    if (params) {
      for (const [name, data] of params) {
        const t = this.swappable.get(name);
        // a tmr-bits model's int32 stored words arrive as Float32Array views of their bits
        const typed = t?.dataType === DataType.INT32 && !(data instanceof Int32Array) ? new Int32Array(data.buffer, data.byteOffset, data.byteLength >> 2) : data;
        if (t) feeds[name] = new ort.Tensor(ortTypeName(t.dataType), typed as never, t.dims);
        else if (this.inputDims.has(name)) feeds[name] = new ort.Tensor('float32', data as never, this.inputDims.get(name)!);
        else throw new Error(`parameter ${name} is neither swappable nor an input of this runner`);
      }
    }
    feeds[this.inputName] = this.halfInput ? new ort.Tensor('float16', toFloat16Words(x), dims) : new ort.Tensor('float32', x, dims);
    try {
      return widenHalfOutputs(await this.session.run(feeds, this.outputNames), this.modelOutputs);
    } catch (e) {
      throw new FlipguardError(`onnxruntime failed to run the model on input of shape [${dims.join(', ')}]: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
