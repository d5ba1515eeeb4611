/**
 * Gradient rules against central finite differences, table-driven over the rule registry.
 *
 * Every case builds a small forward graph whose differentiable tensors are graph inputs with
 * seeded random values (kept away from kinks where the op has them), a scalar loss
 * L = Σ_outputs Σ out ⊙ R with fixed random R, and compares the gradient graph's dL/d(input) with
 * central differences of the forward graph run by onnxruntime in float32 (L summed in float64 in
 * JavaScript). Step h = 1e-2 (absolute); the denominator is the float32 difference actually
 * applied. Tolerance per element: |analytic − numeric| ≤ 1e-3·max(1, max|numeric|) + 3e-3·|numeric|
 * (max over the checked elements of that input).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { FlipguardError } from '../src/errors.js';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { DataType, type Attribute, type Model } from '../src/graph/types.js';
import { createSession } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';
import { floatTensor } from '../src/graph/builder.js';
import { paramsAsInputs } from '../src/runtime/session.js';
import { NON_DIFFERENTIABLE, gradientGraph, registeredOps, ruleFor } from '../src/autodiff/index.js';
import { perSampleNormsByLoop, perSampleSquaredChannelGradNorms } from '../src/analysis/per-sample.js';

const STEP = 1e-2;
const ATOL = 1e-3;
const RTOL = 3e-3;
/** At most this many elements of each input are checked by finite differences (a seeded random subset). */
const MAX_CHECKED = 40;

type Attrs = Record<string, Attribute>;
type Kind = 'normal' | 'away' | 'denominator' | 'distinct' | 'positive' | 'clipsafe';

interface Feed { dims: number[]; data: Float32Array }

/** What a case's builder can use: the graph builder, a seeded generator and input declarations. */
class CaseBuilder {
  readonly b = new GraphBuilder('case');
  readonly floats = new Map<string, Feed>();
  readonly others: Record<string, ort.Tensor> = {};
  constructor(readonly r: Rng) {}

  /** A float graph input with random values of the given kind (differentiated and checked). */
  input(name: string, dims: number[], kind: Kind = 'normal'): string {
    this.b.input(name, dims);
    this.floats.set(name, { dims, data: randomData(this.r, dims, kind) });
    return name;
  }

  /** An int64 graph input (not differentiated). */
  intInput(name: string, dims: number[], values: number[]): string {
    this.b.input(name, dims, DataType.INT64);
    this.others[name] = new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
    return name;
  }

  /** A random integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.r.int(hi - lo + 1);
  }
}

function randomData(r: Rng, dims: number[], kind: Kind): Float32Array {
  const n = dims.reduce((p, q) => p * q, 1);
  const out = new Float32Array(n);
  if (kind === 'distinct') {
    // a permutation of a grid with spacing 0.1: orderings survive ±h perturbations
    const order = r.shuffle(Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i++) out[i] = (order[i] - n / 2) * 0.1;
    return out;
  }
  for (let i = 0; i < n; i++) {
    const u = r.next();
    const s = r.next() < 0.5 ? -1 : 1;
    switch (kind) {
      case 'normal': out[i] = r.normal(); break;
      case 'away': out[i] = s * (0.2 + 1.3 * u); break; // |x| ≥ 0.2: no kink at 0 within ±h
      case 'positive': out[i] = 0.5 + u; break;
      case 'denominator': out[i] = s * (0.5 + u); break; // |x| ≥ 0.5: small curvature of 1/x within ±h
      case 'clipsafe': out[i] = s * (u < 0.5 ? 0.1 + 0.6 * u : 0.7 + 1.6 * (u - 0.5)); break; // avoids |x| ∈ (0.38, 0.62)
    }
  }
  return out;
}

interface Case {
  /** Registry op this case exercises. */
  op: string;
  name: string;
  opset?: number;
  /** Builds the forward graph; returns its float outputs. */
  build(c: CaseBuilder): string[];
  /** Inputs not to differentiate (e.g. running statistics in training mode). */
  skip?: string[];
  atol?: number;
}

const sessions: ort.InferenceSession[] = [];
async function session(m: Model): Promise<ort.InferenceSession> {
  const s = await createSession(m, { threads: 1 });
  sessions.push(s);
  return s;
}

function tensor(f: Feed): ort.Tensor {
  return new ort.Tensor('float32', f.data, f.dims);
}

/** Σ_o Σ out_o ⊙ R_o in float64. */
function lossOf(out: Record<string, ort.Tensor>, names: string[], rs: Float32Array[]): number {
  let s = 0;
  names.forEach((n, k) => { const d = out[n].data as Float32Array; const r = rs[k]; for (let i = 0; i < d.length; i++) s += d[i] * r[i]; });
  return s;
}

interface CheckResult { checked: number; maxErr: number; worst: string }

async function checkCase(c: Case, seed: number): Promise<CheckResult> {
  const r = new Rng(seed);
  const cb = new CaseBuilder(r);
  const outputs = c.build(cb);
  const b = cb.b;
  for (const o of outputs) b.output(o);
  const forward = makeModel(b.build(), { opset: c.opset ?? 17 });
  const fwd = await session(forward);
  const baseFeeds: Record<string, ort.Tensor> = { ...cb.others };
  for (const [k, f] of cb.floats) baseFeeds[k] = tensor(f);
  const base = await fwd.run(baseFeeds);
  const rs = outputs.map((o) => randomData(r, [...base[o].dims], 'normal'));

  // L = Σ_o reshape(o, [1, -1]) · R_o  (MatMul), summed with Add; the gradient graph differentiates L
  const lb = new GraphBuilder('loss', forward.graph);
  let total: string | undefined;
  outputs.forEach((o, k) => {
    const flat = lb.op('Reshape', [o, lb.ints('flat', [1, -1])]);
    const term = lb.op('MatMul', [flat, lb.init('R', [rs[k].length, 1], rs[k])]);
    total = total ? lb.op('Add', [total, term]) : term;
  });
  const lossModel = makeModel(lb.build({ outputs: [{ name: total!, elemType: DataType.FLOAT }] }), { opset: c.opset ?? 17 });
  const wrt = [...cb.floats.keys()].filter((k) => !(c.skip ?? []).includes(k));
  const grad = gradientGraph(lossModel, { scalar: total!, wrt });
  const gs = await session(grad.model);
  const gout = await gs.run(baseFeeds);

  let checked = 0;
  let maxErr = 0;
  let worst = '';
  const atol = c.atol ?? ATOL;
  for (const name of wrt) {
    const f = cb.floats.get(name)!;
    const analytic = gout[grad.gradOutputs.get(name)!].data as Float32Array;
    assert.deepEqual([...gout[grad.gradOutputs.get(name)!].dims], f.dims, `${c.name}: gradient of ${name} has the input's shape`);
    const idx = r.shuffle(Array.from({ length: f.data.length }, (_, i) => i)).slice(0, MAX_CHECKED);
    const numeric: number[] = [];
    for (const i of idx) {
      const x0 = f.data[i];
      const data = f.data.slice();
      const xp = Math.fround(x0 + STEP);
      const xm = Math.fround(x0 - STEP);
      data[i] = xp;
      const lp = lossOf(await fwd.run({ ...baseFeeds, [name]: tensor({ dims: f.dims, data }) }), outputs, rs);
      data[i] = xm;
      const lm = lossOf(await fwd.run({ ...baseFeeds, [name]: tensor({ dims: f.dims, data }) }), outputs, rs);
      numeric.push((lp - lm) / (xp - xm));
    }
    const scale = Math.max(1, ...numeric.map(Math.abs));
    idx.forEach((i, k) => {
      const err = Math.abs(analytic[i] - numeric[k]);
      const rel = err / (atol * scale + RTOL * Math.abs(numeric[k]));
      if (rel > maxErr) { maxErr = rel; worst = `${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric[k]}`; }
      checked++;
    });
  }
  return { checked, maxErr, worst };
}

