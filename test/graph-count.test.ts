import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, DataType, GraphBuilder, countModel, makeModel, parameterTensors, type Dim, type Model } from '../src/graph/index.js';

const prod = (d: number[]) => d.reduce((p, q) => p * q, 1);
const w = (b: GraphBuilder, name: string, dims: number[]) => b.init(name, dims, new Float32Array(prod(dims)).fill(0.01));

/** LeNet-5-like: conv 1→6 5×5 pad 2, pool, conv 6→16 5×5, pool, reshape, fc 400→120, fc 120→10. */
function lenet(input: Dim[] = ['N', 1, 28, 28]): Model {
  const b = new GraphBuilder('lenet');
  const x = b.input('x', input);
  let h = b.op('Conv', [x, w(b, 'c1.w', [6, 1, 5, 5]), w(b, 'c1.b', [6])], { pads: A.is([2, 2, 2, 2]) }, 'conv1');
  h = b.op('MaxPool', [b.op('Relu', [h])], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) });
  h = b.op('Conv', [h, w(b, 'c2.w', [16, 6, 5, 5]), w(b, 'c2.b', [16])], {}, 'conv2');
  h = b.op('MaxPool', [b.op('Relu', [h])], { kernel_shape: A.is([2, 2]), strides: A.is([2, 2]) });
  h = b.op('Reshape', [h, b.ints('shape', [-1, 400])]);
  h = b.op('Gemm', [h, w(b, 'f1.w', [120, 400]), w(b, 'f1.b', [120])], { transB: A.i(1) }, 'fc1');
  h = b.op('Gemm', [b.op('Relu', [h]), w(b, 'f2.w', [120, 10]), w(b, 'f2.b', [10])], {}, 'fc2');
  b.output(h);
  return makeModel(b.build(), { opset: 13 });
}

test('Conv 1→6 5×5 pad 2 on 28×28: 117,600 MACs and 156 parameters', () => {
  const b = new GraphBuilder('one');
  const x = b.input('x', ['N', 1, 28, 28]);
  b.output(b.op('Conv', [x, w(b, 'w', [6, 1, 5, 5]), w(b, 'b', [6])], { pads: A.is([2, 2, 2, 2]) }, 'conv'));
  const c = countModel(makeModel(b.build()));
  assert.equal(c.macs, 117_600);
  assert.equal(c.parameters, 156);
  assert.equal(c.storedBytes, 156 * 4);
  assert.deepEqual(c.layers, [{ name: 'conv', op: 'Conv', inputShape: [1, 1, 28, 28], outputShape: [1, 6, 28, 28], parameters: 156, macs: 117_600 }]);
});

test('LeNet-5 counts by hand, per layer and in total', () => {
  const c = countModel(lenet());
  const expected = [
    { name: 'conv1', op: 'Conv', inputShape: [1, 1, 28, 28], outputShape: [1, 6, 28, 28], parameters: 156, macs: 6 * 28 * 28 * 25 },
    { name: 'conv2', op: 'Conv', inputShape: [1, 6, 14, 14], outputShape: [1, 16, 10, 10], parameters: 16 * 6 * 25 + 16, macs: 16 * 10 * 10 * 6 * 25 },
    { name: 'fc1', op: 'Gemm', inputShape: [1, 400], outputShape: [1, 120], parameters: 400 * 120 + 120, macs: 400 * 120 },
    { name: 'fc2', op: 'Gemm', inputShape: [1, 120], outputShape: [1, 10], parameters: 1210, macs: 1200 },
  ];
  assert.deepEqual(c.layers, expected);
  assert.equal(c.parameters, 156 + 2416 + 48120 + 1210);
  assert.equal(c.macs, 117_600 + 240_000 + 48_000 + 1_200);
  // the int64 reshape target (2 values) is stored but is not a parameter
  assert.equal(c.storedBytes, c.parameters * 4 + 2 * 8);
});

test('MACs are per image whatever the batch dimension says', () => {
  const sym = countModel(lenet(['N', 1, 28, 28]));
  const fixed = countModel(lenet([4, 1, 28, 28]));
  assert.equal(fixed.macs, sym.macs);
  assert.deepEqual(fixed.layers.map((l) => l.macs), sym.layers.map((l) => l.macs));
  assert.deepEqual(fixed.layers[0].inputShape, [4, 1, 28, 28]);
});

