/**
 * Overheads of a hardened model against its original (SPEC §6): parameters, stored bytes, MACs
 * per image and measured inference time per pass over a dataset, each with its ratio
 * hardened / original.
 *
 * Counting conventions are graph/count.ts's (a parameter is a float initializer element, stored
 * bytes cover every initializer, MACs are Conv/Gemm/MatMul multiply-accumulates per image;
 * elementwise EDAC and voter ops count 0 MACs). `countModel`'s shape inference does not know the
 * comparison and selection ops hardening uses, so `countHardened` counts a stand-in graph: every
 * hardening stage recorded in the model's `flipguard.hardened` metadata is replaced by an op of
 * the same output shape (Slice to the original channel count, or Identity for a voted weight).
 * Parameters and stored bytes come from the real initializers, MACs from the real layer shapes.
 */
import { FlipguardError } from '../errors.js';
import { countModel, countStored, type ModelCount } from '../graph/count.js';
import { formatCounts } from '../graph/info.js';
import { DataType, type Model, type Node } from '../graph/types.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { timeInferenceMany } from '../runtime/timing.js';
import { DEFAULT_BATCH } from '../defaults.js';
import { FieldError, num, obj, optStr, str, type Obj } from '../util/validate.js';
import { HARDEN_TAG } from './graph-edit.js';
import { hardenedInfo, hardenedStages, storedWordTensors } from './common.js';

/** The hardened model with its hardening stages replaced by shape-equivalent supported ops (for counting only; it computes nothing useful). */
export function countingView(model: Model): Model {
  const info = hardenedInfo(model);
  if (!info) return model;
  // a model hardened twice (e.g. ranger, then tmr-bits): every step's stages
  const stages = hardenedStages(model);
  const g = model.graph;
  const inits = new Map(g.initializers);
  const stand: Node[] = [];
  stages.forEach((s, i) => {
    if (s.kind === 'same') {
      stand.push({ name: `count.stage${i}`, opType: 'Identity', domain: '', inputs: [s.input], outputs: [s.output], attributes: {} });
    } else {
      const mk = (n: string, v: number): string => { const name = `count.stage${i}.${n}`; inits.set(name, { name, dataType: DataType.INT64, dims: [1], data: BigInt64Array.of(BigInt(v)) }); return name; };
      stand.push({ name: `count.stage${i}`, opType: 'Slice', domain: '', inputs: [s.input, mk('starts', 0), mk('ends', s.channels ?? 0), mk('axes', 1)], outputs: [s.output], attributes: {} });
    }
  });
  // a model node reading a value inside a stage (native float16: a stage's float32 result, read past
  // its Cast to float16 by a float32 node; a Cast up to float32 before such a node): an Identity of
  // the value of the same shape outside — the stage output that Cast writes, or the Cast's input
  const kept = g.nodes.filter((n) => n.docString !== HARDEN_TAG);
  const have = new Set([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...kept.flatMap((n) => n.outputs), ...stand.map((n) => n.outputs[0])]);
  const dropped = g.nodes.filter((n) => n.docString === HARDEN_TAG && n.opType === 'Cast');
  const outside = (v: string, hops = 0): string | undefined => {
    if (have.has(v)) return v;
    if (hops > 4) return undefined;
    const down = dropped.find((c) => c.inputs[0] === v && have.has(c.outputs[0]));
    if (down) return down.outputs[0];
    const up = dropped.find((c) => c.outputs[0] === v);
    return up && outside(up.inputs[0], hops + 1);
  };
  for (const v of new Set(kept.flatMap((n) => n.inputs))) {
    const from = v && !have.has(v) ? outside(v) : undefined;
    if (from) stand.push({ name: `count.inner${stand.length}`, opType: 'Identity', domain: '', inputs: [from], outputs: [v], attributes: {} });
  }
  // place each stand-in right after the producer of its input (or first, for initializers)
  const byInput = new Map<string, Node[]>();
  const first: Node[] = [];
  for (const s of stand) {
    if (g.initializers.has(s.inputs[0]) || g.inputs.some((v) => v.name === s.inputs[0])) first.push(s);
    else { const l = byInput.get(s.inputs[0]) ?? []; l.push(s); byInput.set(s.inputs[0], l); }
  }
  const nodes: Node[] = [];
  const emit = (n: Node): void => {
    nodes.push(n);
    for (const o of n.outputs) for (const s of byInput.get(o) ?? []) emit(s);
  };
  first.forEach(emit);
  kept.forEach(emit);
  // the stand-ins' own index initializers are not part of the model: count stored bytes on the real one
  return { ...model, graph: { ...g, nodes, initializers: inits } };
}

/** countModel of a hardened (or plain) model; parameters and stored bytes are the model's own. */
export function countHardened(model: Model): ModelCount {
  // tmr-bits stores weights (and their bit planes) as int32 words: parameters all the same
  const words = storedWordTensors(model);
  // the stand-ins' index initializers are not the model's: parameters and stored bytes on the real one
  return { ...countModel(countingView(model), words), ...countStored(model, words) };
}

export interface Ratio {
  original: number;
  hardened: number;
  /** hardened / original. */
  ratio: number;
}