// ───────────────────────────── cases ─────────────────────────────

const CASES: Case[] = [];
const add = (c: Case) => CASES.push(c);

// --- convolution
for (const cfg of [
  { name: 'Conv 3x3', k: [3, 3], attrs: {}, group: 1, bias: true },
  { name: 'Conv stride 2, asymmetric pads', k: [3, 2], attrs: { strides: A.is([2, 2]), pads: A.is([1, 0, 0, 1]) }, group: 1, bias: true },
  { name: 'Conv dilation 2, pads 2', k: [3, 3], attrs: { dilations: A.is([2, 2]), pads: A.is([2, 2, 2, 2]) }, group: 1, bias: false },
  { name: 'Conv stride 3 (floor drops input)', k: [2, 2], attrs: { strides: A.is([3, 2]), pads: A.is([0, 1, 0, 0]) }, group: 1, bias: true },
  { name: 'Conv groups 2, stride 2', k: [3, 3], attrs: { strides: A.is([2, 2]), pads: A.is([1, 1, 1, 1]) }, group: 2, bias: true },
  { name: 'Conv depthwise', k: [3, 3], attrs: { pads: A.is([1, 1, 1, 1]) }, group: 3, bias: true },
  { name: 'Conv auto_pad SAME_UPPER stride 2', k: [3, 3], attrs: { auto_pad: A.s('SAME_UPPER'), strides: A.is([2, 2]) }, group: 1, bias: true },
  { name: 'Conv auto_pad SAME_LOWER', k: [2, 2], attrs: { auto_pad: A.s('SAME_LOWER') }, group: 1, bias: false },
  { name: 'Conv groups 2, stride 1, asymmetric pads, dilation 2', k: [3, 2], attrs: { pads: A.is([2, 0, 1, 1]), dilations: A.is([2, 1]) }, group: 2, bias: true },
  { name: 'Conv 1x1', k: [1, 1], attrs: {}, group: 1, bias: false },
  { name: 'Conv 1x3 pads 1 (kernel flipped on one axis)', k: [1, 3], attrs: { pads: A.is([0, 1, 0, 1]) }, group: 1, bias: true },
] as { name: string; k: number[]; attrs: Attrs; group: number; bias: boolean }[]) {
  add({
    op: 'Conv', name: cfg.name, build: (c) => {
      const g = cfg.group;
      const cin = g === 3 ? 3 : g * c.int(1, 2);
      const m = g === 3 ? 3 : g * c.int(1, 2);
      const x = c.input('x', [c.int(1, 2), cin, c.int(5, 7), c.int(5, 7)]);
      const w = c.input('w', [m, cin / g, ...cfg.k]);
      const ins = cfg.bias ? [x, w, c.input('b', [m])] : [x, w];
      return [c.b.op('Conv', ins, { ...cfg.attrs, group: A.i(g) })];
    },
  });
}
add({
  op: 'Conv', name: 'Conv 1-D, stride 2, groups 2', build: (c) => {
    const x = c.input('x', [2, 4, c.int(7, 9)]);
    return [c.b.op('Conv', [x, c.input('w', [2, 2, 3]), c.input('b', [2])], { strides: A.is([2]), pads: A.is([1, 0]), group: A.i(2) })];
  },
});
add({
  op: 'ConvTranspose', name: 'ConvTranspose stride 2, pads, output_padding, groups 2', build: (c) => {
    const x = c.input('x', [2, 4, c.int(3, 4), c.int(3, 4)]);
    return [c.b.op('ConvTranspose', [x, c.input('w', [4, 1, 3, 3]), c.input('b', [2])], {
      strides: A.is([2, 2]), pads: A.is([1, 0, 0, 1]), output_padding: A.is([1, 0]), group: A.i(2),
    })];
  },
});
add({
  op: 'ConvTranspose', name: 'ConvTranspose dilation 2', build: (c) => {
    const x = c.input('x', [1, 2, 3, 4]);
    return [c.b.op('ConvTranspose', [x, c.input('w', [2, 3, 2, 2])], { dilations: A.is([2, 2]), pads: A.is([1, 1, 0, 0]) })];
  },
});

// --- Gemm and MatMul
for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
  for (const cShape of ta === tb ? [[4], [3, 4], [1, 4], [3, 1], []] : [[4]]) {
    add({
      op: 'Gemm', name: `Gemm transA=${ta} transB=${tb} C${JSON.stringify(cShape)}`, build: (c) => {
        const a = c.input('a', ta ? [5, 3] : [3, 5]);
        const bm = c.input('b', tb ? [4, 5] : [5, 4]);
        const cc = c.input('c', cShape);
        return [c.b.op('Gemm', [a, bm, cc], { transA: A.i(ta), transB: A.i(tb), alpha: A.f(0.7), beta: A.f(1.3) })];
      },
    });
  }
}
add({ op: 'Gemm', name: 'Gemm without C', build: (c) => [c.b.op('Gemm', [c.input('a', [2, 3]), c.input('b', [3, 4])], { transB: A.i(0) })] });
for (const [as, bs] of [[[3, 4], [4, 5]], [[2, 3, 4], [2, 4, 5]], [[2, 3, 4], [4, 5]], [[3, 4], [2, 4, 5]], [[4], [4, 5]], [[3, 4], [4]], [[4], [4]], [[2, 1, 3, 4], [3, 4, 2]]]) {
  add({ op: 'MatMul', name: `MatMul ${JSON.stringify(as)}×${JSON.stringify(bs)}`, build: (c) => [c.b.op('MatMul', [c.input('a', as), c.input('b', bs)])] });
}

