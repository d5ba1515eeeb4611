import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlipguardError } from '../src/errors.js';
import { countModel, parameterTensors } from '../src/graph/count.js';
import { getMetadata, type Model } from '../src/graph/types.js';
import { ModelRunner } from '../src/runtime/session.js';
import { ARCHS, ZOO_METADATA, buildModel, vgg11, vgg16, type Arch } from '../src/models/index.js';
import { Rng } from '../src/util/rng.js';

const CIFAR: [number, number, number] = [3, 32, 32];
const MNIST: [number, number, number] = [1, 28, 28];

/** Parameters as PyTorch counts them: every float initializer except batch-norm running statistics. */
function trainableParameters(model: Model): number {
  return parameterTensors(model).filter((p) => p.role !== 'bn_mean' && p.role !== 'bn_var').reduce((a, p) => a + p.numel, 0);
}

function images(n: number, shape: readonly number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

/**
 * Runs `model` on `n` random images and returns the logits, checking their shape and finiteness.
 * With `checkMacs`, also reads every Conv and Gemm output from onnxruntime and recomputes the MACs
 * per image from the shapes onnxruntime produced, independently of countModel's shape inference.
 */
async function runModel(model: Model, n: number, shape: readonly number[], classes: number, checkMacs = false): Promise<{ logits: Float32Array; macs?: number }> {
  const linear = model.graph.nodes.filter((nd) => nd.opType === 'Conv' || nd.opType === 'Gemm');
  const outputs = checkMacs ? ['logits', ...linear.map((nd) => nd.outputs[0]).filter((o) => o !== 'logits')] : undefined;
  const runner = await ModelRunner.create(model, { threads: 2, outputs });
  try {
    const res = await runner.run(images(n, shape, 7), [n, ...shape]);
    const logits = res.logits;
    assert.deepEqual(logits.dims, [n, classes]);
    const data = logits.data as Float32Array;
    assert.ok(data.every(Number.isFinite), 'logits are finite');
    if (!checkMacs) return { logits: data };
    let macs = 0;
    for (const nd of linear) {
      const out = res[nd.outputs[0]].dims.reduce((a, b) => a * b, 1) / n;
      const w = model.graph.initializers.get(nd.inputs[1])!.dims;
      macs += nd.opType === 'Conv' ? out * w.slice(1).reduce((a, b) => a * b, 1) : out * w[1];
    }
    return { logits: data, macs };
  } finally {
    await runner.release();
  }
}

function near(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual / expected - 1) <= relTol, `${what}: ${actual} is not within ${relTol * 100}% of ${expected}`);
}

/** Published sizes: paper A Table I (AlexNet, VGG-11, VGG-16), He et al. (ResNet-20), the common CIFAR ResNet-18. */
const CIFAR_CASES: { arch: Arch; classes: number; params?: number; paramsTol?: number; macs?: number; exact: { trainable: number; all: number; macs: number } }[] = [
  { arch: 'lenet5', classes: 10, exact: { trainable: 62006, all: 62006, macs: 651720 } },
  // Table I: 21,623,562 parameters (every stored tensor), 42,316,288 MACs.
  { arch: 'alexnet', classes: 10, params: 21.6e6, macs: 42.3e6, exact: { trainable: 21622858, all: 21623562, macs: 42313728 } },
  // Table I: 9,228,362 parameters, 153,293,824 MACs.
  { arch: 'vgg11', classes: 10, params: 9.2e6, macs: 153.3e6, exact: { trainable: 9228362, all: 9233866, macs: 152769536 } },
  // Table I: 34,015,396 parameters, 332,756,992 MACs.
  { arch: 'vgg16', classes: 100, params: 34.0e6, macs: 333e6, exact: { trainable: 34015396, all: 34023844, macs: 332480512 } },
  { arch: 'resnet20', classes: 10, params: 0.27e6, paramsTol: 0.02, exact: { trainable: 272474, all: 274042, macs: 40813184 } },
  { arch: 'resnet18', classes: 10, params: 11.17e6, exact: { trainable: 11173962, all: 11183562, macs: 555422720 } },
  { arch: 'densenet', classes: 10, exact: { trainable: 176122, all: 181210, macs: 72365352 } },
];

