import { opsWhere } from '../src/graph/ops/index.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { FlipguardError } from '../src/errors.js';
import {
  A, DataType, GraphBuilder, analyzeShapes, checkSupported, inferShapes, inferValues, makeModel, opsetCheck,
  type Dim, type Model, type Tensor,
} from '../src/graph/index.js';
import { createSession } from '../src/runtime/session.js';

// ---------------------------------------------------------------- helpers

/** Asserts `fn` throws a one-sentence FlipguardError containing every needle. */
function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    assert.ok(!e.message.includes('\n'), 'message is one line');
    assert.match(e.message, /[.]$/);
    return true;
  });
}

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32 - 0.5;
}
function randomData(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand();
  return a;
}
const prod = (d: number[]) => d.reduce((p, q) => p * q, 1);

/** A float initializer with random values. */
function w(b: GraphBuilder, name: string, dims: number[]): string {
  return b.init(name, dims, randomData(prod(dims)));
}

function build(opset: number, inputs: [string, Dim[]][], body: (b: GraphBuilder, ...xs: string[]) => void): Model {
  const b = new GraphBuilder('g');
  const xs = inputs.map(([n, s]) => b.input(n, s));
  body(b, ...xs);
  return makeModel(b.build(), { opset });
}

/** Every node output name of the model. */
function nodeOutputs(m: Model): string[] {
  return m.graph.nodes.flatMap((n) => n.outputs.filter(Boolean));
}

/**
 * Runs `model` in onnxruntime at each batch size with every node output as a graph output, and
 * checks that inferShapes gives each value's shape and inferValues each folded value.
 */
async function matchesOrt(label: string, model: Model, batches = [1, 3]): Promise<void> {
  const outs = nodeOutputs(model);
  const probe: Model = { ...model, graph: { ...model.graph, outputs: outs.map((name) => ({ name })) } };
  const session = await createSession(probe, { optimization: 'disabled' });
  try {
    for (const batch of batches) {
      const { shapes, values } = analyzeShapes(model, { batch });
      const feeds: Record<string, ort.Tensor> = {};
      for (const inp of model.graph.inputs) {
        const dims = shapes.get(inp.name)!;
        feeds[inp.name] = new ort.Tensor('float32', randomData(prod(dims)), dims);
      }
      const res = await session.run(feeds);
      for (const name of outs) {
        const got = shapes.get(name);
        assert.ok(got, `${label} (batch ${batch}): no shape inferred for ${name}`);
        assert.deepEqual(got, [...res[name].dims], `${label} (batch ${batch}): shape of ${name}`);
        const v = values.get(name);
        if (v) {
          const actual = Array.from(res[name].data as ArrayLike<number | bigint>, Number);
          assert.equal(v.length, actual.length, `${label}: folded length of ${name}`);
          v.forEach((x, i) => assert.ok(Math.abs(x - actual[i]) <= 1e-6 * Math.max(1, Math.abs(x)), `${label}: folded value of ${name}[${i}] = ${x}, runtime ${actual[i]}`));
        }
      }
    }
  } finally {
    await session.release();
  }
}

interface Case { label: string; model: Model }
const cases: Case[] = [];
function add(label: string, opset: number, input: Dim[], body: (b: GraphBuilder, x: string) => void): void {
  cases.push({ label, model: build(opset, [['x', input]], body) });
}

// ---------------------------------------------------------------- convolution

add('Conv 3→4 k3 pad 1', 17, ['N', 3, 8, 8], (b, x) => { b.op('Conv', [x, w(b, 'w', [4, 3, 3, 3]), w(b, 'b', [4])], { pads: A.is([1, 1, 1, 1]) }); });
add('Conv stride 2 asymmetric pads, no bias', 17, ['N', 3, 9, 10], (b, x) => {
  b.op('Conv', [x, w(b, 'w', [5, 3, 3, 2])], { strides: A.is([2, 3]), pads: A.is([0, 1, 2, 0]) });
});
add('Conv dilation 2 stride 2 with kernel_shape', 13, ['N', 2, 11, 13], (b, x) => {
  b.op('Conv', [x, w(b, 'w', [3, 2, 3, 3])], { dilations: A.is([2, 3]), strides: A.is([2, 2]), kernel_shape: A.is([3, 3]) });
});
add('Conv group 2', 17, ['N', 4, 7, 7], (b, x) => { b.op('Conv', [x, w(b, 'w', [6, 2, 3, 3]), w(b, 'b', [6])], { group: A.i(2) }); });
add('Conv depthwise', 11, ['N', 4, 6, 6], (b, x) => { b.op('Conv', [x, w(b, 'w', [4, 1, 3, 3])], { group: A.i(4), pads: A.is([1, 1, 1, 1]), strides: A.is([2, 2]) }); });
add('Conv auto_pad SAME_UPPER stride 2', 17, ['N', 2, 7, 8], (b, x) => { b.op('Conv', [x, w(b, 'w', [3, 2, 3, 3])], { auto_pad: A.s('SAME_UPPER'), strides: A.is([2, 2]) }); });
add('Conv auto_pad SAME_LOWER stride 3 k2', 17, ['N', 2, 10, 9], (b, x) => { b.op('Conv', [x, w(b, 'w', [3, 2, 2, 2])], { auto_pad: A.s('SAME_LOWER'), strides: A.is([3, 3]) }); });
add('Conv auto_pad VALID stride 2', 12, ['N', 2, 10, 9], (b, x) => { b.op('Conv', [x, w(b, 'w', [3, 2, 3, 3])], { auto_pad: A.s('VALID'), strides: A.is([2, 2]) }); });
add('Conv 1-d', 17, ['N', 2, 20], (b, x) => { b.op('Conv', [x, w(b, 'w', [4, 2, 5])], { strides: A.is([3]), pads: A.is([2, 1]) }); });
add('Conv 3-d', 17, ['N', 1, 5, 6, 7], (b, x) => { b.op('Conv', [x, w(b, 'w', [2, 1, 3, 3, 3])], { pads: A.is([1, 0, 1, 1, 0, 1]) }); });

