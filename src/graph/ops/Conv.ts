/**
 * Conv: y = conv(x, W) + B with strides, pads (or auto_pad), dilations and groups.
 * dx is the adjoint convolution: for stride 1 a Conv of dy with the flipped, channel-swapped kernel
 * (see adjointKernel), else ConvTranspose with the same W and geometry (output_padding restores
 * input sizes the forward stride's floor dropped); dW correlates x with dy (see
 * convWeightGrad); dB sums dy over batch and space.
 */
import { A, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { convSpatial, convWeightGrad, spatialAttrs, windowOf } from './window.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';
import type { Emitter } from '../emitter.js';

function convShape(c: NodeCtx): void {
  const x = c.shape(0);
  const w = c.shape(1, 'weight');
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  if (w.length !== x.length) throw c.fail(`has weights of shape ${fmt(w)}, whose rank does not match the input ${fmt(x)}`);
  const group = c.int('group', 1);
  if (group < 1 || x[1] !== w[1] * group || w[0] % group !== 0) {
    throw c.fail(`has ${x[1]} input channels but weights ${fmt(w)} with group ${group} expect ${w[1] * group}`);
  }
  const ns = x.length - 2;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  if (c.has(2)) {
    const b = c.shape(2, 'bias');
    if (numel(b) !== w[0]) throw c.fail(`has a bias of shape ${fmt(b)} for ${w[0]} output channels`);
  }
  const a = spatialAttrs(c, ns, kernel);
  c.set(0, [x[0], w[0], ...convSpatial(c, x.slice(2), a)], c.type(0));
}

/**
 * The kernel of the stride-1 adjoint convolution of weights W [M, Cin/g, K…] (group g):
 * W'[j·Cin/g + c, m, k] = W[j·M/g + m, c, K − 1 − k], shape [Cin, M/g, K…].
 */
function adjointKernel(e: Emitter, wt: string, ws: readonly number[], group: number): string {
  const [m, cg, ...k] = ws;
  const mg = m / group;
  const sp = k.map((_, i) => i + 2);
  let r = wt;
  if (mg !== 1 || cg !== 1) {
    r = group === 1 ? e.transpose(wt, [1, 0, ...sp]) : e.reshape(e.transpose(e.reshape(wt, [group, mg, cg, ...k]), [0, 2, 1, ...sp.map((a) => a + 1)]), [group * cg, mg, ...k]);
  }
  const flip = sp.filter((a) => k[a - 2] > 1);
  return flip.length ? e.slice(r, flip.map(() => -1), flip.map(() => -(2 ** 62)), flip, flip.map(() => -1)) : r;
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
    if (ctx.needs[0] && w.strides.every((st) => st === 1) && [w.padsBegin, w.padsEnd].every((ps) => ps.every((q, i) => q <= (w.kernel[i] - 1) * w.dilations[i]))) {
      // stride 1: the adjoint is itself a convolution of dy, with the kernel flipped in space and
      // its channel axes swapped per group, and complementary pads; onnxruntime runs Conv much
      // faster than ConvTranspose (whose per-group GEMM + col2im dominates depthwise backward passes)
      const comp = (ps: number[]) => ps.map((q, i) => (w.kernel[i] - 1) * w.dilations[i] - q);
      res[0] = e.op('Conv', [dy, adjointKernel(e, wt, ws, group)], {
        dilations: A.is(w.dilations), pads: A.is([...comp(w.padsBegin), ...comp(w.padsEnd)]), group: A.i(group), kernel_shape: A.is(w.kernel),
      });
    } else if (ctx.needs[0]) {
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
  macs: (n, shapes) => {
    // (N·Cout·H_out·W_out)·(Cin/group)·kh·kw
    const o = shapes.get(n.outputs[0]) ?? [];
    const w = shapes.get(n.inputs[1]) ?? [];
    return numel(o) * numel(w.slice(1));
  },
  vjp: convRule,
  lrp: 'linear',
  channels: 'special',
  campaign: { cut: true },
  inputRoles: ['other', 'weight', 'bias'],
  ownsParameters: true,
};