for (const c of CIFAR_CASES) {
  test(`${c.arch} at CIFAR size: structure, published sizes, runs in onnxruntime`, async () => {
    const model = buildModel(c.arch, { inputShape: CIFAR, classes: c.classes });
    const g = model.graph;
    assert.equal(model.opsetImports[0].version, 17);
    assert.deepEqual(g.inputs.map((i) => [i.name, i.shape]), [['input', ['batch', 3, 32, 32]]]);
    assert.deepEqual(g.outputs.map((o) => [o.name, o.shape]), [['logits', ['batch', c.classes]]]);
    assert.equal(getMetadata(model, ZOO_METADATA.arch), c.arch);
    assert.equal(getMetadata(model, ZOO_METADATA.width), '1');
    assert.equal(getMetadata(model, ZOO_METADATA.inputShape), '[3,32,32]');
    assert.equal(getMetadata(model, ZOO_METADATA.classes), String(c.classes));
    for (const nd of g.nodes) {
      if (nd.opType === 'Gemm') {
        assert.deepEqual(nd.attributes.transB, { type: 'int', value: 1 });
        assert.equal(g.initializers.get(`${nd.name}.weight`)?.dims.length, 2, `${nd.name}.weight is [out, in]`);
        assert.equal(g.nodes[g.nodes.indexOf(nd) - 1].opType === 'Flatten' || g.nodes[g.nodes.indexOf(nd) - 1].opType === 'Relu', true);
      }
      if (nd.opType === 'Conv') assert.equal(nd.inputs[1], `${nd.name}.weight`);
      if (nd.opType === 'BatchNormalization') {
        assert.deepEqual(nd.inputs.slice(1), ['weight', 'bias', 'running_mean', 'running_var'].map((s) => `${nd.name}.${s}`));
      }
    }
    const hasBn = g.nodes.some((nd) => nd.opType === 'BatchNormalization');
    assert.equal(hasBn, c.arch !== 'lenet5', 'batch norm is kept as its own op where the architecture has it');

    const counts = countModel(model);
    const trainable = trainableParameters(model);
    assert.deepEqual({ trainable, all: counts.parameters, macs: counts.macs }, c.exact);
    if (c.params !== undefined) near(c.arch === 'alexnet' ? counts.parameters : trainable, c.params, c.paramsTol ?? 0.005, `${c.arch} parameters`);
    if (c.macs !== undefined) near(counts.macs, c.macs, 0.005, `${c.arch} MACs`);

    const { macs } = await runModel(model, 2, CIFAR, c.classes, true);
    assert.equal(macs, counts.macs, 'MACs from onnxruntime output shapes agree with countModel');
  });
}

test('every architecture builds and runs at MNIST size (1×28×28)', async () => {
  for (const arch of ARCHS) {
    const model = buildModel(arch, { inputShape: MNIST, classes: 10, width: arch === 'vgg16' || arch === 'alexnet' ? 0.25 : 1 });
    assert.deepEqual(model.graph.inputs[0].shape, ['batch', 1, 28, 28]);
    const { macs } = await runModel(model, 2, MNIST, 10, true);
    assert.equal(macs, countModel(model).macs, `${arch}: MACs from onnxruntime shapes agree with countModel`);
  }
  // Full-width AlexNet and VGG at 28×28 keep the CIFAR classifier input (pools round up).
  const alex = buildModel('alexnet', { inputShape: MNIST, classes: 10 });
  assert.deepEqual(alex.graph.initializers.get('fc1.weight')!.dims, [4096, 256]);
  const v = buildModel('vgg11', { inputShape: MNIST, classes: 10 });
  assert.deepEqual(v.graph.initializers.get('fc.weight')!.dims, [10, 512]);
  assert.equal(v.graph.nodes.filter((nd) => nd.opType === 'MaxPool').length, 5);
  // LeNet-5 pads conv1 on 28×28 so both sizes reach the 16×5×5 classifier input.
  const le = buildModel('lenet5', { inputShape: MNIST, classes: 10 });
  assert.deepEqual(le.graph.initializers.get('fc1.weight')!.dims, [120, 400]);
  assert.equal(countModel(le).parameters, 61706);
});