add('ConvTranspose k3 s2 p1 output_padding 1', 17, ['N', 3, 5, 6], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [3, 4, 3, 3]), w(b, 'b', [4])], { strides: A.is([2, 2]), pads: A.is([1, 1, 1, 1]), output_padding: A.is([1, 1]) });
});
add('ConvTranspose group 2 dilation 2', 13, ['N', 4, 5, 5], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [4, 3, 3, 3])], { group: A.i(2), dilations: A.is([2, 2]), strides: A.is([1, 2]) });
});
add('ConvTranspose output_shape', 17, ['N', 2, 4, 4], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [2, 3, 3, 3])], { strides: A.is([2, 2]), output_shape: A.is([8, 9]) });
});
add('ConvTranspose SAME_UPPER s2', 17, ['N', 2, 4, 5], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [2, 3, 3, 3])], { strides: A.is([2, 2]), auto_pad: A.s('SAME_UPPER') });
});
add('ConvTranspose SAME_LOWER s3 k2', 17, ['N', 2, 4, 5], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [2, 3, 2, 2])], { strides: A.is([3, 3]), auto_pad: A.s('SAME_LOWER') });
});
add('ConvTranspose VALID', 17, ['N', 2, 4, 5], (b, x) => {
  b.op('ConvTranspose', [x, w(b, 'w', [2, 3, 3, 2])], { strides: A.is([2, 1]), auto_pad: A.s('VALID') });
});

// ---------------------------------------------------------------- pooling

add('MaxPool k2 s2 with indices', 17, ['N', 2, 8, 9], (b, x) => { b.node('MaxPool', [x], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) }, { outputs: 2 }); });
add('MaxPool k3 s2 pads 1', 11, ['N', 2, 9, 8], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), pads: A.is([1, 1, 1, 1]) }); });
add('MaxPool ceil_mode', 17, ['N', 1, 7, 8], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([2, 3]), strides: A.is([2, 2]), ceil_mode: A.i(1) }); });
add('MaxPool ceil_mode drops a window starting in the padding', 17, ['N', 1, 6, 5], (b, x) => {
  b.op('MaxPool', [x], { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), pads: A.is([1, 1, 1, 1]), ceil_mode: A.i(1) });
});
add('MaxPool dilations', 17, ['N', 1, 10, 9], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([2, 2]), dilations: A.is([2, 3]), strides: A.is([1, 2]) }); });
add('MaxPool SAME_UPPER', 17, ['N', 2, 7, 6], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), auto_pad: A.s('SAME_UPPER') }); });
add('MaxPool VALID', 17, ['N', 2, 7, 6], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([3, 2]), strides: A.is([2, 2]), auto_pad: A.s('VALID') }); });
add('MaxPool SAME_LOWER with dilations and ceil_mode', 17, ['N', 2, 7, 9], (b, x) => {
  b.op('MaxPool', [x], { kernel_shape: A.is([3, 2]), strides: A.is([1, 2]), dilations: A.is([2, 2]), auto_pad: A.s('SAME_LOWER') });
  b.op('MaxPool', [x], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]), auto_pad: A.s('VALID'), ceil_mode: A.i(1) });
  b.op('MaxPool', [x], { kernel_shape: A.is([2, 3]), strides: A.is([3, 2]), auto_pad: A.s('SAME_UPPER'), ceil_mode: A.i(1) });
});
add('MaxPool 1-d', 17, ['N', 2, 15], (b, x) => { b.op('MaxPool', [x], { kernel_shape: A.is([4]), strides: A.is([3]) }); });
add('AveragePool ceil_mode count_include_pad', 17, ['N', 3, 7, 7], (b, x) => {
  b.op('AveragePool', [x], { kernel_shape: A.is([3, 3]), strides: A.is([2, 2]), pads: A.is([1, 0, 1, 0]), ceil_mode: A.i(1), count_include_pad: A.i(1) });
});
add('AveragePool SAME_LOWER', 13, ['N', 3, 5, 8], (b, x) => { b.op('AveragePool', [x], { kernel_shape: A.is([2, 2]), strides: A.is([2, 3]), auto_pad: A.s('SAME_LOWER') }); });
add('AveragePool dilations (opset 19)', 19, ['N', 1, 9, 9], (b, x) => { b.op('AveragePool', [x], { kernel_shape: A.is([2, 2]), dilations: A.is([2, 2]) }); });
add('GlobalAveragePool', 17, ['N', 5, 4, 3], (b, x) => { b.op('GlobalAveragePool', [x]); });

// ---------------------------------------------------------------- dense and elementwise

add('Flatten → Gemm transB', 17, ['N', 2, 3, 4], (b, x) => {
  const f = b.op('Flatten', [x]);
  b.op('Gemm', [f, w(b, 'w', [10, 24]), w(b, 'b', [10])], { transB: A.i(1) });
});
add('Gemm transA with row bias', 13, [6, 5], (b, x) => { b.op('Gemm', [x, w(b, 'w', [6, 4]), w(b, 'c', [1, 4])], { transA: A.i(1), alpha: A.f(0.5) }); });
add('MatMul 2-d and 3-d', 17, ['N', 5], (b, x) => {
  const y = b.op('MatMul', [x, w(b, 'w', [5, 7])]);
  const u = b.op('Unsqueeze', [y, b.ints('ax', [1])]);
  b.op('MatMul', [u, w(b, 'w3', [7, 2])]);
});
add('MatMul 1-d operands', 17, [4], (b, x) => {
  b.op('MatMul', [x, w(b, 'w', [4, 3])]);
  b.op('MatMul', [w(b, 'm', [2, 4]), x]);
  b.op('MatMul', [x, w(b, 'v', [4])]);
});
add('MatMul batch broadcasting', 17, ['N', 1, 3, 4], (b, x) => { b.op('MatMul', [x, w(b, 'w', [5, 4, 2])]); });
add('broadcasting Add/Mul/Sub/Div', 17, ['N', 3, 4, 5], (b, x) => {
  const a = b.op('Add', [x, w(b, 'c', [3, 1, 1])]);
  const m = b.op('Mul', [w(b, 'r', [1, 4, 1]), a]);
  const s = b.op('Sub', [m, w(b, 's', [])]);
  b.op('Div', [s, w(b, 'd', [5])]);
});
add('outer broadcast', 17, ['N', 1, 4, 1], (b, x) => { b.op('Mul', [x, w(b, 'c', [3, 1, 6])]); });
add('activations, Softmax, Dropout with mask', 13, ['N', 10], (b, x) => {
  const r = b.op('Relu', [x]);
  const l = b.op('LeakyRelu', [r], { alpha: A.f(0.1) });
  const s = b.op('Sigmoid', [l]);
  const t = b.op('Tanh', [s]);
  const sm = b.op('Softmax', [t], { axis: A.i(-1) });
  const ls = b.op('LogSoftmax', [sm], { axis: A.i(1) });
  const id = b.op('Identity', [ls]);
  b.node('Dropout', [id], {}, { outputs: 2 });
});
add('Clip with min/max inputs', 13, ['N', 3, 4], (b, x) => { b.op('Clip', [x, w(b, 'lo', []), '']); b.op('Clip', [x, w(b, 'lo2', []), w(b, 'hi', [])]); });
add('Clip with attributes (opset 10)', 10, ['N', 3], (b, x) => { b.op('Clip', [x], { min: A.f(-0.1), max: A.f(0.2) }); });
add('BatchNormalization', 15, ['N', 4, 3, 3], (b, x) => {
  const c = (n: string) => b.init(n, [4], new Float32Array([1, 2, 3, 4]));
  b.op('BatchNormalization', [x, c('s'), c('bb'), c('m'), c('v')], { epsilon: A.f(1e-5) });
});
add('Flatten axes 0, 2, −1 (opset 11)', 11, ['N', 2, 3, 4], (b, x) => {
  b.op('Flatten', [x], { axis: A.i(0) });
  b.op('Flatten', [x], { axis: A.i(2) });
  b.op('Flatten', [x], { axis: A.i(-1) });
  b.op('Flatten', [x], { axis: A.i(4) });
});

