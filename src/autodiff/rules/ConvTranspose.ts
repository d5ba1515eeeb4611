/**
 * ConvTranspose: y = convT(x, W) + B, explicit pads and output_padding (auto_pad and output_shape
 * are refused). dx is the convolution with the same W and geometry; dW correlates dy with x (the
 * Conv weight gradient with input and output roles swapped, which lands in W's [C, M/g, K] layout).
 */
import { A, attrInt, attrInts, attrString } from '../../graph/builder.js';
import { convWeightGrad, type Window } from '../geometry.js';
import { registerRule, type GradRule } from '../rule.js';

export const convTransposeRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const [x, wt, bias] = node.inputs;
    const dy = ctx.gradOutputs[0]!;
    if (attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET' || attrInts(node, 'output_shape')) {
      throw ctx.fail('uses auto_pad or output_shape, which the gradient rule does not support', 're-export the model with explicit pads');
    }
    const xs = ctx.shape(x);
    const ws = ctx.shape(wt);
    const ys = ctx.shape(node.outputs[0]);
    const ns = xs.length - 2;
    const group = attrInt(node, 'group', 1);
    const strides = attrInts(node, 'strides') ?? new Array<number>(ns).fill(1);
    const dilations = attrInts(node, 'dilations') ?? new Array<number>(ns).fill(1);
    const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
    const kernel = ws.slice(2);
    const sp = kernel.map((_, i) => i + 2);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (ctx.needs[0]) {
      res[0] = e.op('Conv', [dy, wt], {
        strides: A.is(strides), dilations: A.is(dilations), pads: A.is(pads), group: A.i(group), kernel_shape: A.is(kernel),
      });
    }
    if (ctx.needs[1]) {
      // y is the "input" of the equivalent convolution that maps y-sized tensors to x-sized ones
      const w: Window = {
        ns, kernel, strides, dilations, padsBegin: pads.slice(0, ns), padsEnd: pads.slice(ns),
        inSpatial: ys.slice(2), outSpatial: xs.slice(2),
      };
      res[1] = convWeightGrad(e, dy, ys, x, group, w);
    }
    if (bias && ctx.needs[2]) res[2] = e.reduceSum(dy, [0, ...sp], false);
    return res;
  },
};

registerRule('ConvTranspose', convTransposeRule);
