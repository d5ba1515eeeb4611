/**
 * Small graphs with the channel structures that real exported CNNs have and the zoo's plain
 * architectures lack: depthwise and grouped convs, fire modules, inception-style and DenseNet-style
 * channel concatenations. Random weights (zoo initialisation) and random, non-trivial batch norm
 * (scale, shift, mean, variance drawn from a seeded generator), so that every channel computes a
 * different value and a wrong channel offset shows in the logits.
 */
import { buildNet, type NetBuilder } from '../../src/models/net.js';
import type { Model } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';

/** Per-image input shape of every block model. */
export const BLOCK_INPUT = [3, 12, 12] as const;

function bnRelu(net: NetBuilder, x: string, name: string, six = false): string {
  const y = net.batchNorm(x, `${name}_bn`);
  return six ? net.relu6(y, `${name}_relu`) : net.relu(y, `${name}_relu`);
}

function head(net: NetBuilder, x: string): string {
  return net.dense(net.flatten(net.globalAvgPool(x, 'avgpool'), 'flatten'), 'fc', net.classes, { output: 'logits' });
}

/**
 * conv → depthwise 3×3 (with bias, group = C) → pointwise → depthwise stride 2 (no bias) →
 * squeeze-excitation (global pool → 1×1 conv 12 → 6 → ReLU → 1×1 conv 6 → 12 → Sigmoid → Mul; its
 * convs have a 1×1 output map) → head.
 */
function depthwise(net: NetBuilder): string {
  let x = bnRelu(net, net.conv(net.input, 'conv0', { out: 8, kernel: 3, pad: 1 }), 'conv0', true);
  x = bnRelu(net, net.conv(x, 'dw1', { out: 8, kernel: 3, pad: 1, group: 8 }), 'dw1', true);
  x = bnRelu(net, net.conv(x, 'pw1', { out: 12, kernel: 1, bias: false }), 'pw1');
  x = bnRelu(net, net.conv(x, 'dw2', { out: 12, kernel: 3, pad: 1, stride: 2, group: 12, bias: false }), 'dw2', true);
  const s = net.relu(net.conv(net.globalAvgPool(x, 'se.pool'), 'se.fc1', { out: 6, kernel: 1 }), 'se.relu');
  x = net.mul(x, net.sigmoid(net.conv(s, 'se.fc2', { out: 12, kernel: 1 }), 'se.gate'), 'se.scale');
  return head(net, x);
}

/** conv → grouped conv group 2 (8 → 16) → grouped conv group 4 (16 → 16, bias) → head. */
function grouped(net: NetBuilder): string {
  let x = bnRelu(net, net.conv(net.input, 'conv0', { out: 8, kernel: 3, pad: 1, bias: false }), 'conv0');
  x = bnRelu(net, net.conv(x, 'g2', { out: 16, kernel: 3, pad: 1, group: 2, bias: false }), 'g2');
  x = bnRelu(net, net.conv(x, 'g4', { out: 16, kernel: 3, pad: 1, group: 4 }), 'g4');
  return head(net, x);
}

/** SqueezeNet fire module: squeeze 1×1 → (expand 1×1, expand 3×3) → Concat, twice. */
function fire(net: NetBuilder): string {
  let x = net.relu(net.conv(net.input, 'conv0', { out: 16, kernel: 3, pad: 1 }), 'conv0_relu');
  for (const f of ['fire1', 'fire2']) {
    const s = net.relu(net.conv(x, `${f}.squeeze`, { out: 4, kernel: 1 }), `${f}.squeeze_relu`);
    const e1 = net.relu(net.conv(s, `${f}.expand1x1`, { out: 8, kernel: 1 }), `${f}.expand1x1_relu`);
    const e3 = net.relu(net.conv(s, `${f}.expand3x3`, { out: 6, kernel: 3, pad: 1 }), `${f}.expand3x3_relu`);
    x = net.concat([e1, e3], `${f}.concat`);
  }
  return head(net, net.relu(net.conv(x, 'conv_last', { out: 10, kernel: 1 }), 'conv_last_relu'));
}

/** Inception block: four branches (1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3) concatenated, then a conv. */
function inception(net: NetBuilder): string {
  const x = bnRelu(net, net.conv(net.input, 'conv0', { out: 8, kernel: 3, pad: 1, bias: false }), 'conv0');
  const b1 = bnRelu(net, net.conv(x, 'b1', { out: 4, kernel: 1, bias: false }), 'b1');
  const b2 = bnRelu(net, net.conv(bnRelu(net, net.conv(x, 'b2a', { out: 4, kernel: 1, bias: false }), 'b2a'), 'b2b', { out: 6, kernel: 3, pad: 1, bias: false }), 'b2b');
  const b3 = bnRelu(net, net.conv(bnRelu(net, net.conv(x, 'b3a', { out: 2, kernel: 1, bias: false }), 'b3a'), 'b3b', { out: 3, kernel: 5, pad: 2, bias: false }), 'b3b');
  const b4 = bnRelu(net, net.conv(x, 'b4', { out: 5, kernel: 3, pad: 1, bias: false }), 'b4');
  const cat = net.concat([b1, b2, b3, b4], 'inception.concat');
  return head(net, bnRelu(net, net.conv(cat, 'conv_last', { out: 12, kernel: 3, pad: 1, bias: false }), 'conv_last'));
}

/** DenseNet-style: each layer's output is concatenated to its input (three times). */
function denseConcat(net: NetBuilder): string {
  let x = net.conv(net.input, 'conv0', { out: 6, kernel: 3, pad: 1, bias: false });
  for (let l = 1; l <= 3; l++) {
    const y = net.conv(bnRelu(net, x, `layer${l}.pre`), `layer${l}.conv`, { out: 4, kernel: 3, pad: 1, bias: false });
    x = net.concat([x, y], `layer${l}.concat`);
  }
  return head(net, bnRelu(net, x, 'final'));
}

const BODIES = { depthwise, grouped, fire, inception, 'dense-concat': denseConcat } as const;
export type BlockName = keyof typeof BODIES;
export const BLOCKS = Object.keys(BODIES) as BlockName[];

/** Replaces every batch norm's statistics by seeded random ones (scale ±[0.5, 1.5], shift ±0.5, mean ±0.5, variance [0.5, 2]). */
export function randomizeBatchNorm(model: Model, seed: number): Model {
  const inits = new Map(model.graph.initializers);
  const rng = new Rng(seed);
  const u = (lo: number, hi: number): number => lo + (hi - lo) * rng.next();
  for (const n of model.graph.nodes) {
    if (n.opType !== 'BatchNormalization') continue;
    const gen: (() => number)[] = [() => (rng.next() < 0.5 ? -1 : 1) * u(0.5, 1.5), () => u(-0.5, 0.5), () => u(-0.5, 0.5), () => u(0.5, 2)];
    n.inputs.slice(1, 5).forEach((name, i) => {
      const t = inits.get(name)!;
      inits.set(name, { ...t, data: Float32Array.from(t.data as Float32Array, () => gen[i]()) });
    });
  }
  return { ...model, graph: { ...model.graph, initializers: inits } };
}

/** The block model `name` (input 3×12×12, 10 classes), seeded. */
export function blockModel(name: BlockName, seed = 1): Model {
  return randomizeBatchNorm(buildNet(`block-${name}`, { inputShape: BLOCK_INPUT, classes: 10, seed }, `test block: ${name}`, BODIES[name]), seed + 100);
}