// ---------------------------------------------------------------- reshaping

add('Reshape with 0 and -1', 13, ['N', 2, 3, 4], (b, x) => {
  b.op('Reshape', [x, b.ints('s1', [0, -1])]);
  b.op('Reshape', [x, b.ints('s2', [0, 0, 4, -1])]);
  b.op('Reshape', [x, b.ints('s3', [-1, 2, 2])]);
});
add('Reshape allowzero without zeros (opset 14)', 14, ['N', 6], (b, x) => { b.op('Reshape', [x, b.ints('s', [-1, 3, 2])], { allowzero: A.i(1) }); });
add('Transpose default and perm', 17, ['N', 2, 3, 4], (b, x) => {
  b.op('Transpose', [x]);
  b.op('Transpose', [x], { perm: A.is([0, 2, 3, 1]) });
});
add('Concat axis 1 and -1', 11, ['N', 2, 3], (b, x) => {
  const part = b.op('Slice', [x, b.ints('s0', [0]), b.ints('s1', [1]), b.ints('s2', [1])]);
  b.op('Concat', [x, part, x], { axis: A.i(1) });
  b.op('Concat', [w(b, 'c', [1, 4, 3]), w(b, 'c2', [2, 4, 3])], { axis: A.i(0) });
  const e = b.op('Identity', [x]);
  b.op('Concat', [x, e], { axis: A.i(-1) });
});
add('Split by attribute (opset 11)', 11, ['N', 6, 4], (b, x) => { b.node('Split', [x], { axis: A.i(1), split: A.is([1, 2, 3]) }, { outputs: 3 }); });
add('Split by input (opset 13)', 13, ['N', 6, 4], (b, x) => {
  b.node('Split', [x, b.ints('sp', [3, 1])], { axis: A.i(-1) }, { outputs: 2 });
  b.node('Split', [x], { axis: A.i(1) }, { outputs: 3 });
});
add('Split num_outputs uneven (opset 18)', 18, ['N', 7, 4], (b, x) => { b.node('Split', [x], { axis: A.i(1), num_outputs: A.i(3) }, { outputs: 3 }); });
add('Slice inputs: negatives, INT64_MAX, steps', 13, ['N', 8, 10], (b, x) => {
  b.op('Slice', [x, b.ints('st', [1, -8]), b.init('en', [2], BigInt64Array.of(6n, 2n ** 63n - 1n), DataType.INT64), b.ints('ax', [1, 2]), b.ints('sp', [2, 3])]);
  b.op('Slice', [x, b.ints('st2', [-1]), b.init('en2', [1], BigInt64Array.of(-(2n ** 63n)), DataType.INT64), b.ints('ax2', [-1]), b.ints('sp2', [-2])]);
  b.op('Slice', [x, b.ints('st3', [0, 2]), b.ints('en3', [1, 100])]);
  b.op('Slice', [x, b.ints('st4', [5]), b.ints('en4', [2]), b.ints('ax4', [1])]);
});
add('Slice attributes (opset 9)', 9, ['N', 8, 10], (b, x) => { b.op('Slice', [x], { starts: A.is([1, -3]), ends: A.is([100, -1]), axes: A.is([1, 2]) }); });
add('Pad input (opset 11), including negative pads', 11, ['N', 2, 5, 5], (b, x) => {
  b.op('Pad', [x, b.ints('p', [0, 0, 1, 2, 0, 0, 3, 4])]);
  b.op('Pad', [x, b.ints('p2', [0, 0, -1, 0, 0, 0, 1, -2]), w(b, 'cv', [])], { mode: A.s('constant') });
});
add('Pad reflect with axes (opset 18)', 18, ['N', 2, 5, 5], (b, x) => { b.op('Pad', [x, b.ints('p', [1, 2, 2, 1]), '', b.ints('ax', [2, -1])], { mode: A.s('reflect') }); });
add('Pad attribute (opset 10)', 10, ['N', 2, 5, 5], (b, x) => { b.op('Pad', [x], { pads: A.is([0, 0, 1, 1, 0, 0, 2, 2]) }); });
add('Unsqueeze/Squeeze by attribute (opset 11)', 11, ['N', 3, 4], (b, x) => {
  const u = b.op('Unsqueeze', [x], { axes: A.is([0, -1]) });
  b.op('Squeeze', [u], { axes: A.is([0, 4]) });
  b.op('Squeeze', [u]);
});
add('Unsqueeze/Squeeze by input (opset 13)', 13, ['N', 3, 1], (b, x) => {
  const u = b.op('Unsqueeze', [x, b.ints('a', [1, 3])]);
  b.op('Squeeze', [u, b.ints('a2', [-1, 1])]);
  b.op('Squeeze', [x]);
});
add('Cast and Shape with start/end (opset 15)', 15, ['N', 3, 4, 5], (b, x) => {
  b.op('Cast', [x], { to: A.i(DataType.DOUBLE) });
  b.op('Shape', [x], { start: A.i(1) });
  b.op('Shape', [x], { start: A.i(-3), end: A.i(-1) });
  b.op('Shape', [x], { end: A.i(10) });
});
add('QuantizeLinear/DequantizeLinear per tensor and per channel (opset 13)', 13, ['N', 3, 4, 4], (b, x) => {
  const q = b.op('QuantizeLinear', [x, b.init('s', [], [0.02]), b.init('z', [], new Int8Array([1]), DataType.INT8)]);
  b.op('DequantizeLinear', [q, b.init('s2', [], [0.02]), b.init('z2', [], new Int8Array([1]), DataType.INT8)]);
  b.op('DequantizeLinear', [b.init('wq', [2, 3], new Int8Array([1, -2, 3, -128, 127, 0]), DataType.INT8), b.init('ws', [2], [0.1, 0.2])], { axis: A.i(0) });
  b.op('QuantizeLinear', [x, b.init('su', [], [0.05])]);
});
add('QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger (opset 13)', 13, ['N', 2, 5, 5], (b, x) => {
  const u8 = (name: string, v: number[], dims: number[] = []) => b.init(name, dims, new Uint8Array(v), DataType.UINT8);
  const i8 = (name: string, v: number[], dims: number[]) => b.init(name, dims, new Int8Array(v), DataType.INT8);
  const q = b.op('QuantizeLinear', [x, b.init('s', [], [0.02]), u8('z', [128])]);
  const w = i8('w', Array.from({ length: 3 * 2 * 9 }, (_, i) => (i % 11) - 5), [3, 2, 3, 3]);
  b.op('QLinearConv', [q, b.init('xs', [], [0.02]), u8('xz', [128]), w, b.init('wsc', [3], [0.01, 0.02, 0.03]), i8('wz', [0, 0, 0], [3]),
    b.init('ys', [], [0.05]), u8('yz', [10]), b.init('bq', [3], new Int32Array([5, -5, 0]), DataType.INT32)], { pads: A.is([1, 1, 1, 1]), strides: A.is([2, 2]) });
  b.op('ConvInteger', [q, u8('wu', Array.from({ length: 4 * 2 * 4 }, (_, i) => i % 7), [4, 2, 2, 2]), u8('xz2', [128]), u8('wz2', [3])]);
  const m = b.op('Reshape', [q, b.ints('sh', [0, 10, 5])]);
  b.op('QLinearMatMul', [m, b.init('ms', [], [0.02]), u8('mz', [128]), u8('mb', Array.from({ length: 15 }, (_, i) => i), [5, 3]),
    b.init('mbs', [], [0.1]), u8('mbz', [2]), b.init('mys', [], [0.3]), u8('myz', [0])]);
  b.op('MatMulInteger', [m, i8('mi', Array.from({ length: 10 }, (_, i) => i - 5), [5, 2]), u8('az', [128])]);
});
add('Gather on shapes and data', 13, ['N', 4, 5], (b, x) => {
  const s = b.op('Shape', [x]);
  b.op('Gather', [s, b.ints('i', [-1, 0], [2])], { axis: A.i(0) });
  b.op('Gather', [s, b.ints('i0', [1], [])]);
  b.op('Gather', [x, b.ints('i2', [0, 2, 1, 3], [2, 2])], { axis: A.i(1) });
  b.op('Gather', [x, b.ints('i3', [4], [])], { axis: A.i(-1) });
});
add('ConstantOfShape and Constant forms', 13, ['N', 3, 2], (b, x) => {
  const s = b.op('Shape', [x]);
  const z = b.op('ConstantOfShape', [s], { value: A.t({ name: '', dataType: DataType.FLOAT, dims: [1], data: new Float32Array([0.5]) }) });
  b.op('Add', [x, z]);
  b.op('ConstantOfShape', [b.ints('cs', [2, 3])], { value: A.t({ name: '', dataType: DataType.INT64, dims: [1], data: new BigInt64Array([7n]) }) });
  b.op('ConstantOfShape', [b.ints('cs0', [4])]);
  b.op('Constant', [], { value_ints: A.is([1, 2, 3]) });
  b.op('Constant', [], { value_int: A.i(4) });
  b.op('Constant', [], { value_float: A.f(0.25) });
  b.op('Constant', [], { value: A.t({ name: '', dataType: DataType.INT64, dims: [2, 2], data: new BigInt64Array([1n, 2n, 3n, 4n]) }) });
});

