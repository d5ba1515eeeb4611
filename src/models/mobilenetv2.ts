/**
 * A small MobileNetV2 (Sandler et al. 2018) for MNIST/CIFAR-size images: inverted residual blocks
 * with depthwise 3×3 convolutions, ReLU6 written as Clip(x, 0, 6), batch norm after every conv,
 * convs without bias.
 *
 *   conv0 32@3×3 p1 → bn0 → relu0 (ReLU6)
 *   blocks (t = expansion, c = output channels, n = repeats, s = stride of the first repeat):
 *     t 1 c 16 n 1 s 1 · t 6 c 24 n 2 s 2 · t 6 c 32 n 2 s 2 · t 6 c 64 n 2 s 2 · t 6 c 96 n 1 s 1
 *   blockI: [expand 1×1 to t·C_in → bn → ReLU6 (t > 1)] → dw 3×3 stride s, group = t·C_in → bn →
 *           ReLU6 → project 1×1 to c → bn [→ Add(input) when s = 1 and C_in = c]
 *   conv_last 640@1×1 → bn → ReLU6 → avgpool (global) → flatten → fc → classes
 *
 * This is the ImageNet network cut to five stages (one stride-2 stem and the 160/320 stages
 * dropped) so that 28×28 inputs keep a 4×4 map at the end; the width multiplier scales every
 * channel count (nearest integer). Width 0.5 at 1×28×28, 10 classes: 74,186 parameters (70,058
 * trainable; the rest are batch-norm running statistics), 2.63 M MACs per image.
 * Names follow torchvision where it has them: `blocks.I.expand`, `.expand_bn`, `.dw`, `.dw_bn`,
 * `.project`, `.project_bn`, `.add`.
 */
import type { Model } from '../graph/types.js';
import { buildNet, type NetBuilder, type ZooOptions } from './net.js';

/** [expansion t, output channels c, repeats n, first stride s] per stage. */
const STAGES: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2], [6, 96, 1, 1],
];

function invertedResidual(net: NetBuilder, x: string, name: string, t: number, out: number, stride: number): string {
  const inC = net.shape(x)[0];
  const hidden = inC * t;
  let y = x;
  if (t !== 1) {
    y = net.conv(y, `${name}.expand`, { out: hidden, kernel: 1, bias: false });
    y = net.relu6(net.batchNorm(y, `${name}.expand_bn`), `${name}.expand_relu`);
  }
  y = net.conv(y, `${name}.dw`, { out: hidden, kernel: 3, stride, pad: 1, group: hidden, bias: false });
  y = net.relu6(net.batchNorm(y, `${name}.dw_bn`), `${name}.dw_relu`);
  y = net.conv(y, `${name}.project`, { out, kernel: 1, bias: false });
  y = net.batchNorm(y, `${name}.project_bn`);
  return stride === 1 && inC === out ? net.add(y, x, `${name}.add`) : y;
}

function mobilenetv2Body(net: NetBuilder): string {
  let x = net.conv(net.input, 'conv0', { out: net.channels(32), kernel: 3, pad: 1, bias: false });
  x = net.relu6(net.batchNorm(x, 'bn0'), 'relu0');
  let i = 0;
  for (const [t, c, n, s] of STAGES) {
    for (let r = 0; r < n; r++) x = invertedResidual(net, x, `blocks.${i++}`, t, net.channels(c), r === 0 ? s : 1);
  }
  x = net.conv(x, 'conv_last', { out: net.channels(640), kernel: 1, bias: false });
  x = net.relu6(net.batchNorm(x, 'bn_last'), 'relu_last');
  x = net.flatten(net.globalAvgPool(x, 'avgpool'), 'flatten');
  return net.dense(x, 'fc', net.classes, { output: 'logits' });
}

/** MobileNetV2, cut to five stages for small images (see the module comment). */
export function mobilenetv2(opts: ZooOptions): Model {
  return buildNet('mobilenetv2', opts, 'MobileNetV2 for small images (inverted residual blocks with depthwise 3x3 convs, ReLU6, five stages, 640-channel last conv), flipguard zoo.', mobilenetv2Body);
}
