/**
 * ResNets for CIFAR-size images (He et al. 2016), post-activation basic blocks:
 *
 *   block(x) = ReLU( bn2(conv2( ReLU(bn1(conv1 3×3 (stride s)(x))) )) + shortcut(x) )
 *
 * The shortcut is the identity, or — when the stride or the channel count changes — a 1×1 conv
 * with stride s and no bias followed by batch norm (option B, `downsample.0` / `downsample.1`).
 * All convs are bias-free (batch norm follows each). The head is global average pooling, flatten
 * and one dense layer `fc`.
 *
 * - ResNet-20: stem conv1 16@3×3 → bn1 → ReLU; stages of 3 blocks with 16, 32, 64 channels
 *   (strides 1, 2, 2); fc 64 → classes. 3×32×32, 10 classes: 272,474 trainable parameters
 *   (269,722 with option A's parameter-free shortcuts, the "0.27 M" of the paper), 40.8 M MACs.
 * - ResNet-18 (CIFAR variant): stem conv1 64@3×3 stride 1 → bn1 → ReLU, no max pool; stages of 2
 *   blocks with 64, 128, 256, 512 channels (strides 1, 2, 2, 2); fc 512 → classes.
 *   3×32×32, 10 classes: 11,173,962 trainable parameters, 555.4 M MACs.
 *
 * Names follow torchvision: conv1, bn1, relu, layer1.0.conv1, layer1.0.bn1, layer1.0.relu1,
 * layer1.0.conv2, layer1.0.bn2, layer1.0.downsample.0, layer1.0.downsample.1, layer1.0.add,
 * layer1.0.relu2, …, avgpool, flatten, fc.
 */
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

function basicBlock(net: NetBuilder, x: string, name: string, out: number, stride: number): string {
  const inC = net.shape(x)[0];
  let y = net.conv(x, `${name}.conv1`, { out, kernel: 3, stride, pad: 1, bias: false });
  y = net.relu(net.batchNorm(y, `${name}.bn1`), `${name}.relu1`);
  y = net.conv(y, `${name}.conv2`, { out, kernel: 3, pad: 1, bias: false });
  y = net.batchNorm(y, `${name}.bn2`);
  let shortcut = x;
  if (stride !== 1 || inC !== out) {
    shortcut = net.conv(x, `${name}.downsample.0`, { out, kernel: 1, stride, bias: false });
    shortcut = net.batchNorm(shortcut, `${name}.downsample.1`);
  }
  return net.relu(net.add(y, shortcut, `${name}.add`), `${name}.relu2`);
}

function resnetBody(stem: number, stages: number[], blocks: number) {
  return (net: NetBuilder): string => {
    let x = net.conv(net.input, 'conv1', { out: net.channels(stem), kernel: 3, pad: 1, bias: false });
    x = net.relu(net.batchNorm(x, 'bn1'), 'relu');
    stages.forEach((c, s) => {
      for (let b = 0; b < blocks; b++) {
        x = basicBlock(net, x, `layer${s + 1}.${b}`, net.channels(c), s > 0 && b === 0 ? 2 : 1);
      }
    });
    x = net.flatten(net.globalAvgPool(x, 'avgpool'), 'flatten');
    return net.dense(x, 'fc', net.classes, { output: 'logits' });
  };
}

/** ResNet-20 for CIFAR (3 stages × 3 basic blocks, 16/32/64 channels, option-B projection shortcuts). */
export function resnet20(opts: ZooOptions): Model {
  return buildNet('resnet20', opts, 'ResNet-20, CIFAR style (16/32/64 channels, 3 basic blocks per stage, 1x1 conv + BN projection shortcuts), flipguard zoo.',
    resnetBody(16, [16, 32, 64], 3));
}

/** ResNet-18, CIFAR variant (3×3 stem, no max pool, 64/128/256/512 channels × 2 basic blocks). */
export function resnet18(opts: ZooOptions): Model {
  return buildNet('resnet18', opts, 'ResNet-18, CIFAR variant (3x3 stem, no max pool, 64/128/256/512 channels, 2 basic blocks per stage), flipguard zoo.',
    resnetBody(64, [64, 128, 256, 512], 2));
}