// ---------------------------------------------------------------- exporter patterns

add('PyTorch x.view(x.size(0), -1) (opset 11)', 11, ['N', 3, 4, 4], (b, x) => {
  const c = b.op('Conv', [x, w(b, 'w', [2, 3, 3, 3])], { pads: A.is([1, 1, 1, 1]) });
  const s = b.op('Shape', [c]);
  const g = b.op('Gather', [s, b.op('Constant', [], { value: A.t({ name: '', dataType: DataType.INT64, dims: [], data: new BigInt64Array([0n]) }) })], { axis: A.i(0) });
  const u = b.op('Unsqueeze', [g], { axes: A.is([0]) });
  const cat = b.op('Concat', [u, b.op('Constant', [], { value: A.t({ name: '', dataType: DataType.INT64, dims: [1], data: new BigInt64Array([-1n]) }) })], { axis: A.i(0) });
  const r = b.op('Reshape', [c, cat]);
  b.op('Gemm', [r, w(b, 'fc', [5, 32])], { transB: A.i(1) });
});
add('PyTorch flatten via Mul of dims (opset 13)', 13, ['N', 2, 3, 4], (b, x) => {
  const s = b.op('Shape', [x]);
  const dim = (i: number) => b.op('Unsqueeze', [b.op('Gather', [s, b.ints(`i${i}`, [i], [])], { axis: A.i(0) }), b.ints(`a${i}`, [0])]);
  const chw = b.op('Mul', [b.op('Mul', [dim(1), dim(2)]), dim(3)]);
  const half = b.op('Div', [dim(3), b.ints('two', [2])]);
  const target = b.op('Concat', [dim(0), b.op('Div', [chw, half]), half], { axis: A.i(0) });
  b.op('Reshape', [x, target]);
});
add('TensorFlow style: Cast int32, Slice, Concat, Cast back (opset 13)', 13, ['N', 4, 6], (b, x) => {
  const s32 = b.op('Cast', [b.op('Shape', [x])], { to: A.i(DataType.INT32) });
  const batch = b.op('Slice', [s32, b.ints('s0', [0]), b.ints('s1', [1]), b.ints('s2', [0])]);
  const rest = b.op('Add', [b.op('Slice', [s32, b.ints('t0', [1]), b.ints('t1', [2])]), b.init('k', [1], new Int32Array([2]), DataType.INT32)]);
  const shape = b.op('Cast', [b.op('Concat', [batch, rest, b.init('m1', [1], new Int32Array([-1]), DataType.INT32)], { axis: A.i(0) })], { to: A.i(DataType.INT64) });
  b.op('Reshape', [x, shape]);
  const sq = b.op('Squeeze', [b.op('Slice', [b.op('Shape', [x]), b.ints('u0', [-1]), b.init('u1', [1], BigInt64Array.of(2n ** 63n - 1n), DataType.INT64)]), b.ints('u2', [0])]);
  b.op('Sub', [sq, b.ints('one', [1], [])]);
});
add('ConstantOfShape from a computed shape (opset 13)', 13, ['N', 3], (b, x) => {
  const s = b.op('Shape', [x]);
  const z = b.op('ConstantOfShape', [b.op('Concat', [b.op('Slice', [s, b.ints('a', [0]), b.ints('b', [1])]), b.ints('c', [2])], { axis: A.i(0) })]);
  b.op('Concat', [x, z], { axis: A.i(1) });
});