// --- broadcasting elementwise
for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  for (const [as, bs] of [[[2, 3, 4], [2, 3, 4]], [[2, 3, 2, 2], [3, 1, 1]], [[2, 3, 2, 2], [1, 3, 1, 1]], [[3, 1], [1, 4]], [[2, 3], []], [[4], [2, 3, 4]]]) {
    add({
      op, name: `${op} ${JSON.stringify(as)}, ${JSON.stringify(bs)}`,
      build: (c) => [c.b.op(op, [c.input('a', as), c.input('b', bs, op === 'Div' ? 'denominator' : 'normal')])],
    });
  }
}
add({ op: 'Mul', name: 'Mul x·x (one value, two uses)', build: (c) => { const x = c.input('x', [2, 3]); return [c.b.op('Mul', [x, x])]; } });

// --- activations
add({ op: 'Relu', name: 'Relu', build: (c) => [c.b.op('Relu', [c.input('x', [2, 3, c.int(2, 4)], 'away')])] });
add({ op: 'LeakyRelu', name: 'LeakyRelu alpha 0.2', build: (c) => [c.b.op('LeakyRelu', [c.input('x', [2, 5], 'away')], { alpha: A.f(0.2) })] });
add({ op: 'LeakyRelu', name: 'LeakyRelu default alpha', build: (c) => [c.b.op('LeakyRelu', [c.input('x', [3, 4], 'away')])] });
add({ op: 'Sigmoid', name: 'Sigmoid', build: (c) => [c.b.op('Sigmoid', [c.input('x', [2, 3, 3])])] });
add({ op: 'Tanh', name: 'Tanh', build: (c) => [c.b.op('Tanh', [c.input('x', [2, 7])])] });
add({
  op: 'Clip', name: 'Clip min and max inputs', build: (c) => {
    const lo = c.b.input('lo', []); c.floats.set(lo, { dims: [], data: new Float32Array([-0.5]) });
    const hi = c.b.input('hi', []); c.floats.set(hi, { dims: [], data: new Float32Array([0.5]) });
    return [c.b.op('Clip', [c.input('x', [3, 6], 'clipsafe'), lo, hi])];
  },
});
add({
  op: 'Clip', name: 'Clip max only (ReLU6 style)', build: (c) => {
    const hi = c.b.init('hi', [], [0.5]);
    return [c.b.op('Clip', [c.input('x', [2, 8], 'clipsafe'), '', hi])];
  },
});
add({ op: 'Clip', name: 'Clip opset 10 attributes', opset: 10, build: (c) => [c.b.op('Clip', [c.input('x', [4, 5], 'clipsafe')], { min: A.f(-0.5), max: A.f(0.5) })] });

// --- activations of real exported models (MobileNetV3, EfficientNet, ConvNeXt, …)
// ×6 puts HardSwish's kinks (±3) and HardSigmoid's (alpha = 1/6: ±3) at |x| = 0.5, which clipsafe data avoids
add({ op: 'HardSwish', name: 'HardSwish on 6x (all three pieces)', build: (c) => [c.b.op('HardSwish', [c.b.op('Mul', [c.input('x', [3, 8], 'clipsafe'), c.b.init('six', [], [6])])])] });
add({ op: 'HardSigmoid', name: 'HardSigmoid alpha 1/6 on 6x', build: (c) => [c.b.op('HardSigmoid', [c.b.op('Mul', [c.input('x', [3, 8], 'clipsafe'), c.b.init('six', [], [6])])], { alpha: A.f(1 / 6), beta: A.f(0.5) })] });
add({ op: 'HardSigmoid', name: 'HardSigmoid default alpha 0.2 on 6x', build: (c) => [c.b.op('HardSigmoid', [c.b.op('Mul', [c.input('x', [2, 6], 'clipsafe'), c.b.init('six', [], [6])])])] });
add({ op: 'Elu', name: 'Elu alpha 0.7', build: (c) => [c.b.op('Elu', [c.input('x', [2, 7], 'away')], { alpha: A.f(0.7) })] });
add({ op: 'Softplus', name: 'Softplus', build: (c) => [c.b.op('Softplus', [c.input('x', [3, 5])])] });
add({ op: 'Erf', name: 'Erf', build: (c) => [c.b.op('Erf', [c.input('x', [3, 5])])] });
add({ op: 'Gelu', name: 'Gelu exact (opset 20)', opset: 20, build: (c) => [c.b.op('Gelu', [c.input('x', [3, 5])])] });
add({ op: 'Gelu', name: 'Gelu tanh (opset 20)', opset: 20, build: (c) => [c.b.op('Gelu', [c.input('x', [3, 5])], { approximate: A.s('tanh') })] });
add({ op: 'PRelu', name: 'PRelu per-channel slope', build: (c) => [c.b.op('PRelu', [c.input('x', [2, 3, 2, 2], 'away'), c.input('slope', [3, 1, 1])])] });
add({
  op: 'LayerNormalization', name: 'LayerNormalization last axis (opset 17)', opset: 17, build: (c) =>
    [c.b.op('LayerNormalization', [c.input('x', [2, 3, 4]), c.input('scale', [4]), c.input('bias', [4])], { epsilon: A.f(1e-3) })],
});
add({
  op: 'LayerNormalization', name: 'LayerNormalization axis 1, no bias (opset 17)', opset: 17, build: (c) =>
    [c.b.op('LayerNormalization', [c.input('x', [2, 3, 2]), c.input('scale', [3, 2])], { axis: A.i(1) })],
});

// --- elementwise math of decomposed layer norms (ConvNeXt before opset 17: Sub, Pow, ReduceMean, Sqrt, Div)
add({ op: 'Pow', name: 'Pow by constant 2 and by a computed positive exponent', build: (c) => {
  const base = c.input('x', [2, 3], 'positive');
  return [c.b.op('Pow', [c.input('y', [2, 3]), c.b.init('two', [], [2])]), c.b.op('Pow', [base, c.input('p', [3])])];
} });
add({ op: 'Sqrt', name: 'Sqrt', build: (c) => [c.b.op('Sqrt', [c.input('x', [2, 4], 'positive')])] });
add({ op: 'Reciprocal', name: 'Reciprocal', build: (c) => [c.b.op('Reciprocal', [c.input('x', [3, 3], 'denominator')])] });
add({ op: 'Exp', name: 'Exp', build: (c) => [c.b.op('Exp', [c.input('x', [2, 3])])] });
add({ op: 'Log', name: 'Log', build: (c) => [c.b.op('Log', [c.input('x', [2, 3], 'positive')])] });
add({ op: 'Neg', name: 'Neg', build: (c) => [c.b.op('Neg', [c.input('x', [4])])] });

