/**
 * LeNet-5 (LeCun et al. 1998) in its common modern form.
 *
 * conv1 6@5×5 (padding 2 when the input is 28×28, so MNIST gets the 32×32 geometry of the paper;
 * no padding otherwise) → ReLU → maxpool 2 → conv2 16@5×5 → ReLU → maxpool 2 → flatten →
 * fc1 120 → ReLU → fc2 84 → ReLU → fc3 classes.
 *
 * Activations are ReLU and subsampling is max pooling (the original used scaled tanh and trainable
 * average subsampling); conv and dense layers have biases. At 1×28×28 and 10 classes: 61,706
 * parameters; at 3×32×32: 62,006.
 */
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

export function lenet5Body(net: NetBuilder): string {
  const [, h, w] = net.inputShape;
  const pad = h === 28 && w === 28 ? 2 : 0;
  let x = net.conv(net.input, 'conv1', { out: net.channels(6), kernel: 5, pad });
  x = net.maxPool(net.relu(x, 'relu1'), 'pool1');
  x = net.conv(x, 'conv2', { out: net.channels(16), kernel: 5 });
  x = net.maxPool(net.relu(x, 'relu2'), 'pool2');
  x = net.flatten(x, 'flatten');
  x = net.relu(net.dense(x, 'fc1', net.channels(120)), 'relu3');
  x = net.relu(net.dense(x, 'fc2', net.channels(84)), 'relu4');
  return net.dense(x, 'fc3', net.classes, { output: 'logits' });
}

/** LeNet-5 (ReLU, max pooling); see the module comment for the layer list. */
export function lenet5(opts: ZooOptions): Model {
  return buildNet('lenet5', opts, 'LeNet-5 (ReLU, max pooling), flipguard zoo.', lenet5Body);
}