// ---------------------------------------------------------------- ops flipguard's transforms emit

add('comparisons broadcast to bool (opset 13)', 13, ['N', 3, 4], (b, x) => {
  b.op('Equal', [x, w(b, 'e', [4])]);
  b.op('Less', [w(b, 'l', [3, 1]), x]);
  b.op('Greater', [x, w(b, 'g', [])]);
  b.op('GreaterOrEqual', [x, w(b, 'ge', [1, 1, 4])]);
  b.op('LessOrEqual', [w(b, 'le', [2, 1, 1, 1]), x]);
});
add('logic: And, Or, Xor, Not; IsNaN, IsInf (opset 17)', 17, ['N', 3, 4], (b, x) => {
  const p = b.op('Greater', [x, w(b, 't', [4])]);
  const q = b.op('IsNaN', [b.op('Reciprocal', [x])]);
  const r = b.op('IsInf', [b.op('Log', [b.op('Abs', [x])])], { detect_negative: A.i(0) });
  b.op('And', [p, b.op('Less', [x, w(b, 'u', [3, 1])])]);
  b.op('Or', [q, r]);
  b.op('Xor', [p, b.op('IsInf', [x])]);
  b.op('Not', [p]);
});
add('Where with three-way broadcasting (opset 16)', 16, ['N', 1, 4], (b, x) => {
  const cond = b.op('Greater', [w(b, 'c', [3, 1]), w(b, 'z', [])]);
  b.op('Where', [cond, x, w(b, 'y', [])]);
  b.op('Where', [b.op('IsNaN', [x]), w(b, 'a', [2, 1, 1, 1]), x]);
});
add('Min and Max: one to three inputs, broadcast (opset 13)', 13, ['N', 3, 4], (b, x) => {
  b.op('Min', [x]);
  b.op('Min', [x, w(b, 'm', [4]), w(b, 'm2', [3, 1])]);
  b.op('Max', [w(b, 'n', [1, 1, 1]), x]);
  b.op('Max', [x, w(b, 'n2', [2, 1, 1, 1]), w(b, 'n3', [])]);
});
add('unary math and Pow (opset 13)', 13, ['N', 2, 5], (b, x) => {
  for (const op of ['Abs', 'Neg', 'Reciprocal', 'Exp', 'Floor', 'Ceil', 'Sign']) b.op(op, [x]);
  const pos = b.op('Abs', [x]);
  b.op('Log', [pos]);
  b.op('Sqrt', [pos]);
  b.op('Pow', [pos, w(b, 'p', [5])]);
  b.op('Pow', [w(b, 'base', [3, 1, 1, 1]), x]);
});
add('Mod fmod 1 on floats and both forms folded on integers (opset 13)', 13, ['N', 3, 4], (b, x) => {
  b.op('Mod', [x, w(b, 'd', [4])], { fmod: A.i(1) });
  const s = b.op('Shape', [x]);
  const neg = b.ints('neg', [-7, 7, -7]);
  b.op('Mod', [neg, b.ints('three', [3], [])]);
  b.op('Mod', [neg, b.ints('mthree', [-3], [])]);
  b.op('Mod', [neg, b.ints('five', [5], [])], { fmod: A.i(1) });
  b.op('Mod', [s, b.ints('two', [2], [])]);
});
add('ReduceSum axes input, keepdims, noop_with_empty_axes (opset 13)', 13, ['N', 3, 4, 5], (b, x) => {
  b.op('ReduceSum', [x, b.ints('a', [1, -1])]);
  b.op('ReduceSum', [x, b.ints('a2', [2])], { keepdims: A.i(0) });
  b.op('ReduceSum', [x], { keepdims: A.i(0) });
  b.op('ReduceSum', [x, b.ints('none', [], [0])]);
  b.op('ReduceSum', [x], { noop_with_empty_axes: A.i(1) });
  b.op('ReduceSum', [b.op('Shape', [x]), b.ints('a0', [0])], { keepdims: A.i(0) });
});
add('ReduceSum axes attribute (opset 11)', 11, ['N', 3, 4], (b, x) => {
  b.op('ReduceSum', [x], { axes: A.is([1]), keepdims: A.i(0) });
  b.op('ReduceSum', [x]);
});
add('TopK k attribute (opset 9)', 9, ['N', 5], (b, x) => { b.node('TopK', [x], { k: A.i(3) }, { outputs: 2 }); });
add('ReduceMin/Max/Mean axes attribute (opset 17)', 17, ['N', 3, 4, 5], (b, x) => {
  b.op('ReduceMin', [x], { axes: A.is([0, 2, 3]), keepdims: A.i(0) });
  b.op('ReduceMax', [x], { axes: A.is([-1]) });
  b.op('ReduceMean', [x]);
  b.op('ReduceMax', [b.op('Shape', [x])], { keepdims: A.i(0) });
});
add('ReduceMin/Max/Mean axes input (opset 18)', 18, ['N', 3, 4, 5], (b, x) => {
  b.op('ReduceMin', [x, b.ints('a', [0, 2, 3])], { keepdims: A.i(0) });
  b.op('ReduceMax', [x, b.ints('a2', [-2])]);
  b.op('ReduceMean', [x]);
  b.op('ReduceMean', [x], { noop_with_empty_axes: A.i(1), keepdims: A.i(0) });
  b.op('ReduceMin', [b.op('Shape', [x])]);
});
add('TopK both outputs, axis, k from input (opset 13)', 13, ['N', 3, 6], (b, x) => {
  b.node('TopK', [x, b.ints('k', [2])], { axis: A.i(1) }, { outputs: 2 });
  b.node('TopK', [x, b.ints('k2', [6])], { largest: A.i(0), sorted: A.i(0) }, { outputs: 2 });
  b.node('TopK', [b.op('Reshape', [x, b.ints('flat', [-1])]), b.ints('k3', [5])], { axis: A.i(0) }, { outputs: 2 });
});
add('GatherElements (opset 13)', 13, ['N', 3, 4], (b, x) => {
  b.op('GatherElements', [x, b.ints('i', [0, 3, -1, 2, 1, 0], [1, 3, 2])], { axis: A.i(2) });
  b.op('GatherElements', [x, b.ints('i2', [2, 0, 1, 1], [1, 1, 4])], { axis: A.i(-2) });
  b.op('GatherElements', [b.op('Shape', [x]), b.ints('i3', [2, 0, -1], [3])], { axis: A.i(0) });
});
add('ScatterElements and ScatterND keep the data shape (opset 16)', 16, ['N', 3, 4], (b, x) => {
  b.op('ScatterElements', [x, b.ints('i', [2, 0, 1, 1], [1, 1, 4]), w(b, 'u', [1, 1, 4])], { axis: A.i(1) });
  b.op('ScatterElements', [x, b.ints('i2', [3, -1], [1, 1, 2]), w(b, 'u2', [1, 1, 2])], { axis: A.i(2), reduction: A.s('add') });
  b.op('ScatterND', [x, b.ints('nd', [0, 1, 0, 2], [2, 2]), w(b, 'u3', [2, 4])]);
  b.op('ScatterND', [x, b.ints('nd2', [0, 2, 3], [1, 3]), w(b, 'u4', [1])]);
});
add('Expand and Tile, folded on integers (opset 13)', 13, ['N', 3, 1], (b, x) => {
  b.op('Expand', [x, b.ints('s', [2, 1, 1, 5])]);
  b.op('Expand', [x, b.ints('s2', [1])]);
  b.op('Tile', [x, b.ints('r', [1, 2, 3])]);
  const s = b.op('Shape', [x]);
  b.op('Expand', [s, b.ints('s3', [2, 3])]);
  b.op('Tile', [s, b.ints('r2', [2])]);
});
add('Range on constants sizes a Reshape (opset 13)', 13, ['N', 12], (b, x) => {
  const r = b.op('Range', [b.ints('start', [1], []), b.ints('limit', [4], []), b.ints('delta', [1], [])]);
  const target = b.op('Concat', [b.ints('m1', [-1]), b.op('Add', [r, b.ints('one', [1], [])])], { axis: A.i(0) });
  b.op('Reshape', [x, b.op('Slice', [target, b.ints('s0', [0]), b.ints('s1', [3])])]);
  b.op('Range', [b.ints('s', [10], []), b.ints('l', [0], []), b.ints('d', [-3], [])]);
  b.op('Range', [b.init('fs', [], [0.5]), b.init('fl', [], [2.9]), b.init('fd', [], [0.25])]);
});
add('a vote subgraph like tmr-weights on constants (opset 17)', 17, ['N', 2, 5, 5], (b, x) => {
  const wt = w(b, 'w', [3, 2, 3, 3]);
  const flat = b.op('Reshape', [wt, b.ints('flat', [-1])]);
  const idx = b.init('idx', [4], new Int32Array([0, 5, 9, 53]), DataType.INT32);
  const a = b.op('Gather', [flat, idx], { axis: A.i(0) });
  const c2 = w(b, 'c2', [4]);
  const c3 = w(b, 'c3', [4]);
  const pick = b.op('Or', [b.op('Equal', [a, c2]), b.op('Equal', [a, c3])]);
  const which = b.op('Where', [pick, b.ints('zero', [0], []), b.ints('one', [1], [])]);
  const row = b.ints('row', [1, -1]);
  const stack = b.op('Concat', [a, c2, b.op('Max', [b.op('Min', [a, c2]), c3])].map((v) => b.op('Reshape', [v, row])), { axis: A.i(0) });
  const v0 = b.op('Reshape', [b.op('GatherElements', [stack, b.op('Reshape', [which, row])], { axis: A.i(0) }), b.ints('f2', [-1])]);
  const [, sel] = b.node('TopK', [b.op('Cast', [b.op('Not', [pick])], { to: A.i(DataType.FLOAT) }), b.ints('k', [2])], { axis: A.i(0) }, { outputs: 2 });
  const fixed = b.op('ScatterElements', [v0, sel, b.op('Gather', [c3, sel], { axis: A.i(0) })], { axis: A.i(0) });
  const voted = b.op('Reshape', [b.op('ScatterElements', [flat, idx, fixed], { axis: A.i(0) }), b.ints('shape', [3, 2, 3, 3])]);
  b.op('Conv', [x, voted]);
});