// --- reductions (AdaptiveAvgPool exported as ReduceMean, …), attribute and input forms of axes
add({ op: 'ReduceMean', name: 'ReduceMean spatial keepdims 0 (opset 13, attribute)', opset: 13, build: (c) => [c.b.op('ReduceMean', [c.input('x', [2, 3, 3, 4])], { axes: A.is([2, 3]), keepdims: A.i(0) })] });
add({ op: 'ReduceMean', name: 'ReduceMean spatial keepdims 1 (opset 18, input)', opset: 18, build: (c) => [c.b.op('ReduceMean', [c.input('x', [2, 3, 3, 2]), c.b.ints('axes', [-1, 2])])] });
add({ op: 'ReduceSum', name: 'ReduceSum axis 1 keepdims 0 (opset 13, input)', opset: 13, build: (c) => [c.b.op('ReduceSum', [c.input('x', [2, 4, 3]), c.b.ints('axes', [1])], { keepdims: A.i(0) })] });
add({ op: 'ReduceSum', name: 'ReduceSum all axes (opset 11, attribute)', opset: 11, build: (c) => [c.b.op('ReduceSum', [c.input('x', [2, 3])], { keepdims: A.i(0) })] });
add({ op: 'ReduceMax', name: 'ReduceMax spatial', opset: 17, build: (c) => [c.b.op('ReduceMax', [c.input('x', [2, 3, 2, 3], 'distinct')], { axes: A.is([2, 3]) })] });
add({ op: 'ReduceMin', name: 'ReduceMin axis 0 keepdims 0 (opset 18, input)', opset: 18, build: (c) => [c.b.op('ReduceMin', [c.input('x', [3, 4], 'distinct'), c.b.ints('axes', [0])], { keepdims: A.i(0) })] });
add({ op: 'Expand', name: 'Expand [3, 1] to [2, 3, 4]', build: (c) => [c.b.op('Expand', [c.input('x', [3, 1]), c.b.ints('shape', [2, 3, 4])])] });

// --- pooling
for (const cfg of [
  { name: 'MaxPool 2x2 stride 2', attrs: { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) } },
  { name: 'MaxPool 3x3 stride 1 (overlapping)', attrs: { kernel_shape: A.is([3, 3]) } },
  { name: 'MaxPool 3x3 stride 2 pads 1 (overlapping)', attrs: { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), pads: A.is([1, 1, 1, 1]) } },
  { name: 'MaxPool ceil_mode', attrs: { kernel_shape: A.is([2, 3]), strides: A.is([2, 2]), ceil_mode: A.i(1) } },
  { name: 'MaxPool dilation 2', attrs: { kernel_shape: A.is([2, 2]), dilations: A.is([2, 2]) } },
  { name: 'MaxPool SAME_UPPER', attrs: { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), auto_pad: A.s('SAME_UPPER') } },
] as { name: string; attrs: Attrs }[]) {
  add({ op: 'MaxPool', name: cfg.name, build: (c) => [c.b.op('MaxPool', [c.input('x', [2, 2, c.int(5, 7), c.int(5, 7)], 'distinct')], cfg.attrs)] });
}
add({ op: 'MaxPool', name: 'MaxPool 1-D overlapping', build: (c) => [c.b.op('MaxPool', [c.input('x', [2, 3, 9], 'distinct')], { kernel_shape: A.is([3]), strides: A.is([2]) })] });
add({
  op: 'MaxPool', name: 'MaxPool with its Indices output', build: (c) => {
    const [y] = c.b.node('MaxPool', [c.input('x', [1, 2, 5, 5], 'distinct')], { kernel_shape: A.is([3, 3]), strides: A.is([1, 1]) }, { outputs: 2 });
    return [y];
  },
});
for (const cip of [0, 1]) {
  for (const cfg of [
    { name: 'AveragePool 2x2 stride 2', attrs: { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) } },
    { name: 'AveragePool 3x3 stride 1 pads 1 (overlapping)', attrs: { kernel_shape: A.is([3, 3]), pads: A.is([1, 1, 1, 1]) } },
    { name: 'AveragePool 3x2 stride 2 asymmetric pads', attrs: { kernel_shape: A.is([3, 2]), strides: A.is([2, 2]), pads: A.is([1, 0, 0, 1]) } },
    { name: 'AveragePool ceil_mode pads', attrs: { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), pads: A.is([1, 1, 0, 1]), ceil_mode: A.i(1) } },
    { name: 'AveragePool SAME_UPPER', attrs: { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), auto_pad: A.s('SAME_UPPER') } },
  ] as { name: string; attrs: Attrs }[]) {
    add({
      op: 'AveragePool', name: `${cfg.name}, count_include_pad ${cip}`,
      build: (c) => [c.b.op('AveragePool', [c.input('x', [2, 2, c.int(5, 7), c.int(5, 7)])], { ...cfg.attrs, count_include_pad: A.i(cip) })],
    });
  }
}
add({ op: 'AveragePool', name: 'AveragePool 1-D', build: (c) => [c.b.op('AveragePool', [c.input('x', [2, 3, 8])], { kernel_shape: A.is([3]), strides: A.is([2]), pads: A.is([1, 1]) })] });
add({ op: 'GlobalAveragePool', name: 'GlobalAveragePool', build: (c) => [c.b.op('GlobalAveragePool', [c.input('x', [2, 3, c.int(2, 4), c.int(2, 4)])])] });

// --- batch normalisation
add({
  op: 'BatchNormalization', name: 'BatchNormalization inference (running stats)', build: (c) => {
    const ch = c.int(2, 4);
    return [c.b.op('BatchNormalization', [c.input('x', [2, ch, 3, 3]), c.input('scale', [ch]), c.input('bias', [ch]), c.input('mean', [ch]), c.input('var', [ch], 'positive')], { epsilon: A.f(1e-3) })];
  },
});
add({
  op: 'BatchNormalization', name: 'BatchNormalization training (batch stats)', skip: ['mean', 'var'], build: (c) => {
    const ch = c.int(2, 3);
    const [y] = c.b.node('BatchNormalization', [c.input('x', [3, ch, 2, 3]), c.input('scale', [ch]), c.input('bias', [ch]), c.input('mean', [ch]), c.input('var', [ch], 'positive')],
      { epsilon: A.f(1e-3), training_mode: A.i(1) }, { outputs: 3 });
    return [y];
  },
});
add({
  op: 'BatchNormalization', name: 'BatchNormalization 2-D input (BatchNorm1d)', build: (c) =>
    [c.b.op('BatchNormalization', [c.input('x', [4, 3]), c.input('scale', [3]), c.input('bias', [3]), c.input('mean', [3]), c.input('var', [3], 'positive')])],
});