export interface Overheads {
  /** Float parameters (every stored float element, redundancy and interval bounds included). */
  parameters: Ratio;
  /** Bytes of every initializer (indices and masks included). */
  storedBytes: Ratio;
  /** Stored bits of the parameters, each word at its format's width (an int8 word 8 bits, float16 16, float32 32): what a BER applies to. Always set by `overheads`. */
  parameterBits?: Ratio;
  /** Multiply-accumulates per image (Conv/Gemm/MatMul). */
  macs: Ratio;
  /** Seconds per pass over `data` (median of `runs` timed passes, after one warm-up each). */
  time: Ratio & { runs: number; batch: number; images: number };
}

export interface OverheadOptions extends RuntimeOptions {
  /** Images per run (default 256; a model with a fixed batch size uses it). */
  batch?: number;
  /** Timed passes per model (default 5); passes alternate between the two models. */
  runs?: number;
}

const ratio = (original: number, hardened: number): Ratio => ({ original, hardened, ratio: original ? hardened / original : NaN });


/** Stored parameter bits of `model` over every format (graph/info.ts formatCounts; tmr-bits words included). */
export function parameterBits(model: Model): number {
  return formatCounts(model, storedWordTensors(model)).reduce((s, f) => s + f.bits, 0);
}

/**
 * Parameters, stored bytes, MACs and inference time of `hardened` relative to `original`, both run
 * by onnxruntime with the same options and batch size over `data` (e.g. the test split).
 */
export async function overheads(original: Model, hardened: Model, data: ImageSet, opts: OverheadOptions = {}): Promise<Overheads> {
  const runs = opts.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 1) throw new FlipguardError(`The number of timed runs must be a whole number ≥ 1, got ${runs}.`);
  const batch = opts.batch ?? DEFAULT_BATCH;
  const co = countHardened(original), ch = countHardened(hardened);
  // passes alternate between the two models (one warm-up each), medians in seconds
  const [to, th] = await timeInferenceMany([original, hardened], data, { ...opts, batch, repeats: runs });
  return {
    parameters: ratio(co.parameters, ch.parameters),
    storedBytes: ratio(co.storedBytes, ch.storedBytes),
    parameterBits: ratio(parameterBits(original), parameterBits(hardened)),
    macs: ratio(co.macs, ch.macs),
    time: { ...ratio(to.msPerPass / 1000, th.msPerPass / 1000), runs, batch, images: data.count },
  };
}

// ───────────────────────────── the harden report file ─────────────────────────────

/** The cost figures a harden report can hold (each an `Overhead`). */
export type OverheadMetric = 'parameters' | 'storedBytes' | 'macs' | 'time';
export const OVERHEAD_METRICS: readonly OverheadMetric[] = ['parameters', 'storedBytes', 'macs', 'time'];

/** One overhead figure as a file records it: a `Ratio`, and for time the images per timed pass, timed passes (median taken) and batch size, when recorded. */
export interface Overhead extends Ratio {
  images?: number;
  runs?: number;
  batch?: number;
}

/**
 * Harden report JSON (`flipguard harden --json`; the demo's `inputs/*.harden.json`): the method,
 * the share of units hardened and at least one of the `Overheads` (parameters: count; storedBytes:
 * bytes; macs: per image; time: seconds per pass over `time.images` images, median of `time.runs`
 * passes). Other fields (ranking, protected, totals, …) are allowed and ignored.
 */
export interface HardenReportFile {
  method: string;
  /** Share of units hardened, in [0, 1]. */
  ratio: number;
  overheads: Partial<Record<OverheadMetric, Overhead>>;
  variant?: string;
  model?: string;
}

function readOverhead(v: unknown, f: string): Overhead {
  const o = obj(v, f);
  const original = num(o.original, `${f}.original`, [0, Infinity]);
  const hardened = num(o.hardened, `${f}.hardened`, [0, Infinity]);
  let ratio: number;
  if (o.ratio === undefined || o.ratio === null) {
    if (original === 0) throw new FieldError(`${f}.ratio`, 'is missing and cannot be computed (original is 0)');
    ratio = hardened / original;
  } else ratio = num(o.ratio, `${f}.ratio`, [0, Infinity]);
  const out: Overhead = { original, hardened, ratio };
  for (const k of ['images', 'runs', 'batch'] as const) if (o[k] !== undefined && o[k] !== null) out[k] = num(o[k], `${f}.${k}`, [0, Infinity]);
  return out;
}

/** Reads the `overheads` object of a harden report (field path `f`); throws a FieldError naming the first bad field. */
export function readOverheads(v: unknown, f: string): HardenReportFile['overheads'] {
  const ov = obj(v, f);
  const out: HardenReportFile['overheads'] = {};
  for (const m of OVERHEAD_METRICS) if (ov[m] !== undefined && ov[m] !== null) out[m] = readOverhead(ov[m], `${f}.${m}`);
  if (Object.keys(out).length === 0) throw new FieldError(f, `holds none of ${OVERHEAD_METRICS.join(', ')}`);
  return out;
}

/** Reads a harden report JSON (`HardenReportFile`); throws a FieldError naming the first bad field. */
export function readHardenReportFile(o: Obj): HardenReportFile {
  const overheads = readOverheads(o.overheads, 'overheads');
  const out: HardenReportFile = { method: str(o.method, 'method'), ratio: num(o.ratio, 'ratio', [0, 1]), overheads };
  const variant = optStr(o.variant, 'variant');
  if (variant !== undefined) out.variant = variant;
  const model = optStr(o.model, 'model');
  if (model !== undefined) out.model = model;
  return out;
}