// ---------------------------------------------------------------- activations and norms of exported CNNs

add('HardSwish, HardSigmoid (MobileNetV3)', 14, ['N', 3, 4, 4], (b, x) => { b.op('Mul', [b.op('HardSwish', [x]), b.op('HardSigmoid', [x], { alpha: A.f(1 / 6) })]); });
add('Elu, Softplus, Erf', 13, ['N', 2, 3], (b, x) => { b.op('Erf', [b.op('Softplus', [b.op('Elu', [x], { alpha: A.f(0.5) })])]); });
add('PRelu per-channel slope', 13, ['N', 3, 2, 2], (b, x) => { b.op('PRelu', [x, w(b, 'slope', [3, 1, 1])]); });
add('Gelu tanh (opset 20)', 20, ['N', 5], (b, x) => { b.op('Gelu', [x], { approximate: A.s('tanh') }); });
add('LayerNormalization with Mean and InvStdDev outputs (opset 17)', 17, ['N', 3, 4], (b, x) => {
  b.node('LayerNormalization', [x, w(b, 'ln_s', [4]), w(b, 'ln_b', [4])], { axis: A.i(-1) }, { outputs: 3 });
});

// ---------------------------------------------------------------- tests

test('inferShapes matches onnxruntime for every value at batch 1 and 3', async () => {
  assert.ok(cases.length >= 50, `only ${cases.length} cases`);
  for (const c of cases) {
    try {
      await matchesOrt(c.label, c.model);
    } catch (e) {
      if (e instanceof Error && !e.message.includes(c.label)) e.message = `${c.label}: ${e.message}`;
      throw e;
    }
  }
});

test('a small CNN with the exporter reshape pattern resolves every shape and folded value', async () => {
  const m = build(13, [['input', ['batch_size', 1, 28, 28]]], (b, x) => {
    let h = b.op('Relu', [b.op('Conv', [x, w(b, 'c1', [6, 1, 5, 5]), w(b, 'c1b', [6])], { pads: A.is([2, 2, 2, 2]) })]);
    h = b.op('MaxPool', [h], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) });
    h = b.op('Relu', [b.op('Conv', [h, w(b, 'c2', [16, 6, 5, 5]), w(b, 'c2b', [16])])]);
    h = b.op('MaxPool', [h], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) });
    const s = b.op('Shape', [h]);
    const n = b.op('Unsqueeze', [b.op('Gather', [s, b.ints('zero', [0], [])]), b.ints('ax', [0])]);
    h = b.op('Reshape', [h, b.op('Concat', [n, b.ints('m1', [-1])], { axis: A.i(0) })]);
    b.op('Gemm', [h, w(b, 'fc', [10, 400]), w(b, 'fcb', [10])], { transB: A.i(1) });
  });
  await matchesOrt('LeNet', m, [1, 3, 8]);
  const last = m.graph.nodes[m.graph.nodes.length - 1].outputs[0];
  assert.deepEqual(inferShapes(m).get(last), [1, 10]);
  assert.deepEqual(inferShapes(m, { batch: 5 }).get(last), [5, 10]);
  const concat = m.graph.nodes.find((n) => n.opType === 'Concat')!.outputs[0];
  assert.deepEqual(inferValues(m, { batch: 7 }).get(concat), [7, -1]);
});