test('the same seed gives identical weights, another seed different conv and dense weights', () => {
  for (const arch of ['lenet5', 'resnet20', 'densenet'] as const) {
    const a = buildModel(arch, { inputShape: CIFAR, classes: 10, seed: 11 });
    const b = buildModel(arch, { inputShape: CIFAR, classes: 10, seed: 11 });
    const c = buildModel(arch, { inputShape: CIFAR, classes: 10, seed: 12 });
    assert.deepEqual([...a.graph.initializers.keys()], [...b.graph.initializers.keys()]);
    for (const p of parameterTensors(a)) {
      const t = a.graph.initializers.get(p.name)!;
      assert.deepEqual(b.graph.initializers.get(p.name)!.data, t.data, `${arch} ${p.name} same seed`);
      const other = c.graph.initializers.get(p.name)!.data;
      // random: conv and dense weights, dense biases; constant: conv biases and batch norm
      if (p.role === 'weight' || (p.role === 'bias' && p.op === 'Gemm')) assert.notDeepEqual(other, t.data, `${arch} ${p.name} differs for another seed`);
      else assert.deepEqual(other, t.data, `${arch} ${p.name} is a constant`);
    }
    assert.equal(getMetadata(a, ZOO_METADATA.seed), '11');
  }
  const d0 = buildModel('lenet5', { inputShape: MNIST, classes: 10 });
  const d1 = buildModel('lenet5', { inputShape: MNIST, classes: 10, seed: 0 });
  assert.deepEqual(d0.graph.initializers.get('conv1.weight')!.data, d1.graph.initializers.get('conv1.weight')!.data, 'default seed is 0');
});

test('initialisation: Kaiming normal (fan_out) convs, PyTorch-default dense layers, identity batch norm', () => {
  const m = buildModel('resnet20', { inputShape: CIFAR, classes: 10, seed: 3 });
  const w = m.graph.initializers.get('layer3.1.conv1.weight')!.data as Float32Array; // [64, 64, 3, 3]
  const mean = w.reduce((a, v) => a + v, 0) / w.length;
  const std = Math.sqrt(w.reduce((a, v) => a + (v - mean) ** 2, 0) / w.length);
  near(std, Math.sqrt(2 / (64 * 9)), 0.03, 'conv weight std');
  assert.ok(Math.abs(mean) < 0.002);
  const fc = m.graph.initializers.get('fc.weight')!.data as Float32Array; // [10, 64]
  const fb = m.graph.initializers.get('fc.bias')!.data as Float32Array;
  for (const v of [...fc, ...fb]) assert.ok(Math.abs(v) <= 1 / 8);
  assert.ok(Math.max(...fc) > 0.1 && Math.min(...fc) < -0.1);
  const bn = (s: string) => [...(m.graph.initializers.get(`layer2.0.bn1.${s}`)!.data as Float32Array)];
  assert.deepEqual([bn('weight')[0], bn('bias')[0], bn('running_mean')[0], bn('running_var')[0]], [1, 0, 0, 1]);
  const le = buildModel('lenet5', { inputShape: CIFAR, classes: 10 });
  assert.ok((le.graph.initializers.get('conv1.bias')!.data as Float32Array).every((v) => v === 0), 'conv biases start at 0');
});