// --- shape ops
add({ op: 'Flatten', name: 'Flatten axis 1', build: (c) => [c.b.op('Flatten', [c.input('x', [2, 3, 2, 2])])] });
add({ op: 'Flatten', name: 'Flatten axis 2', build: (c) => [c.b.op('Flatten', [c.input('x', [2, 3, 2, 2])], { axis: A.i(2) })] });
add({ op: 'Reshape', name: 'Reshape', build: (c) => [c.b.op('Reshape', [c.input('x', [2, 3, 4]), c.b.ints('shape', [0, -1, 2])])] });
add({
  op: 'Reshape', name: 'Reshape with a run-time target (Shape → Gather → Concat)', build: (c) => {
    const x = c.input('x', [2, 3, 4]);
    const n = c.b.op('Gather', [c.b.op('Shape', [x]), c.b.ints('i0', [0])], { axis: A.i(0) });
    const shape = c.b.op('Concat', [n, c.b.ints('rest', [-1])], { axis: A.i(0) });
    return [c.b.op('Reshape', [x, shape])];
  },
});
add({ op: 'Squeeze', name: 'Squeeze', build: (c) => [c.b.op('Squeeze', [c.input('x', [2, 1, 3, 1]), c.b.ints('axes', [1, 3])])] });
add({ op: 'Unsqueeze', name: 'Unsqueeze', build: (c) => [c.b.op('Unsqueeze', [c.input('x', [2, 3]), c.b.ints('axes', [0, 2])])] });
add({ op: 'Unsqueeze', name: 'Unsqueeze opset 11 (axes attribute)', opset: 11, build: (c) => [c.b.op('Unsqueeze', [c.input('x', [2, 3])], { axes: A.is([1]) })] });
add({ op: 'Transpose', name: 'Transpose perm', build: (c) => [c.b.op('Transpose', [c.input('x', [2, 3, 4])], { perm: A.is([2, 0, 1]) })] });
add({ op: 'Transpose', name: 'Transpose default perm', build: (c) => [c.b.op('Transpose', [c.input('x', [2, 3, 4])])] });
add({
  op: 'Concat', name: 'Concat axis 1, three inputs', build: (c) =>
    [c.b.op('Concat', [c.input('a', [2, 1, 3]), c.input('b', [2, 3, 3]), c.input('c', [2, 2, 3])], { axis: A.i(1) })],
});
add({ op: 'Concat', name: 'Concat one value twice, axis -1', build: (c) => { const a = c.input('a', [2, 3]); return [c.b.op('Concat', [a, c.input('b', [2, 2]), a], { axis: A.i(-1) })]; } });
add({
  op: 'Split', name: 'Split sizes, all outputs used', build: (c) =>
    c.b.node('Split', [c.input('x', [2, 6]), c.b.ints('split', [1, 2, 3])], { axis: A.i(1) }, { outputs: 3 }),
});
add({
  op: 'Split', name: 'Split equal parts, one output unused', build: (c) => {
    const [p, , q] = c.b.node('Split', [c.input('x', [6, 2])], { axis: A.i(0) }, { outputs: 3 });
    return [p, q];
  },
});
add({ op: 'Split', name: 'Split opset 11 (split attribute)', opset: 11, build: (c) => c.b.node('Split', [c.input('x', [2, 5])], { axis: A.i(1), split: A.is([2, 3]) }, { outputs: 2 }) });
add({
  op: 'Slice', name: 'Slice steps 1, negative start', build: (c) =>
    [c.b.op('Slice', [c.input('x', [3, 5, 4]), c.b.ints('s', [1, -3]), c.b.ints('e', [3, 100]), c.b.ints('a', [1, 2])])],
});
add({
  op: 'Slice', name: 'Slice step 2 and step -1', build: (c) =>
    [c.b.op('Slice', [c.input('x', [2, 7, 5]), c.b.ints('s', [1, 4]), c.b.ints('e', [7, 0]), c.b.ints('a', [1, 2]), c.b.ints('st', [2, -1])])],
});
add({
  op: 'Slice', name: 'Slice step -2, three axes', build: (c) =>
    [c.b.op('Slice', [c.input('x', [4, 6, 5]), c.b.ints('s', [0, -1, 1]), c.b.ints('e', [3, -100, 5]), c.b.ints('a', [0, 1, 2]), c.b.ints('st', [1, -2, 3])])],
});
add({ op: 'Slice', name: 'Slice opset 9 (attributes)', opset: 9, build: (c) => [c.b.op('Slice', [c.input('x', [3, 4])], { starts: A.is([1]), ends: A.is([3]), axes: A.is([1]) })] });
add({
  op: 'Pad', name: 'Pad constant, value input', build: (c) => {
    const v = c.b.input('v', []); c.floats.set(v, { dims: [], data: new Float32Array([0.3]) });
    return [c.b.op('Pad', [c.input('x', [2, 3, 3]), c.b.ints('pads', [0, 1, 2, 0, 2, 1]), v])];
  },
});
add({ op: 'Pad', name: 'Pad negative (crop) and positive', build: (c) => [c.b.op('Pad', [c.input('x', [3, 5]), c.b.ints('pads', [1, -1, -1, 2])])] });
add({ op: 'Pad', name: 'Pad opset 10 (attributes)', opset: 10, build: (c) => [c.b.op('Pad', [c.input('x', [2, 3])], { pads: A.is([1, 0, 0, 2]), value: A.f(1.5) })] });
add({ op: 'Dropout', name: 'Dropout (inference)', build: (c) => [c.b.op('Dropout', [c.input('x', [2, 5])])] });
add({ op: 'Identity', name: 'Identity', build: (c) => [c.b.op('Identity', [c.input('x', [3, 2])])] });
add({ op: 'Cast', name: 'Cast float→float', build: (c) => [c.b.op('Cast', [c.input('x', [3, 2])], { to: A.i(DataType.FLOAT) })] });
add({ op: 'Gather', name: 'Gather axis 1, repeated and negative indices', build: (c) => [c.b.op('Gather', [c.input('x', [2, 5, 3]), c.b.ints('i', [4, 0, -1, 2], [2, 2])], { axis: A.i(1) })] });
add({ op: 'Gather', name: 'Gather axis 0, scalar index', build: (c) => [c.b.op('Gather', [c.input('x', [4, 3]), c.b.ints('i', [2], [])], { axis: A.i(0) })] });