test('every initializer and input gets a shape; a fixed batch dimension is kept', () => {
  const m = build(17, [['x', [2, 3]]], (b, x) => { b.op('MatMul', [x, w(b, 'w', [3, 4])]); });
  const s = inferShapes(m, { batch: 9 });
  assert.deepEqual(s.get('x'), [2, 3]);
  assert.deepEqual(s.get('w'), [3, 4]);
  assert.deepEqual(s.get(m.graph.nodes[0].outputs[0]), [2, 4]);
  // an unknown (null) or zero batch dimension becomes the batch size too
  for (const d of [null, 0, 'n']) {
    const m2 = build(17, [['x', [d, 3]]], (b, x) => { b.op('Relu', [x]); });
    assert.deepEqual(inferShapes(m2, { batch: 4 }).get('x'), [4, 3]);
  }
  // explicit input shapes override the model
  assert.deepEqual(inferShapes(m, { inputShapes: { x: [5, 3] } }).get(m.graph.nodes[0].outputs[0]), [5, 4]);
});

test('nodes out of file order are handled; values from nowhere are named', () => {
  const m = build(17, [['x', ['N', 3]]], (b, x) => { const r = b.op('Relu', [x]); b.op('Sigmoid', [r]); });
  m.graph.nodes.reverse();
  const s = inferShapes(m, { batch: 2 });
  assert.deepEqual(s.get(m.graph.nodes[0].outputs[0]), [2, 3]);
  const bad = build(17, [['x', ['N', 3]]], (b) => { b.op('Relu', ['nowhere'], {}, 'lost_relu'); });
  assertFlip(() => inferShapes(bad), 'lost_relu', 'nowhere');
});

test('shape errors name the node and say what to do', () => {
  const bcast = build(17, [['x', ['N', 3]]], (b, x) => { b.op('Add', [x, w(b, 'c', [4])], {}, 'add_7'); });
  assertFlip(() => inferShapes(bcast), 'add_7', 'Add', '[1, 3]', '[4]');
  const chans = build(17, [['x', ['N', 3, 8, 8]]], (b, x) => { b.op('Conv', [x, w(b, 'w', [4, 2, 3, 3])], {}, 'conv_1'); });
  assertFlip(() => inferShapes(chans), 'conv_1', '3 input channels');
  const tooSmall = build(17, [['x', ['N', 1, 4, 4]]], (b, x) => { b.op('Conv', [x, w(b, 'w', [1, 1, 5, 5])], {}, 'conv_big'); });
  assertFlip(() => inferShapes(tooSmall), 'conv_big', 'larger input');
  const runtimeShape = build(17, [['x', ['N', 6]], ['s', [2]]], (b, x, s) => { b.op('Reshape', [x, s], {}, 'reshape_3'); });
  assertFlip(() => inferShapes(runtimeShape), 'reshape_3', 'Reshape', '"s"', 'run time');
  const badReshape = build(17, [['x', ['N', 6]]], (b, x) => { b.op('Reshape', [x, b.ints('t', [4, -1])], {}, 'reshape_4'); });
  assertFlip(() => inferShapes(badReshape, { batch: 1 }), 'reshape_4', '[4, -1]');
  const gemm = build(17, [['x', ['N', 6]]], (b, x) => { b.op('Gemm', [x, w(b, 'w', [5, 4])], {}, 'fc'); });
  assertFlip(() => inferShapes(gemm), 'fc', 'inner sizes differ');
  const squeeze = build(13, [['x', ['N', 6]]], (b, x) => { b.op('Squeeze', [x, b.ints('a', [1])], {}, 'sq'); });
  assertFlip(() => inferShapes(squeeze), 'sq', 'size-1');
  const gather = build(13, [['x', ['N', 6]]], (b, x) => { b.op('Gather', [x, b.ints('i', [6], [])], { axis: A.i(1) }, 'g'); });
  assertFlip(() => inferShapes(gather), 'g', 'index 6');
});

test('input shape problems and a bad batch size are FlipguardErrors', () => {
  const m = build(17, [['img', ['N', 3, 'height', 32]]], (b, x) => { b.op('Relu', [x]); });
  assertFlip(() => inferShapes(m), 'img', 'dimension 2', 'height', 'fixed input size');
  const noShape = build(17, [['img', []]], (b, x) => { b.op('Relu', [x]); });
  delete noShape.graph.inputs[0].shape;
  assertFlip(() => inferShapes(noShape), 'img', 'no shape');
  assertFlip(() => inferShapes(m, { batch: 0 }), 'batch size', '0');
  assertFlip(() => inferShapes(m, { batch: 1.5 }), 'batch size');
});

test('unsupported ops: checkSupported and inferShapes name the node and the op', () => {
  const m = build(17, [['x', ['N', 3, 8, 8]]], (b, x) => {
    const r = b.op('Relu', [x]);
    b.op('Resize', [r, '', w(b, 'scales', [4])], {}, 'conv_7');
  });
  assertFlip(() => checkSupported(m), 'Node "conv_7"', 'op "Resize"', 'does not support', 'Conv, ConvInteger, ConvTranspose');
  assertFlip(() => inferShapes(m), 'conv_7', 'Resize');
  const custom = build(17, [['x', ['N', 3]]], (b, x) => { b.node('FusedConv', [x], {}, { name: 'fc1', domain: 'com.microsoft' }); });
  assertFlip(() => checkSupported(custom), 'fc1', 'FusedConv', 'domain "com.microsoft"');
  // a default-domain op name in another domain is not the same op
  const relu = build(17, [['x', ['N', 3]]], (b, x) => { b.node('Relu', [x], {}, { name: 'r', domain: 'custom' }); });
  assertFlip(() => checkSupported(relu), '"r"', 'domain "custom"');
  const ok = build(17, [['x', ['N', 3]]], (b, x) => { b.op('Relu', [x]); });
  assert.deepEqual(checkSupported(ok), []);
});