test('the width multiplier scales conv channels and hidden dense units, not the classes', async () => {
  const r = buildModel('resnet20', { inputShape: CIFAR, classes: 10, width: 0.5 });
  assert.deepEqual(r.graph.initializers.get('conv1.weight')!.dims, [8, 3, 3, 3]);
  assert.deepEqual(r.graph.initializers.get('layer3.2.conv2.weight')!.dims, [32, 32, 3, 3]);
  assert.deepEqual(r.graph.initializers.get('fc.weight')!.dims, [10, 32]);
  assert.equal(getMetadata(r, ZOO_METADATA.width), '0.5');
  const r2 = buildModel('resnet20', { inputShape: CIFAR, classes: 10, width: 2 });
  near(trainableParameters(r2), 4 * 272474, 0.01, 'ResNet-20 ×2 has about 4× the parameters');
  const v = buildModel('vgg11', { inputShape: CIFAR, classes: 10, width: 0.5 });
  assert.deepEqual(v.graph.initializers.get('conv1.weight')!.dims, [32, 3, 3, 3]);
  assert.deepEqual(v.graph.initializers.get('fc.weight')!.dims, [10, 256]);
  const a = buildModel('alexnet', { inputShape: CIFAR, classes: 10, width: 0.5 });
  assert.deepEqual(a.graph.initializers.get('fc2.weight')!.dims, [2048, 2048]);
  assert.deepEqual(a.graph.initializers.get('fc3.weight')!.dims, [10, 2048]);
  const d = buildModel('densenet', { inputShape: CIFAR, classes: 10, width: 2 });
  assert.deepEqual(d.graph.initializers.get('block1.layer1.conv2.weight')!.dims, [24, 96, 3, 3]);
  await runModel(d, 1, CIFAR, 10);
});

test('VGG heads and conv biases are options; defaults follow paper A', () => {
  assert.ok(!vgg11({ inputShape: CIFAR, classes: 10 }).graph.initializers.has('conv1.bias'));
  assert.ok(vgg16({ inputShape: CIFAR, classes: 100, width: 0.125 }).graph.initializers.has('conv1.bias'));
  const big = vgg11({ inputShape: CIFAR, classes: 10, head: 'mlp4096', convBias: true, width: 0.125 });
  assert.deepEqual(big.graph.nodes.filter((n) => n.opType === 'Gemm').map((n) => n.name), ['fc1', 'fc2', 'fc3']);
  assert.ok(big.graph.initializers.has('conv8.bias'));
  assert.throws(() => vgg16({ inputShape: CIFAR, classes: 10, head: 'wide' as never }), FlipguardError);
});

/** Asserts `fn` throws a one-sentence FlipguardError containing every needle. */
function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, /\.$/);
    return true;
  });
}

test('clear errors: unknown architecture, bad width, bad shape or classes, input too small', () => {
  assertFlip(() => buildModel('resnet50', { inputShape: CIFAR, classes: 10 }), 'resnet50', ARCHS.join(', '));
  assertFlip(() => buildModel('vgg11', { inputShape: CIFAR, classes: 10, width: 0 }), 'width', '0');
  assertFlip(() => buildModel('lenet5', { inputShape: CIFAR, classes: 10, width: -1 }), 'width');
  assertFlip(() => buildModel('lenet5', { inputShape: [3, 32] as never, classes: 10 }), 'input shape');
  assertFlip(() => buildModel('lenet5', { inputShape: CIFAR, classes: 0 }), 'class');
  assertFlip(() => buildModel('lenet5', { inputShape: CIFAR, classes: 10, seed: 1.5 }), 'seed');
  assertFlip(() => buildModel('lenet5', { inputShape: [1, 8, 8], classes: 10 }), '1×8×8', 'lenet5', 'conv2', '13×13');
  assertFlip(() => buildModel('densenet', { inputShape: [3, 3, 3], classes: 10 }), 'densenet', 'trans2.pool', '4×4');
  // VGG and ResNet run on tiny inputs (pools on a 1×1 map are left out; the head is global pooling).
  for (const arch of ['vgg11', 'resnet20'] as const) buildModel(arch, { inputShape: [1, 8, 8], classes: 10, width: 0.125 });
});
