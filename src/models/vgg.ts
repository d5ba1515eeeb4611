/**
 * VGG-11 and VGG-16 with batch norm (Simonyan & Zisserman configurations A and D), CIFAR style:
 * every conv is 3×3, padding 1, followed by batch norm and ReLU; "M" is a 2×2 max pool. After the
 * five pools a 32×32 input is 1×1×512, which is flattened into the classifier.
 *
 *   A (VGG-11): 64 M 128 M 256 256 M 512 512 M 512 512 M
 *   D (VGG-16): 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
 *
 * Heads and conv biases follow paper A's Table I, whose counts they reproduce exactly (trainable
 * parameters, i.e. without batch-norm running statistics):
 * - VGG-11: convs without bias, one dense layer 512 → classes (`fc`). CIFAR-10: 9,228,362
 *   parameters, 152,769,536 conv + dense MACs (Table I: 153,293,824, +0.34%; no
 *   per-element accounting of batch norm, bias or pooling explains the remaining 524,288).
 *   A 512 → 512 → 512 → classes head would give 9.76 M, a 4096-wide one 28.5 M.
 * - VGG-16: convs with bias, head 512 → 4096 → ReLU → 4096 → ReLU → classes (`fc1`–`fc3`).
 *   CIFAR-100: 34,015,396 parameters and 332,480,512 conv + dense MACs (Table I: 332,756,992 =
 *   ours + one per batch-norm element). A single linear head would give 14.8 M.
 * Both heads and the bias choice are options of `vgg` (`head`, `convBias`). No dropout nodes.
 *
 * Small inputs: pools use ceil_mode where the map has odd size and a pool on a 1×1 map is left
 * out (see NetBuilder.maxPool), so 28×28 MNIST images run: 28 → 14 → 7 → 4 → 2 → 1.
 * Names: conv1…convN, bn1…bnN, relu1…reluN, pool1…pool5, flatten, then fc or fc1…fc3.
 */
import { check } from '../errors.js';
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

export type VggDepth = 11 | 16;
const CONFIGS: Record<VggDepth, (number | 'M')[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

export interface VggOptions extends ZooOptions {
  /**
   * Classifier: `linear` = one dense layer (features → classes); `mlp4096` = features → 4096 →
   * 4096 → classes with ReLU. Default: `linear` for VGG-11, `mlp4096` for VGG-16 (paper A).
   */
  head?: 'linear' | 'mlp4096';
  /** Whether convs have a bias before their batch norm. Default: false for VGG-11, true for VGG-16 (paper A). */
  convBias?: boolean;
}

function vggBody(depth: VggDepth, head: 'linear' | 'mlp4096', convBias: boolean) {
  return (net: NetBuilder): string => {
    let x = net.input;
    let conv = 0, pool = 0;
    for (const item of CONFIGS[depth]) {
      if (item === 'M') {
        x = net.maxPool(x, `pool${++pool}`);
      } else {
        const i = ++conv;
        x = net.conv(x, `conv${i}`, { out: net.channels(item), kernel: 3, pad: 1, bias: convBias });
        x = net.relu(net.batchNorm(x, `bn${i}`), `relu${i}`);
      }
    }
    x = net.flatten(x, 'flatten');
    if (head === 'linear') return net.dense(x, 'fc', net.classes, { output: 'logits' });
    x = net.relu(net.dense(x, 'fc1', net.channels(4096)), `relu${conv + 1}`);
    x = net.relu(net.dense(x, 'fc2', net.channels(4096)), `relu${conv + 2}`);
    return net.dense(x, 'fc3', net.classes, { output: 'logits' });
  };
}

/** VGG-`depth` with batch norm, CIFAR style; defaults reproduce paper A (see the module comment). */
export function vgg(depth: VggDepth, opts: VggOptions): Model {
  const head = opts.head ?? (depth === 11 ? 'linear' : 'mlp4096');
  check(head === 'linear' || head === 'mlp4096', `The VGG head "${String(head)}" is unknown; use linear or mlp4096.`);
  const convBias = opts.convBias ?? depth === 16;
  const arch = `vgg${depth}`;
  const doc = `VGG-${depth} with batch norm, CIFAR style (${head === 'linear' ? 'single dense classifier' : '4096-4096 classifier'}, conv bias ${convBias ? 'on' : 'off'}), flipguard zoo.`;
  return buildNet(arch, opts, doc, vggBody(depth, head, convBias));
}

/** VGG-11-BN (configuration A), paper A's CIFAR-10 model by default. */
export function vgg11(opts: VggOptions): Model {
  return vgg(11, opts);
}

/** VGG-16-BN (configuration D), paper A's CIFAR-100 model by default. */
export function vgg16(opts: VggOptions): Model {
  return vgg(16, opts);
}
