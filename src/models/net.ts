/**
 * The layer vocabulary the zoo builders are written in: a GraphBuilder that also tracks each
 * value's per-image shape, creates the parameters of every layer with the standard initialisation
 * (see init.ts), and names nodes and initializers the PyTorch way (`conv1`, `conv1.weight`,
 * `bn1.running_var`, `fc.bias`, …).
 *
 * Layout is NCHW. Shapes here are per image ([C, H, W] for feature maps, [F] after Flatten); the
 * graph's data input is `input` ['batch', C, H, W] and its output `logits` ['batch', classes].
 */
import { FlipguardError, check, opt } from '../errors.js';
import { A, GraphBuilder, makeModel } from '../graph/builder.js';
import { elementSize } from '../graph/dtype.js';
import { MAX_MODEL_BYTES, MODEL_LIMIT_TEXT, formatBytes } from '../graph/limits.js';
import { DataType, type Attribute, type Model } from '../graph/types.js';
import { constantValues, kaimingNormalFanOut, linearDefault } from './init.js';
import { DEFAULT_SAMPLE_SEED } from '../defaults.js';

/** Options every zoo builder takes. */
export interface ZooOptions {
  /** Per-image input shape [channels, height, width], e.g. [3, 32, 32] for CIFAR, [1, 28, 28] for MNIST. */
  inputShape: readonly [number, number, number] | readonly number[];
  /** Number of classes (length of the logits vector). */
  classes: number;
  /**
   * Channel multiplier applied to every conv layer's output channels and every hidden dense
   * layer's units (rounded to the nearest integer, at least 1). Default 1.
   */
  width?: number;
  /** Seed of the weight initialisation (a 32-bit integer). Default 0. */
  seed?: number;
}

/** Model metadata keys the zoo sets (metadata_props). */
export const ZOO_METADATA = {
  /** Architecture name as given to `buildModel` (`vgg11`, …). */
  arch: 'flipguard.arch',
  /** Width multiplier, as a decimal number. */
  width: 'flipguard.width',
  /** Per-image input shape as JSON, e.g. `[3,32,32]`. */
  inputShape: 'flipguard.input_shape',
  /** Number of classes, as a decimal integer. */
  classes: 'flipguard.classes',
  /** Initialisation seed, as a decimal integer. */
  seed: 'flipguard.seed',
} as const;

/** Raised inside a builder when a layer gets a feature map too small for it (internal). */
export class InputTooSmall extends Error {
  constructor(readonly layer: string, readonly detail: string) {
    super(`${layer}: ${detail}`);
    this.name = 'InputTooSmall';
  }
}

export interface ConvOptions {
  /** Output channels (already scaled by the width multiplier). */
  out: number;
  kernel: number;
  stride?: number;
  /** Symmetric zero padding on each spatial side. Default 0. */
  pad?: number;
  group?: number;
  /** Whether the conv has a bias (`<name>.bias`). Default true. */
  bias?: boolean;
}

/** Checks and normalises the options every builder shares. */
export function checkZooOptions(arch: string, opts: ZooOptions): { inputShape: [number, number, number]; classes: number; width: number; seed: number } {
  const shape = opts.inputShape as readonly number[];
  check(Array.isArray(shape) && shape.length === 3 && shape.every((d) => Number.isInteger(d) && d >= 1),
    () => `The input shape ${JSON.stringify(shape)} for ${arch} is not [channels, height, width] with three positive whole numbers; pass e.g. [3, 32, 32].`);
  check(Number.isInteger(opts.classes) && opts.classes >= 1,
    () => `The class count ${opts.classes} for ${arch} is not a whole number ≥ 1; pass the number of classes of the dataset (e.g. 10).`);
  const width = opts.width ?? 1;
  check(typeof width === 'number' && Number.isFinite(width) && width > 0,
    () => `The width multiplier ${width} for ${arch} must be a number > 0; use 1 for the standard channel counts.`);
  const seed = opts.seed ?? DEFAULT_SAMPLE_SEED;
  check(Number.isInteger(seed) && seed >= -2147483648 && seed < 4294967296,
    () => `The seed ${seed} for ${arch} is not a 32-bit whole number; pass an integer in [-2^31, 2^32).`);
  return { inputShape: [shape[0], shape[1], shape[2]], classes: opts.classes, width, seed };
}

/**
 * A graph under construction plus per-image shapes. With `dry`, layers only propagate shapes
 * (no parameter values are drawn); builders use this to find the smallest input they accept.
 */
export class NetBuilder {
  readonly g: GraphBuilder;
  /** The data input's name. */
  readonly input = 'input';
  private readonly shapes = new Map<string, number[]>();