// --- softmax family and the loss
add({ op: 'Softmax', name: 'Softmax axis -1', build: (c) => [c.b.op('Softmax', [c.input('x', [3, 5])])] });
add({ op: 'Softmax', name: 'Softmax axis 1 of 4-D', build: (c) => [c.b.op('Softmax', [c.input('x', [2, 3, 2, 2])], { axis: A.i(1) })] });
add({ op: 'Softmax', name: 'Softmax opset 11 axis 1 of 3-D (flattening semantics)', opset: 11, build: (c) => [c.b.op('Softmax', [c.input('x', [2, 3, 2])], { axis: A.i(1) })] });
add({ op: 'LogSoftmax', name: 'LogSoftmax axis 1', build: (c) => [c.b.op('LogSoftmax', [c.input('x', [3, 4])], { axis: A.i(1) })] });
add({ op: 'LogSoftmax', name: 'LogSoftmax axis 0 of 3-D', build: (c) => [c.b.op('LogSoftmax', [c.input('x', [3, 2, 2])], { axis: A.i(0) })] });
add({ op: 'LogSoftmax', name: 'LogSoftmax opset 12 axis 1 of 3-D (flattening semantics)', opset: 12, build: (c) => [c.b.op('LogSoftmax', [c.input('x', [2, 2, 3])], { axis: A.i(1) })] });
for (const reduction of ['mean', 'sum', 'none']) {
  add({
    op: 'SoftmaxCrossEntropyLoss', name: `SoftmaxCrossEntropyLoss ${reduction}`, build: (c) => {
      const labels = c.intInput('labels', [4], [0, 3, 1, 3]);
      return [c.b.op('SoftmaxCrossEntropyLoss', [c.input('x', [4, 5]), labels], { reduction: A.s(reduction) })];
    },
  });
}
add({
  op: 'SoftmaxCrossEntropyLoss', name: 'SoftmaxCrossEntropyLoss with log_prob output, [N, C, D]', build: (c) => {
    const labels = c.intInput('labels', [2, 3], [0, 2, 1, 1, 0, 2]);
    return c.b.node('SoftmaxCrossEntropyLoss', [c.input('x', [2, 3, 3]), labels], { reduction: A.s('mean') }, { outputs: 2 });
  },
});

// ───────────────────────────── tests ─────────────────────────────

