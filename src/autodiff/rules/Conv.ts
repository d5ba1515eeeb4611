/**
 * Conv: y = conv(x, W) + B with strides, pads (or auto_pad), dilations and groups.
 * dx is the adjoint convolution (ConvTranspose with the same W and geometry; output_padding
 * restores input sizes the forward stride's floor dropped); dW correlates x with dy (see
 * convWeightGrad); dB sums dy over batch and space.
 */
import { A, attrInt } from '../../graph/builder.js';
import { convWeightGrad, windowOf } from '../geometry.js';
import { registerRule, type GradRule } from '../rule.js';

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

registerRule('Conv', convRule);
