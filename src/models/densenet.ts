/**
 * A small DenseNet-BC (Huang et al. 2017) for CIFAR-size images: depth 40, growth rate k = 12,
 * three dense blocks of 6 bottleneck layers, compression 0.5. Pre-activation ordering
 * (BN → ReLU → conv) throughout; convs have no bias.
 *
 *   conv0 2k=24@3×3 p1
 *   block b (b = 1..3), layer l (l = 1..6), on the running concatenation x:
 *     blockb.layerl: bn1 → relu1 → conv1 4k=48@1×1 → bn2 → relu2 → conv2 k=12@3×3 p1
 *     blockb.layerl.concat = Concat(x, new 12 channels)          (channels: +12 per layer)
 *   transb (after blocks 1 and 2): bn → relu → conv 1×1 to ⌊C/2⌋ → pool (2×2 average, stride 2)
 *   bn_final → relu_final → avgpool (global) → flatten → fc C → classes
 *
 * Channels: 24 → 96 → 48 → 120 → 60 → 132 (classifier input). 3×32×32, 10 classes: 176,122
 * trainable parameters, 72.4 M MACs. The width multiplier scales the growth rate (k = round(12·width)).
 * The two transitions need maps of at least 2×2, so inputs must be at least 4×4.
 */
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

const LAYERS_PER_BLOCK = 6;
const BLOCKS = 3;

function densenetBody(net: NetBuilder): string {
  const k = net.channels(12);
  let x = net.conv(net.input, 'conv0', { out: 2 * k, kernel: 3, pad: 1, bias: false });
  for (let b = 1; b <= BLOCKS; b++) {
    for (let l = 1; l <= LAYERS_PER_BLOCK; l++) {
      const n = `block${b}.layer${l}`;
      let y = net.relu(net.batchNorm(x, `${n}.bn1`), `${n}.relu1`);
      y = net.conv(y, `${n}.conv1`, { out: 4 * k, kernel: 1, bias: false });
      y = net.relu(net.batchNorm(y, `${n}.bn2`), `${n}.relu2`);
      y = net.conv(y, `${n}.conv2`, { out: k, kernel: 3, pad: 1, bias: false });
      x = net.concat([x, y], `${n}.concat`);
    }
    if (b < BLOCKS) {
      const t = `trans${b}`;
      const c = Math.floor(net.shape(x)[0] / 2);
      let y = net.relu(net.batchNorm(x, `${t}.bn`), `${t}.relu`);
      y = net.conv(y, `${t}.conv`, { out: c, kernel: 1, bias: false });
      x = net.avgPool(y, `${t}.pool`, 2, 2);
    }
  }
  x = net.relu(net.batchNorm(x, 'bn_final'), 'relu_final');
  x = net.flatten(net.globalAvgPool(x, 'avgpool'), 'flatten');
  return net.dense(x, 'fc', net.classes, { output: 'logits' });
}

/** DenseNet-BC-40 (k = 12, 3 blocks × 6 bottleneck layers, compression 0.5); see the module comment. */
export function densenet(opts: ZooOptions): Model {
  return buildNet('densenet', opts, 'DenseNet-BC-40 (growth 12, 3 dense blocks of 6 bottleneck layers, compression 0.5, BN-ReLU-conv), flipguard zoo.', densenetBody);
}