  constructor(
    readonly arch: string,
    readonly inputShape: readonly [number, number, number],
    readonly classes: number,
    readonly width: number,
    readonly seed: number,
    readonly dry = false,
  ) {
    this.g = new GraphBuilder(arch);
    this.g.input(this.input, ['batch', ...inputShape]);
    this.shapes.set(this.input, [...inputShape]);
  }

  /** The per-image shape of value `x`. */
  shape(x: string): number[] {
    const s = this.shapes.get(x);
    if (!s) throw new Error(`zoo: no shape recorded for value ${x}`);
    return s;
  }

  /** Parameters declared so far (elements) and their bytes; in a dry run nothing was allocated. */
  size(): { parameters: number; bytes: number } {
    let parameters = 0, bytes = 0;
    for (const t of this.g.initializers.values()) {
      const n = t.dims.reduce((a, d) => a * d, 1);
      parameters += n;
      bytes += n * elementSize(t.dataType);
    }
    return { parameters, bytes };
  }

  /** `base` channels scaled by the width multiplier (nearest integer, at least 1). */
  channels(base: number): number {
    return Math.max(1, Math.round(base * this.width));
  }

  private param(name: string, dims: number[], values: () => Float32Array): string {
    const data = this.dry ? new Float32Array(0) : values();
    const n = this.g.init(name, dims, data);
    if (n !== name) throw new Error(`zoo: initializer name ${name} used twice`);
    return n;
  }

  private add1(opType: string, inputs: string[], attributes: Record<string, Attribute>, name: string, shape: number[], output?: string): string {
    const [out] = this.g.node(opType, inputs, attributes, { name, outputs: output ? [output] : undefined });
    this.shapes.set(out, shape);
    return out;
  }

  private map(x: string, layer: string): [number, number, number] {
    const s = this.shape(x);
    if (s.length !== 3) throw new Error(`zoo: ${layer} needs a feature map, got shape [${s.join(', ')}]`);
    return s as [number, number, number];
  }

  /** Conv with weight `<name>.weight` [out, in/group, k, k] (Kaiming normal, fan_out) and optional bias `<name>.bias` (zeros). */
  conv(x: string, name: string, o: ConvOptions): string {
    const [c, h, w] = this.map(x, name);
    const stride = o.stride ?? 1, pad = o.pad ?? 0, group = o.group ?? 1, k = o.kernel;
    if (h + 2 * pad < k || w + 2 * pad < k) {
      throw new InputTooSmall(name, `its ${k}×${k} kernel does not fit the ${h}×${w} feature map${pad ? ` padded by ${pad}` : ''}`);
    }
    const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
    const wdims: [number, number, number, number] = [o.out, c / group, k, k];
    const weight = this.param(`${name}.weight`, wdims, () => kaimingNormalFanOut(this.seed, `${name}.weight`, wdims));
    const inputs = [x, weight];
    if (o.bias ?? true) inputs.push(this.param(`${name}.bias`, [o.out], () => constantValues(o.out, 0)));
    const attrs: Record<string, Attribute> = {
      kernel_shape: A.is([k, k]), strides: A.is([stride, stride]), pads: A.is([pad, pad, pad, pad]), dilations: A.is([1, 1]), group: A.i(group),
    };
    return this.add1('Conv', inputs, attrs, name, [o.out, oh, ow]);
  }

