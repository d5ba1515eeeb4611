/** `buildModel`: the zoo's one entry point, by architecture name. */
import { FlipguardError } from '../errors.js';
import type { Model } from '../graph/types.js';
import { alexnet } from './alexnet.js';
import { densenet } from './densenet.js';
import { lenet5 } from './lenet.js';
import { mobilenetv2 } from './mobilenetv2.js';
import type { ZooOptions } from './net.js';
import { resnet18, resnet20 } from './resnet.js';
import { vgg11, vgg16 } from './vgg.js';

/** Architectures `buildModel` knows, in the order the CLI lists them. */
export const ARCHS = ['lenet5', 'alexnet', 'vgg11', 'vgg16', 'resnet20', 'resnet18', 'densenet', 'mobilenetv2'] as const;
export type Arch = (typeof ARCHS)[number];

const BUILDERS: Record<Arch, (opts: ZooOptions) => Model> = { lenet5, alexnet, vgg11, vgg16, resnet20, resnet18, densenet, mobilenetv2 };

/** Whether `name` is one of ARCHS. */
export function isArch(name: string): name is Arch {
  return (ARCHS as readonly string[]).includes(name);
}

/**
 * Builds a freshly initialised zoo model (ONNX opset 17, NCHW): data input `input`
 * ['batch', C, H, W], output `logits` ['batch', classes]; metadata in ZOO_METADATA. The same
 * options (including `seed`, default 0) always give bit-identical weights.
 *
 * Throws a FlipguardError for an unknown architecture, a width ≤ 0, a bad input shape or class
 * count, or an input too small for the architecture (naming the smallest size it accepts).
 */
export function buildModel(arch: Arch | string, opts: ZooOptions): Model {
  if (!isArch(arch)) throw new FlipguardError(`Unknown architecture "${arch}"; use one of ${ARCHS.join(', ')}.`);
  return BUILDERS[arch](opts);
}