test('every rule passes its finite-difference cases', async () => {
  const failures: string[] = [];
  let seed = 1;
  for (const c of CASES) {
    let res: CheckResult;
    try {
      res = await checkCase(c, seed++);
    } catch (e) {
      failures.push(`${c.name}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (process.env.AUTODIFF_VERBOSE) console.log(`${c.name}: ${res.checked} checked, worst ${res.maxErr.toFixed(3)} of tolerance (${res.worst})`);
    if (res.maxErr > 1) failures.push(`${c.name}: ${res.worst} (${res.maxErr.toFixed(2)}× tolerance)`);
  }
  assert.deepEqual(failures, []);
});

test('every registered rule has finite-difference cases', () => {
  const covered = new Set(CASES.map((c) => c.op));
  const missing = registeredOps().filter((op) => !covered.has(op) && ruleFor({ opType: op, domain: '' }) !== NON_DIFFERENTIABLE);
  assert.deepEqual(missing, []);
});

/** Asserts `fn` throws a one-sentence FlipguardError containing every needle. */
function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    assert.match(e.message, /[.]$/);
    return true;
  });
}

test('an op without a rule on a differentiated path is a FlipguardError naming op and node', () => {
  const b = new GraphBuilder('t');
  b.input('x', [2, 3]);
  const y = b.op('Relu', [b.op('Floor', [b.op('Relu', ['x'])], {}, 'my_floor')]);
  b.output(y);
  const m = makeModel(b.build());
  assertFlip(() => gradientGraph(m, { scalar: y, wrt: ['x'] }), 'No gradient rule for op Floor', 'node "my_floor"');
  const c = new GraphBuilder('t');
  c.input('x', [2, 3]);
  const z = c.node('Gelu', ['x'], {}, { name: 'custom_gelu', domain: 'com.example' })[0];
  c.output(z);
  assertFlip(() => gradientGraph(makeModel(c.build()), { scalar: z, wrt: ['x'] }), 'No gradient rule for op Gelu from domain "com.example"', 'node "custom_gelu"');
});

test('option mistakes are FlipguardErrors', () => {
  const b = new GraphBuilder('t');
  b.input('x', [2, 3]);
  b.output(b.op('Relu', ['x']));
  const m = makeModel(b.build());
  assertFlip(() => gradientGraph(m, { wrt: ['x'] }), 'exactly one target');
  assertFlip(() => gradientGraph(m, { scalar: 'relu_out', loss: 'cross_entropy', wrt: ['x'] }), 'exactly one target');
  assertFlip(() => gradientGraph(m, { scalar: 'relu_out', wrt: ['nope'] }), '"nope"');
  assertFlip(() => gradientGraph(m, { scalar: 'relu_out', wrt: [] }), 'wrt');
});

// ───────────────────────────── a small conv net end to end ─────────────────────────────

interface Net { model: Model; params: string[]; act: string; actIndex: number; layers: string[] }

/**
 * Conv(2→4, 3×3, pad 1) → BatchNormalization (running stats) → Relu → [residual: Conv(4→4) + skip]
 * → MaxPool 2×2 → Flatten → Gemm (or MatMul + Add) → 5 logits. Input [N, 2, 6, 6].
 */
function convNet(seed: number, opts: { residual?: boolean; deadBranch?: boolean } = {}): Net {
  const r = new Rng(seed);
  const b = new GraphBuilder('net');
  b.input('x', ['N', 2, 6, 6]);
  const params: string[] = [];
  const p = (name: string, dims: number[], f: () => number) => {
    b.initializers.set(name, floatTensor(name, dims, Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, f)));
    params.push(name);
    return name;
  };
  const c1 = b.op('Conv', ['x', p('conv1_w', [4, 2, 3, 3], () => 0.4 * r.normal()), p('conv1_b', [4], () => 0.1 * r.normal())], { pads: A.is([1, 1, 1, 1]) }, 'conv1');
  const bn = b.op('BatchNormalization', [c1, p('bn_scale', [4], () => 0.8 + 0.4 * r.next()), p('bn_bias', [4], () => 0.1 * r.normal()), p('bn_mean', [4], () => 0.2 * r.normal()), p('bn_var', [4], () => 0.5 + r.next())], {}, 'bn1');
  const act = b.op('Relu', [bn], {}, 'relu1');
  const actIndex = b.nodes.length;
  let h = act;
  const layers = ['conv1'];
  if (opts.residual) {
    const c2 = b.op('Conv', [act, p('conv2_w', [4, 2, 3, 3], () => 0.3 * r.normal())], { pads: A.is([1, 1, 1, 1]), group: A.i(2) }, 'conv2');
    h = b.op('Add', [c2, act], {}, 'skip');
    layers.push('conv2');
  }
  if (opts.deadBranch) b.op('Mul', [b.op('Sigmoid', [act], {}, 'dead'), p('unused_w', [1], () => 2)], {}, 'dead_mul');
  const pooled = b.op('MaxPool', [h], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) }, 'pool');
  const flat = b.op('Flatten', [pooled], {}, 'flatten');
  let logits: string;
  if (opts.residual) {
    logits = b.op('Add', [b.op('MatMul', [flat, p('fc_w', [36, 5], () => 0.3 * r.normal())], {}, 'fc'), p('fc_b', [5], () => 0.1 * r.normal())], {}, 'fc_bias');
  } else {
    logits = b.op('Gemm', [flat, p('fc_w', [5, 36], () => 0.3 * r.normal()), p('fc_b', [5], () => 0.1 * r.normal())], { transB: A.i(1) }, 'fc');
  }
  layers.push('fc');
  b.output(logits, ['N', 5]);
  return { model: makeModel(b.build()), params, act, actIndex, layers };
}

/** Mean softmax cross-entropy (natural log) of logits [n, k] against labels, in float64. */
function crossEntropy(logits: Float32Array, labels: number[], k: number): number {
  let s = 0;
  labels.forEach((t, i) => {
    let mx = -Infinity;
    for (let j = 0; j < k; j++) mx = Math.max(mx, logits[i * k + j]);
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(logits[i * k + j] - mx);
    s += Math.log(z) + mx - logits[i * k + t];
  });
  return s / labels.length;
}

/**
 * Central differences of `f` at h and h/2 for the chosen elements of `data`; an element where the
 * two disagree sits next to a kink (ReLU, max pooling) and is skipped. Returns numeric values (NaN when skipped).
 */
async function kinkAwareDifferences(data: Float32Array, idx: number[], f: (d: Float32Array) => Promise<number>, h = 1e-2): Promise<number[]> {
  const out: number[] = [];
  for (const i of idx) {
    const central = async (step: number) => {
      const d = data.slice();
      const xp = Math.fround(data[i] + step);
      const xm = Math.fround(data[i] - step);
      d[i] = xp; const fp = await f(d);
      d[i] = xm; const fm = await f(d);
      return (fp - fm) / (xp - xm);
    };
    const a = await central(h);
    const b = await central(h / 2);
    out.push(Math.abs(a - b) > 2e-4 + 1e-3 * Math.abs(b) ? NaN : b);
  }
  return out;
}

for (const residual of [false, true]) {
  test(`conv net${residual ? ' with a residual connection and MatMul classifier' : ''}: cross-entropy gradients w.r.t. all parameters and an activation match finite differences (built at batch 2, run at batch 3)`, async () => {
    const net = convNet(residual ? 11 : 7, { residual });
    const n = 3;
    const r = new Rng(5);
    const x = Float32Array.from({ length: n * 72 }, () => r.normal());
    const labels = [1, 4, 0];
    const grad = gradientGraph(net.model, { loss: 'cross_entropy', wrt: [...net.params, net.act], paramsAsInputs: true, keepOutputs: true });
    for (const pname of net.params) assert.ok(grad.model.graph.inputs.some((v) => v.name === pname), `${pname} is a graph input`);
    const gs = await session(grad.model);
    const params = new Map<string, Float32Array>(net.params.map((q) => [q, net.model.graph.initializers.get(q)!.data as Float32Array]));
    const feeds = (ps: Map<string, Float32Array>, xs: Float32Array): Record<string, ort.Tensor> => {
      const f: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xs, [n, 2, 6, 6]) };
      for (const [k, v] of ps) f[k] = new ort.Tensor('float32', v, net.model.graph.initializers.get(k)!.dims);
      return f;
    };
    const gout = await gs.run({ ...feeds(params, x), [grad.labelsInput!]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [n]) });

    const fwd = await session(paramsAsInputs(net.model, net.params));
    const lossAt = async (ps: Map<string, Float32Array>) => crossEntropy((await fwd.run(feeds(ps, x)))[net.model.graph.outputs[0].name].data as Float32Array, labels, 5);
    assert.ok(Math.abs(Number((gout[grad.lossOutput!].data as Float32Array)[0]) - await lossAt(params)) < 1e-5, 'loss output is the mean cross-entropy');

    // the tail after the activation, for differences w.r.t. the activation
    const g = net.model.graph;
    const tail = makeModel({ ...g, nodes: g.nodes.slice(net.actIndex), inputs: [{ name: net.act, elemType: DataType.FLOAT, shape: [n, 4, 6, 6] }] });
    const tailS = await session(tail);
    let skipped = 0;
    let total = 0;
    const bad: string[] = [];
    const check = async (name: string, data: Float32Array, f: (d: Float32Array) => Promise<number>) => {
      const analytic = gout[grad.gradOutputs.get(name)!].data as Float32Array;
      assert.equal(analytic.length, data.length);
      const idx = r.shuffle(Array.from({ length: data.length }, (_, i) => i)).slice(0, 30);
      const numeric = await kinkAwareDifferences(data, idx, f);
      const scale = Math.max(0.05, ...numeric.filter((v) => !Number.isNaN(v)).map(Math.abs));
      idx.forEach((i, k) => {
        total++;
        if (Number.isNaN(numeric[k])) { skipped++; return; }
        if (Math.abs(analytic[i] - numeric[k]) > ATOL * scale + RTOL * Math.abs(numeric[k])) bad.push(`${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric[k]}`);
      });
    };
    for (const pname of net.params) {
      await check(pname, params.get(pname)!, (d) => lossAt(new Map([...params, [pname, d]])));
    }
    const actSession = await session({ ...net.model, graph: { ...g, outputs: [{ name: net.act, elemType: DataType.FLOAT }] } });
    const actValue = (await actSession.run({ x: feeds(params, x).x }))[net.act].data as Float32Array;
    await check(net.act, actValue, async (d) => crossEntropy((await tailS.run({ [net.act]: new ort.Tensor('float32', d, [n, 4, 6, 6]) }))[g.outputs[0].name].data as Float32Array, labels, 5));
    if (process.env.AUTODIFF_VERBOSE) console.log(`conv net${residual ? ' (residual)' : ''}: ${total} elements checked, ${skipped} skipped next to a kink`);
    assert.deepEqual(bad, []);
    assert.ok(skipped <= 0.25 * total, `${skipped} of ${total} elements sat next to a kink`);
  });
}

test('dead branches are pruned and a parameter off the path gets a zero gradient', () => {
  const net = convNet(3, { deadBranch: true });
  const grad = gradientGraph(net.model, { loss: 'cross_entropy', wrt: ['conv1_w', 'fc_w', 'unused_w'] });
  const nodes = grad.model.graph.nodes;
  assert.ok(!nodes.some((n) => n.name.startsWith('dead') || n.name.startsWith('grad/dead')), 'no node of the dead branch survives');
  // only the gradients asked for are computed: no gradient block for the BN parameters' own inputs
  assert.ok(!nodes.some((n) => n.name.startsWith('grad/bn1/') && n.opType === 'ReduceSum' && n.inputs.some((i) => i.includes('Sub'))), 'BN parameter gradients are not built');
  const zero = nodes.find((n) => n.outputs.includes(grad.gradOutputs.get('unused_w')!))!;
  const src = nodes.find((n) => n.outputs.includes(zero.inputs[0]))!;
  assert.equal(src.opType, 'ConstantOfShape');
});

test('a value with several consumers gets the sum of their gradients (Sum node)', () => {
  const net = convNet(4, { residual: true });
  const grad = gradientGraph(net.model, { loss: 'cross_entropy', wrt: [net.act] });
  assert.ok(grad.model.graph.nodes.some((n) => n.opType === 'Sum' && n.name.startsWith('grad/sum/')));
});

test('training-mode Dropout: the gradient passes the forward pass’s own mask, scaled by 1/(1 − ratio)', async () => {
  const b = new GraphBuilder('t');
  b.input('x', [4, 25]);
  const ratio = b.init('ratio', [], [0.3]);
  const tm = b.init('tm', [], new Uint8Array([1]), DataType.BOOL);
  const y = b.op('Dropout', ['x', ratio, tm], { seed: A.i(3) });
  const r = new Rng(9);
  const rv = Float32Array.from({ length: 100 }, () => r.normal());
  const l = b.op('MatMul', [b.op('Reshape', [y, b.ints('flat', [1, -1])]), b.init('R', [100, 1], rv)]);
  b.output(y);
  const m = makeModel({ ...b.build(), outputs: [{ name: l, elemType: DataType.FLOAT }, { name: y, elemType: DataType.FLOAT }] });
  const grad = gradientGraph(m, { scalar: l, wrt: ['x'], keepOutputs: true });
  const s = await session(grad.model);
  const x = Float32Array.from({ length: 100 }, () => 1 + r.next());
  const out = await s.run({ x: new ort.Tensor('float32', x, [4, 25]) });
  const yv = out[y].data as Float32Array;
  const gx = out[grad.gradOutputs.get('x')!].data as Float32Array;
  let kept = 0;
  for (let i = 0; i < 100; i++) {
    const expected = yv[i] !== 0 ? rv[i] / 0.7 : 0;
    if (yv[i] !== 0) kept++;
    assert.ok(Math.abs(gx[i] - expected) < 1e-5, `element ${i}: ${gx[i]} vs ${expected}`);
  }
  assert.ok(kept > 40 && kept < 95, 'the mask drops some elements');
});

// ───────────────────────────── per-sample gradients ─────────────────────────────

for (const [residual, convMethod] of [[false, 'auto'], [true, 'group'], [true, 'patches'], [true, 'gram']] as const) {
  test(`per-sample squared channel gradient norms equal batch-1 gradients (${residual ? 'residual net, grouped conv, MatMul layer' : 'plain net, Gemm layer'}; conv method ${convMethod})`, async () => {
    const net = convNet(residual ? 21 : 20, { residual });
    const r = new Rng(8);
    const count = 5;
    const images = Float32Array.from({ length: count * 72 }, () => r.normal());
    // in-graph, in batches of 3 (the last one padded)
    const fast = await perSampleSquaredChannelGradNorms(net.model, { layers: net.layers, seedFromLogits: 'predicted-margins', images, count, batch: 3, convMethod, runtime: { threads: 1 } });
    const slow = await perSampleNormsByLoop(net.model, { layers: net.layers, images, count, runtime: { threads: 1 } });
    assert.equal(fast.seedsPerImage, 5);
    for (const l of net.layers) {
      const a = fast.norms.get(l)!;
      const b = slow.norms.get(l)!;
      assert.equal(a.length, b.length);
      const scale = Math.max(...b);
      assert.ok(scale > 0);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * scale, `${l}[${i}]: ${a[i]} vs ${b[i]}`);
    }
    for (let i = 0; i < fast.logits.length; i++) assert.ok(Math.abs(fast.logits[i] - slow.logits[i]) < 1e-4);

    // label margins with the predicted labels are the same thing
    const predicted = Array.from({ length: count }, (_, i) => { let t = 0; for (let k = 1; k < 5; k++) if (fast.logits[i * 5 + k] > fast.logits[i * 5 + t]) t = k; return t; });
    const byLabel = await perSampleSquaredChannelGradNorms(net.model, { layers: net.layers, seedFromLogits: 'label-margins', labels: predicted, images, count, batch: count, convMethod });
    for (const l of net.layers) {
      const a = byLabel.norms.get(l)!;
      const b = fast.norms.get(l)!;
      const scale = Math.max(...b);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * scale);
    }
  });
}

test('per-sample norms with custom seeds (and bias) equal Σ of squared batch-1 weight gradients, for every conv method', async () => {
  const net = convNet(30);
  const r = new Rng(31);
  const count = 2;
  const S = 2;
  const images = Float32Array.from({ length: count * 72 }, () => r.normal());
  const seeds = Float32Array.from({ length: count * S * 5 }, () => r.normal());
  // reference: full weight and bias gradients of one image and seed, squared and summed per channel in JavaScript
  const g = gradientGraph(net.model, { seed: { output: net.model.graph.outputs[0].name, gradInput: 'seed' }, wrt: ['conv1_w', 'conv1_b', 'fc_w', 'fc_b'], batch: 1 });
  const s = await session(g.model);
  const expected = { conv1: new Float64Array(count * S * 4), fc: new Float64Array(count * S * 5) };
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < S; k++) {
      const row = i * S + k;
      const out = await s.run({ x: new ort.Tensor('float32', images.slice(i * 72, (i + 1) * 72), [1, 2, 6, 6]), seed: new ort.Tensor('float32', seeds.slice(row * 5, (row + 1) * 5), [1, 5]) });
      const cw = out[g.gradOutputs.get('conv1_w')!].data as Float32Array;
      const cb = out[g.gradOutputs.get('conv1_b')!].data as Float32Array;
      const fw = out[g.gradOutputs.get('fc_w')!].data as Float32Array;
      const fb = out[g.gradOutputs.get('fc_b')!].data as Float32Array;
      for (let m = 0; m < 4; m++) { let q = cb[m] ** 2; for (let j = 0; j < 18; j++) q += cw[m * 18 + j] ** 2; expected.conv1[row * 4 + m] = q; }
      for (let m = 0; m < 5; m++) { let q = fb[m] ** 2; for (let j = 0; j < 36; j++) q += fw[m * 36 + j] ** 2; expected.fc[row * 5 + m] = q; }
    }
  }
  for (const convMethod of ['group', 'patches', 'gram'] as const) {
    const fast = await perSampleSquaredChannelGradNorms(net.model, { layers: ['conv1', 'fc'], seedFromLogits: { count: S }, images, count, seeds, includeBias: true, convMethod });
    for (const layer of ['conv1', 'fc'] as const) {
      const got = fast.norms.get(layer)!;
      expected[layer].forEach((q, i) => assert.ok(Math.abs(got[i] - q) <= 1e-4 * Math.max(1, q), `${convMethod} ${layer}[${i}]: ${got[i]} vs ${q}`));
    }
  }
});

test.after(async () => {
  for (const s of sessions) await s.release();
});