test('grouped conv, ConvTranspose and batched MatMul MACs', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', ['N', 8, 10, 10]);
  const g = b.op('Conv', [x, w(b, 'gw', [12, 2, 3, 3])], { group: A.i(4), pads: A.is([1, 1, 1, 1]) }, 'grouped');
  const t = b.op('ConvTranspose', [g, w(b, 'tw', [12, 3, 2, 2])], { group: A.i(2), strides: A.is([2, 2]) }, 'up');
  const f = b.op('Reshape', [t, b.ints('s', [0, 6, 400])]);
  b.output(b.op('MatMul', [f, w(b, 'mw', [400, 5])], {}, 'mm'));
  const c = countModel(makeModel(b.build()));
  const byName = Object.fromEntries(c.layers.map((l) => [l.name, l]));
  assert.equal(byName.grouped.macs, 12 * 10 * 10 * (8 / 4) * 9);
  assert.deepEqual(byName.up.outputShape, [1, 6, 20, 20]);
  assert.equal(byName.up.macs, 12 * 10 * 10 * (6 / 2) * 4); // Cin·H_in·W_in·(Cout/group)·kh·kw
  assert.equal(byName.mm.macs, 6 * 400 * 5);
  assert.equal(c.macs, byName.grouped.macs + byName.up.macs + byName.mm.macs);
  assert.equal(c.parameters, 12 * 2 * 9 + 12 * 3 * 4 + 2000);
});

test('batch norm has 4 parameter tensors and 0 MACs; total counts every float initializer', () => {
  const b = new GraphBuilder('bn');
  const x = b.input('x', ['N', 3, 8, 8]);
  let h = b.op('Conv', [x, w(b, 'conv.w', [4, 3, 3, 3])], {}, 'conv');
  h = b.op('BatchNormalization', [h, w(b, 'bn.s', [4]), w(b, 'bn.b', [4]), w(b, 'bn.m', [4]), w(b, 'bn.v', [4])], {}, 'bn');
  b.output(h);
  w(b, 'unused', [7]);
  b.init('idx', [3], [1, 2, 3], DataType.INT64);
  const m = makeModel(b.build());
  const c = countModel(m);
  assert.deepEqual(c.layers.map((l) => [l.name, l.parameters, l.macs]), [['conv', 108, 4 * 6 * 6 * 27], ['bn', 16, 0]]);
  assert.equal(c.parameters, 108 + 16 + 7);
  assert.equal(c.storedBytes, (108 + 16 + 7) * 4 + 3 * 8);
  const roles = Object.fromEntries(parameterTensors(m).map((p) => [p.name, [p.op, p.node, p.role]]));
  assert.deepEqual(roles, {
    'conv.w': ['Conv', 'conv', 'weight'],
    'bn.s': ['BatchNormalization', 'bn', 'bn_scale'],
    'bn.b': ['BatchNormalization', 'bn', 'bn_bias'],
    'bn.m': ['BatchNormalization', 'bn', 'bn_mean'],
    'bn.v': ['BatchNormalization', 'bn', 'bn_var'],
    unused: ['', '', 'other'],
  });
});

