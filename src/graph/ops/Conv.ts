/**
 * Conv: y = conv(x, W) + B with strides, pads (or auto_pad), dilations and groups.
 * dx is the adjoint convolution (ConvTranspose with the same W and geometry; output_padding
 * restores input sizes the forward stride's floor dropped); dW correlates x with dy (see
 * convWeightGrad); dB sums dy over batch and space.
 */
import { A, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { convSpatial, convWeightGrad, spatialAttrs, windowOf } from './window.js';
import { NodeCtx, fmt } from './shape-kit.js';
import type { Node } from '../types.js';
import { type GradRule, type OpRecord } from './types.js';

/**
 * Conv's shape rule with the data, weight and bias at input positions `at` (QLinearConv and
 * ConvInteger place them elsewhere) and the output of type `type` (default: the data's).
 */
export function convShapeAt(c: NodeCtx, at: { x: number; w: number; b?: number }, type?: number): void {
  const x = c.shape(at.x);
  const w = c.shape(at.w, 'weight');
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  if (w.length !== x.length) throw c.fail(`has weights of shape ${fmt(w)}, whose rank does not match the input ${fmt(x)}`);
  const group = c.int('group', 1);
  if (group < 1 || x[1] !== w[1] * group || w[0] % group !== 0) {
    throw c.fail(`has ${x[1]} input channels but weights ${fmt(w)} with group ${group} expect ${w[1] * group}`);
  }
  const ns = x.length - 2;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  if (at.b !== undefined && c.has(at.b)) {
    const b = c.shape(at.b, 'bias');
    if (numel(b) !== w[0]) throw c.fail(`has a bias of shape ${fmt(b)} for ${w[0]} output channels`);
  }
  const a = spatialAttrs(c, ns, kernel);
  c.set(0, [x[0], w[0], ...convSpatial(c, x.slice(2), a)], type ?? c.type(at.x));
}

function convShape(c: NodeCtx): void {
  convShapeAt(c, { x: 0, w: 1, b: 2 });
}

/** MACs of a convolution whose weight is input `w`: (N·Cout·H_out·W_out)·(Cin/group)·kh·kw. */
export function convMacsAt(w: number): (n: Node, shapes: Map<string, number[]>) => number {
  return (n, shapes) => numel(shapes.get(n.outputs[0]) ?? []) * numel((shapes.get(n.inputs[w]) ?? []).slice(1));
}

export const convRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [x, wt, bias] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    const xs = ctx.shape(x);
    const ws = ctx.shape(wt);
    const ys = ctx.shape(node.outputs[0]);
    const group = attrInt(node, 'group', 1);
    const w = windowOf(node, xs, ys, ws.slice(2), false);
    const sp = w.inSpatial.map((_, i) => i + 2);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (ctx.needs[0]) {
      const outputPadding = w.inSpatial.map((s, i) =>
        s - ((w.outSpatial[i] - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - w.padsBegin[i] - w.padsEnd[i]));
      if (outputPadding.some((p, i) => p < 0 || p >= Math.max(w.strides[i], w.dilations[i]))) {
        throw ctx.fail(`has pads [${[...w.padsBegin, ...w.padsEnd].join(', ')}] that onnxruntime's ConvTranspose cannot invert`);
      }
      res[0] = e.op('ConvTranspose', [dy, wt], {
        strides: A.is(w.strides), dilations: A.is(w.dilations), pads: A.is([...w.padsBegin, ...w.padsEnd]),
        output_padding: A.is(outputPadding), group: A.i(group), kernel_shape: A.is(w.kernel),
      });
    }
    if (ctx.needs[1]) res[1] = convWeightGrad(e, x, xs, dy, group, w);
    if (bias && ctx.needs[2]) res[2] = e.reduceSum(dy, [0, ...sp], false);
    return res;
  },
};

export const Conv: OpRecord = {
  opType: 'Conv',
  shape: convShape,
  macs: convMacsAt(1),
  vjp: convRule,
  lrp: 'linear',
  channels: 'special',
  campaign: { cut: true },
  inputRoles: ['other', 'weight', 'bias'],
  ownsParameters: true,
};