test('opset check: 11–18 silent, 7–10 and 19–21 warn, others fail', () => {
  const at = (v: number, extra: { domain: string; version: number }[] = []) => {
    const m = build(v, [['x', ['N', 3]]], (b, x) => { b.op('Relu', [x]); });
    m.opsetImports.push(...extra);
    return m;
  };
  for (const v of [11, 13, 17, 18]) assert.equal(opsetCheck(at(v)), undefined);
  for (const v of [7, 10, 19, 21]) {
    const warn = opsetCheck(at(v));
    assert.ok(warn && warn.includes(String(v)) && warn.includes('11–18'), `warning for ${v}: ${warn}`);
    assert.equal(checkSupported(at(v)).length, 1);
  }
  for (const v of [1, 6, 22]) assertFlip(() => opsetCheck(at(v)), `opset ${v}`, 'between 11 and 18');
  const noDefault = at(13);
  noDefault.opsetImports = [{ domain: 'com.example', version: 1 }];
  assertFlip(() => checkSupported(noDefault), 'default ONNX opset');
  assert.equal(opsetCheck(at(13, [{ domain: 'com.example', version: 1 }])), undefined);
});

test('transform ops: element types, folded integer values and named errors', () => {
  const m = build(17, [['x', ['N', 3, 4]]], (b, x) => {
    const s = b.op('Shape', [x], {}, 'shape');
    b.op('Equal', [x, w(b, 'e', [4])], {}, 'eq');
    b.op('Less', [s, b.ints('four', [4], [])], {}, 'lt');
    b.op('Where', [b.op('Greater', [s, b.ints('three', [3], [])]), s, b.ints('m1', [-1], [])], {}, 'where');
    b.op('Mod', [b.ints('v', [-7, 7]), b.ints('d', [3], [])], {}, 'mod');
    b.op('Mod', [b.ints('v2', [-7, 7]), b.ints('d2', [3], [])], { fmod: A.i(1) }, 'fmod');
    b.op('ReduceSum', [s, b.ints('ax', [0])], { keepdims: A.i(0) }, 'sum');
    b.op('Max', [s, b.ints('two', [2], [])], {}, 'max');
    b.node('TopK', [x, b.ints('k', [2])], {}, { name: 'topk', outputs: 2 });
    b.op('Tile', [s, b.ints('r', [2])], {}, 'tile');
    b.op('Range', [b.ints('a', [0], []), b.op('Gather', [s, b.ints('i', [2], [])], { axis: A.i(0) }), b.ints('st', [2], [])], {}, 'range');
    b.op('GatherElements', [s, b.ints('ge', [2, 2, 0])], { axis: A.i(0) }, 'gel');
  });
  const a = analyzeShapes(m, { batch: 5 });
  const out = (name: string, i = 0) => m.graph.nodes.find((n) => n.name === name)!.outputs[i];
  assert.equal(a.types.get(out('eq')), DataType.BOOL);
  assert.deepEqual(a.values.get(out('lt')), [0, 1, 0]);
  assert.deepEqual(a.values.get(out('where')), [5, -1, 4]);
  assert.deepEqual(a.values.get(out('mod')), [2, 1]);
  assert.deepEqual(a.values.get(out('fmod')), [-1, 1]);
  assert.deepEqual(a.values.get(out('sum')), [12]);
  assert.deepEqual(a.shapes.get(out('sum')), []);
  assert.deepEqual(a.values.get(out('max')), [5, 3, 4]);
  assert.deepEqual([a.shapes.get(out('topk', 1)), a.types.get(out('topk', 1)), a.types.get(out('topk'))], [[5, 3, 2], DataType.INT64, DataType.FLOAT]);
  assert.deepEqual(a.values.get(out('tile')), [5, 3, 4, 5, 3, 4]);
  assert.deepEqual(a.values.get(out('range')), [0, 2]);
  assert.deepEqual(a.values.get(out('gel')), [4, 4, 5]);
  const topk = build(13, [['x', ['N', 3]]], (b, x) => { b.node('TopK', [x, b.ints('k', [4])], {}, { name: 'tk', outputs: 2 }); });
  assertFlip(() => inferShapes(topk), 'tk', 'top 4 of 3');
  const where = build(13, [['x', ['N', 3]]], (b, x) => { b.op('Where', [b.op('IsNaN', [x]), x, w(b, 'y', [2])], {}, 'wh'); });
  assertFlip(() => inferShapes(where), 'wh', '[1, 3]', '[2]');
  const mod = build(13, [['x', ['N', 3]]], (b, x) => { b.op('Mod', [x, w(b, 'y', [3])], {}, 'md'); });
  assertFlip(() => inferShapes(mod), 'md', 'fmod = 1');
  const reduce = build(18, [['x', ['N', 3]], ['ax', [1]]], (b, x, ax) => { b.op('ReduceMax', [x, ax], {}, 'rm'); });
  assertFlip(() => inferShapes(reduce), 'rm', '"ax"', 'run time');
});

test('analyzeShapes reports element types and folds int arithmetic exactly', () => {
  const m = build(13, [['x', ['N', 3, 4]]], (b, x) => {
    const s = b.op('Shape', [x], {}, 'shape');
    const c = b.op('Cast', [s], { to: A.i(DataType.INT32) }, 'cast');
    b.op('Div', [c, b.init('d', [], new Int32Array([-3]), DataType.INT32)], {}, 'div');
    b.op('Div', [b.op('Cast', [s], { to: A.i(DataType.FLOAT) }), b.init('f', [], new Float32Array([3]))], {}, 'fdiv');
    b.node('MaxPool', [b.op('Unsqueeze', [x, b.ints('a', [1])])], { kernel_shape: A.is([1, 2]) }, { name: 'mp', outputs: 2 });
  });
  const a = analyzeShapes(m, { batch: 2 });
  const out = (name: string, i = 0) => m.graph.nodes.find((n) => n.name === name)!.outputs[i];
  assert.equal(a.types.get(out('shape')), DataType.INT64);
  assert.equal(a.types.get(out('cast')), DataType.INT32);
  assert.deepEqual(a.values.get(out('div')), [0, -1, -1]); // truncation toward zero
  assert.deepEqual(a.values.get(out('fdiv')), [2 / 3, 1, 4 / 3].map(Math.fround));
  assert.equal(a.types.get(out('mp', 1)), DataType.INT64);
  assert.deepEqual(a.shapes.get(out('mp', 1)), [2, 1, 3, 3]);
  const tensor: Tensor | undefined = m.graph.initializers.get('a');
  assert.deepEqual(a.values.get('a'), [Number((tensor!.data as BigInt64Array)[0])]);
});

test('every op of the registry with a shape rule has a case checked against onnxruntime', () => {
  const covered = new Set(cases.flatMap((c) => c.model.graph.nodes.map((n) => n.opType)));
  const missing = opsWhere((r) => !!r.shape && r.opType !== 'Constant').filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});