test('parameterTensors traces through Transpose, Cast, Identity, Unsqueeze to the compute op', () => {
  const b = new GraphBuilder('trace');
  const x = b.input('x', ['N', 6]);
  // PyTorch Linear exported as Transpose(weight) → MatMul → Add(bias)
  const wt = b.op('Transpose', [w(b, 'fc.w', [4, 6])], { perm: A.is([1, 0]) });
  let h = b.op('MatMul', [x, wt], {}, 'fc_mm');
  h = b.op('Add', [h, b.op('Identity', [w(b, 'fc.b', [4])])], {}, 'fc_add');
  // float16 weights cast to float32 before use
  const half = b.init('half.w', [3, 4], new Uint16Array(12).fill(0x3c00), DataType.FLOAT16);
  h = b.op('Gemm', [h, b.op('Cast', [half], { to: A.i(DataType.FLOAT) })], { transB: A.i(1) }, 'fc2');
  // per-channel scale via Unsqueeze; a scale that is not after a linear op is "other"
  h = b.op('Mul', [h, b.op('Unsqueeze', [w(b, 'scale', [3]), b.ints('ax', [0])])], {}, 'scale_mul');
  h = b.op('Add', [h, w(b, 'shift', [3])], {}, 'shift_add');
  // a weight shared by two MatMuls is owned by the first
  const shared = w(b, 'shared', [3, 3]);
  h = b.op('MatMul', [b.op('MatMul', [h, shared], {}, 'mm_a'), shared], {}, 'mm_b');
  b.output(h);
  const m = makeModel(b.build());
  const ps = parameterTensors(m);
  const get = (n: string) => ps.find((p) => p.name === n)!;
  assert.deepEqual([get('fc.w').op, get('fc.w').node, get('fc.w').role, get('fc.w').dims, get('fc.w').numel], ['MatMul', 'fc_mm', 'weight', [4, 6], 24]);
  assert.deepEqual([get('fc.b').node, get('fc.b').role], ['fc_add', 'bias']);
  assert.deepEqual([get('half.w').op, get('half.w').role, get('half.w').dataType], ['Gemm', 'weight', DataType.FLOAT16]);
  assert.deepEqual([get('scale').node, get('scale').role], ['scale_mul', 'other']);
  assert.deepEqual([get('shift').node, get('shift').role], ['shift_add', 'other']);
  assert.deepEqual([get('shared').node, get('shared').nodes], ['mm_a', ['mm_a', 'mm_b']]);
  assert.ok(!ps.some((p) => p.name === 'ax'), 'integer initializers are not parameters');
  const c = countModel(m);
  assert.equal(c.parameters, 24 + 4 + 12 + 3 + 3 + 9);
  assert.equal(c.layers.reduce((s, l) => s + l.parameters, 0), c.parameters);
  assert.equal(c.storedBytes, (24 + 4 + 3 + 3 + 9) * 4 + 12 * 2 + 8);
  const mm = c.layers.find((l) => l.name === 'mm_b')!;
  assert.deepEqual([mm.parameters, mm.macs], [0, 9]);
});

test('parameterTensors follows constant subgraphs (a vote over stored copies) to the layer', () => {
  const b = new GraphBuilder('vote');
  const x = b.input('x', ['N', 4]);
  const [w1, w2, w3] = ['fc.w', 'fc.w.copy2', 'fc.w.copy3'].map((n) => w(b, n, [3, 4]));
  // median of three copies, selected with Where: constant, so it belongs to the Gemm
  const med = b.op('Max', [b.op('Min', [w1, w2]), b.op('Min', [b.op('Max', [w1, w2]), w3])]);
  const voted = b.op('Where', [b.op('Equal', [w1, w2]), w1, med]);
  let h = b.op('Gemm', [x, b.op('Identity', [voted]), w(b, 'fc.b', [3])], { transB: A.i(1) }, 'fc');
  // a parameter mixed with activations right away is unchanged
  h = b.op('Mul', [h, w(b, 'scale', [3])], {}, 'scale_mul');
  // a constant product that meets activations in an Add is used there, as 'other'
  h = b.op('Add', [h, b.op('Mul', [w(b, 'sa', [3]), w(b, 'sb', [3])], {}, 'prod')], {}, 'shift');
  b.output(h);
  const m = makeModel(b.build());
  const ps = new Map(parameterTensors(m).map((p) => [p.name, [p.op, p.node, p.role, p.nodes]]));
  for (const n of ['fc.w', 'fc.w.copy2', 'fc.w.copy3']) assert.deepEqual(ps.get(n), ['Gemm', 'fc', 'weight', ['fc']], n);
  assert.deepEqual(ps.get('fc.b'), ['Gemm', 'fc', 'bias', ['fc']]);
  assert.deepEqual(ps.get('sa'), ['Add', 'shift', 'other', ['shift']]);
  assert.deepEqual(ps.get('scale'), ['Mul', 'scale_mul', 'other', ['scale_mul']]);
  const c = countModel(m);
  assert.deepEqual(c.layers.map((l) => [l.name, l.parameters]), [['fc', 3 * 12 + 3], ['scale_mul', 3], ['shift', 6]]);
});
