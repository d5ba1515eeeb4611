/**
 * AlexNet for CIFAR-size images: the original AlexNet's five conv layers (96, 256, 384, 384, 256
 * channels, kernels 11, 5, 3, 3, 3) and three dense layers (4096, 4096, classes), with conv1 at
 * stride 4 and batch norm after conv1 and conv2 in place of the original's local response
 * normalisation. No dropout node: the graph is the inference graph.
 *
 *   conv1 96@11×11 s4 p5 → bn1 → ReLU → maxpool 2     32×32 → 8×8 → 4×4
 *   conv2 256@5×5 p2 → bn2 → ReLU → maxpool 2           4×4 → 2×2
 *   conv3 384@3×3 p1 → ReLU
 *   conv4 384@3×3 p1 → ReLU
 *   conv5 256@3×3 p1 → ReLU → maxpool 2                 2×2 → 1×1
 *   flatten (256) → fc1 4096 → ReLU → fc2 4096 → ReLU → fc3 classes
 *
 * This is the configuration that reproduces paper A's Table I exactly at 3×32×32, 10 classes:
 * 21,623,562 parameters counting every stored tensor (conv and dense weights and biases, and batch
 * norm scale, shift, mean and variance; 21,622,858 without the two running statistics), and
 * 42,313,728 conv + dense multiply-accumulates (Table I's 42,316,288 adds one per batch-norm
 * element after pooling, i.e. a model with batch norm after the pool; we keep it right after the
 * conv so that it folds into the conv, which changes no parameter count).
 * In a search over CIFAR AlexNet variants (conv widths, kernels, strides, padding, pool positions,
 * dense widths), this is the only one that keeps AlexNet's own layer widths and lands within 0.5%
 * of both published counts; batch norm on conv1 and conv2 then makes the parameter count exact.
 */
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

export function alexnetBody(net: NetBuilder): string {
  let x = net.conv(net.input, 'conv1', { out: net.channels(96), kernel: 11, stride: 4, pad: 5 });
  x = net.maxPool(net.relu(net.batchNorm(x, 'bn1'), 'relu1'), 'pool1');
  x = net.conv(x, 'conv2', { out: net.channels(256), kernel: 5, pad: 2 });
  x = net.maxPool(net.relu(net.batchNorm(x, 'bn2'), 'relu2'), 'pool2');
  x = net.relu(net.conv(x, 'conv3', { out: net.channels(384), kernel: 3, pad: 1 }), 'relu3');
  x = net.relu(net.conv(x, 'conv4', { out: net.channels(384), kernel: 3, pad: 1 }), 'relu4');
  x = net.relu(net.conv(x, 'conv5', { out: net.channels(256), kernel: 3, pad: 1 }), 'relu5');
  x = net.flatten(net.maxPool(x, 'pool5'), 'flatten');
  x = net.relu(net.dense(x, 'fc1', net.channels(4096)), 'relu6');
  x = net.relu(net.dense(x, 'fc2', net.channels(4096)), 'relu7');
  return net.dense(x, 'fc3', net.classes, { output: 'logits' });
}

/** AlexNet, CIFAR style (paper A's); see the module comment for the layer list and counts. */
export function alexnet(opts: ZooOptions): Model {
  return buildNet('alexnet', opts, 'AlexNet, CIFAR style (5 conv + 3 dense, batch norm after conv1 and conv2), flipguard zoo.', alexnetBody);
}