  /** Inference-mode BatchNormalization with `<name>.weight` (gamma 1), `.bias` (beta 0), `.running_mean` (0), `.running_var` (1). */
  batchNorm(x: string, name: string, epsilon = 1e-5): string {
    const s = this.shape(x);
    const c = s[0];
    const scale = this.param(`${name}.weight`, [c], () => constantValues(c, 1));
    const bias = this.param(`${name}.bias`, [c], () => constantValues(c, 0));
    const mean = this.param(`${name}.running_mean`, [c], () => constantValues(c, 0));
    const variance = this.param(`${name}.running_var`, [c], () => constantValues(c, 1));
    return this.add1('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: A.f(epsilon), momentum: A.f(0.9) }, name, [...s]);
  }

  relu(x: string, name: string): string {
    return this.add1('Relu', [x], {}, name, [...this.shape(x)]);
  }

  private readonly constants = new Map<number, string>();

  /** A float32 scalar held in a Constant node (not a parameter, not a fault target), one per value. */
  private scalar(value: number): string {
    let name = this.constants.get(value);
    if (!name) {
      name = this.g.fresh(`const_${value}`);
      this.g.node('Constant', [], { value: A.t({ name, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(value) }) }, { name, outputs: [name] });
      this.constants.set(value, name);
    }
    return name;
  }

  /** ReLU6, min(max(x, 0), 6), as Clip with Constant bounds (PyTorch's nn.ReLU6 exports the same way). */
  relu6(x: string, name: string): string {
    return this.add1('Clip', [x, this.scalar(0), this.scalar(6)], {}, name, [...this.shape(x)]);
  }

  /**
   * Max pooling with a k×k window and stride s. Small maps are handled so that deep nets run on
   * small images: an axis shorter than the window is pooled with a window (and stride) equal to
   * its length; when a window does not tile an axis exactly, ceil_mode keeps the last, partial
   * window (so 7 → 4 rather than 3); a map that is already 1×1 is passed through with no node.
   */
  maxPool(x: string, name: string, kernel = 2, stride = 2): string {
    const [c, h, w] = this.map(x, name);
    if (h === 1 && w === 1) return x;
    const kh = Math.min(kernel, h), kw = Math.min(kernel, w);
    const sh = h < kernel ? 1 : stride, sw = w < kernel ? 1 : stride;
    const ceil = (h - kh) % sh !== 0 || (w - kw) % sw !== 0;
    const oh = Math.ceil((h - kh) / sh) + 1, ow = Math.ceil((w - kw) / sw) + 1;
    const attrs: Record<string, Attribute> = { kernel_shape: A.is([kh, kw]), strides: A.is([sh, sw]), pads: A.is([0, 0, 0, 0]) };
    if (ceil) attrs.ceil_mode = A.i(1);
    return this.add1('MaxPool', [x], attrs, name, [c, oh, ow]);
  }

  /** Average pooling with a k×k window and stride s (floor mode, no padding). */
  avgPool(x: string, name: string, kernel = 2, stride = 2): string {
    const [c, h, w] = this.map(x, name);
    if (h < kernel || w < kernel) throw new InputTooSmall(name, `its ${kernel}×${kernel} window does not fit the ${h}×${w} feature map`);
    const oh = Math.floor((h - kernel) / stride) + 1, ow = Math.floor((w - kernel) / stride) + 1;
    return this.add1('AveragePool', [x], { kernel_shape: A.is([kernel, kernel]), strides: A.is([stride, stride]), pads: A.is([0, 0, 0, 0]) }, name, [c, oh, ow]);
  }

  /** Mean over each channel's whole map: [C, H, W] → [C, 1, 1]. */
  globalAvgPool(x: string, name: string): string {
    const [c] = this.map(x, name);
    return this.add1('GlobalAveragePool', [x], {}, name, [c, 1, 1]);
  }

  /** [C, H, W] → [C·H·W] (ONNX Flatten, axis 1). */
  flatten(x: string, name: string): string {
    const s = this.shape(x);
    return this.add1('Flatten', [x], { axis: A.i(1) }, name, [s.reduce((a, b) => a * b, 1)]);
  }

  /**
   * Dense layer as Gemm(x, W, b) with transB = 1: weight `<name>.weight` [out, in] and bias
   * `<name>.bias` [out], both PyTorch `nn.Linear` default U(±1/√in). `output` names the result.
   */
  dense(x: string, name: string, out: number, opts: { bias?: boolean; output?: string } = {}): string {
    const s = this.shape(x);
    if (s.length !== 1) throw new Error(`zoo: ${name} needs a flat input, got shape [${s.join(', ')}]`);
    const fanIn = s[0];
    const weight = this.param(`${name}.weight`, [out, fanIn], () => linearDefault(this.seed, `${name}.weight`, out * fanIn, fanIn));
    const inputs = [x, weight];
    if (opts.bias ?? true) inputs.push(this.param(`${name}.bias`, [out], () => linearDefault(this.seed, `${name}.bias`, out, fanIn)));
    return this.add1('Gemm', inputs, { alpha: A.f(1), beta: A.f(1), transA: A.i(0), transB: A.i(1) }, name, [out], opts.output);
  }

  /** Elementwise sum of two maps of the same shape. */
  add(a: string, b: string, name: string): string {
    const sa = this.shape(a), sb = this.shape(b);
    if (sa.join() !== sb.join()) throw new Error(`zoo: ${name} adds shapes [${sa.join(', ')}] and [${sb.join(', ')}]`);
    return this.add1('Add', [a, b], {}, name, [...sa]);
  }

  /** Logistic sigmoid, elementwise. */
  sigmoid(x: string, name: string): string {
    return this.add1('Sigmoid', [x], {}, name, [...this.shape(x)]);
  }

  /** Elementwise product of `a` [C, H, W] and a per-channel gate `b` [C, 1, 1] or [C, H, W] (squeeze-excitation). */
  mul(a: string, b: string, name: string): string {
    const sa = this.shape(a), sb = this.shape(b);
    if (sa.length !== sb.length || sa[0] !== sb[0] || sb.some((d, i) => d !== 1 && d !== sa[i])) throw new Error(`zoo: ${name} multiplies shapes [${sa.join(', ')}] and [${sb.join(', ')}]`);
    return this.add1('Mul', [a, b], {}, name, [...sa]);
  }

  /** Channel concatenation (axis 1) of maps with equal height and width. */
  concat(xs: string[], name: string): string {
    const shapes = xs.map((x) => this.map(x, name));
    const [, h, w] = shapes[0];
    if (shapes.some((s) => s[1] !== h || s[2] !== w)) throw new Error(`zoo: ${name} concatenates maps of different sizes`);
    return this.add1('Concat', xs, { axis: A.i(1) }, name, [shapes.reduce((a, s) => a + s[0], 0), h, w]);
  }

  /** Wraps the graph as an opset-17 Model whose output is `logits` ['batch', classes], with zoo metadata. */
  finish(logits: string, docString: string): Model {
    const s = this.shape(logits);
    if (logits !== 'logits' || s.length !== 1 || s[0] !== this.classes) throw new Error(`zoo: ${this.arch} must end in logits [${this.classes}]`);
    this.g.output('logits', ['batch', this.classes]);
    return makeModel(this.g.build(), {
      docString,
      metadata: [
        [ZOO_METADATA.arch, this.arch],
        [ZOO_METADATA.width, String(this.width)],
        [ZOO_METADATA.inputShape, JSON.stringify(this.inputShape)],
        [ZOO_METADATA.classes, String(this.classes)],
        [ZOO_METADATA.seed, String(this.seed)],
      ],
    });
  }
}

/** The body of one architecture: adds its layers to `net` and returns the logits value's name. */
export type ArchBody = (net: NetBuilder) => string;

/** A dry run of `body` (shapes only, nothing allocated: a width of 1000 costs microseconds). */
function dryBuild(arch: string, o: ReturnType<typeof checkZooOptions>, body: ArchBody): NetBuilder {
  const net = new NetBuilder(arch, o.inputShape, o.classes, o.width, o.seed, true);
  try {
    body(net);
    return net;
  } catch (e) {
    if (!(e instanceof InputTooSmall)) throw e;
    const [c, h, w] = o.inputShape;
    const min = minimumSide(arch, c, o.classes, o.width, body);
    throw new FlipguardError(`The input ${c}×${h}×${w} is too small for ${arch}: at ${e.layer} ${e.detail}; use images of at least ${min === undefined ? 'a larger size' : `${min}×${min}`}.`);
  }
}

/**
 * Builds `arch` with `body`. A dry run first turns a too-small input into a FlipguardError that
 * names the layer and the smallest square input (with the same channel count) that the
 * architecture accepts, and refuses a model above MAX_MODEL_BYTES with its estimated size before
 * any weight is drawn.
 */
export function buildNet(arch: string, opts: ZooOptions, docString: string, body: ArchBody): Model {
  const o = checkZooOptions(arch, opts);
  const { parameters, bytes } = dryBuild(arch, o, body).size();
  if (!(bytes <= MAX_MODEL_BYTES)) {
    const [c, h, w] = o.inputShape;
    const count = Number.isFinite(parameters) && parameters < 1e21 ? Math.round(parameters).toLocaleString('en-US') : 'more than 10^21';
    throw new FlipguardError(`${arch} at width ${o.width} on ${c}×${h}×${w} input would have ${count} parameters (${formatBytes(bytes)}), above ${MODEL_LIMIT_TEXT}; lower the width multiplier (${opt('width')}) or the input size.`);
  }
  const net = new NetBuilder(arch, o.inputShape, o.classes, o.width, o.seed);
  return net.finish(body(net), docString);
}

/** The smallest square side (up to 1024) that `body` accepts, by dry runs; undefined if none. */
function minimumSide(arch: string, c: number, classes: number, width: number, body: ArchBody): number | undefined {
  const fits = (s: number): boolean => {
    try {
      body(new NetBuilder(arch, [c, s, s], classes, width, 0, true));
      return true;
    } catch (e) {
      if (e instanceof InputTooSmall) return false;
      throw e;
    }
  };
  for (let s = 1; s <= 1024; s++) if (fits(s)) return s;
  return undefined;
}
