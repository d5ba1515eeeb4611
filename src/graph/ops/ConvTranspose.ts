/**
 * ConvTranspose: y = convT(x, W) + B, explicit pads and output_padding (auto_pad and output_shape
 * are refused). dx is the convolution with the same W and geometry; dW correlates dy with x (the
 * Conv weight gradient with input and output roles swapped, which lands in W's [C, M/g, K] layout).
 */
import { A, attrInt, attrInts, attrString } from '../builder.js';
import { numel } from '../dtype.js';
import { convWeightGrad, spatialAttrs, type Window } from './window.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/**
 * ConvTranspose output sizes as onnxruntime computes them: with output_shape (spatial sizes, or
 * N, C and spatial sizes) those sizes; otherwise stride·(in − 1) + output_padding + dilated kernel
 * − pads, where SAME pads total max(0, that full size − in·stride) and VALID pads nothing.
 */
function convTransposeShape(c: NodeCtx): void {
  const x = c.shape(0);
  const w = c.shape(1, 'weight');
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  if (w.length !== x.length) throw c.fail(`has weights of shape ${fmt(w)}, whose rank does not match the input ${fmt(x)}`);
  const group = c.int('group', 1);
  if (group < 1 || x[1] !== w[0] || w[0] % group !== 0) {
    throw c.fail(`has ${x[1]} input channels but weights ${fmt(w)} with group ${group} expect ${w[0]}`);
  }
  const ns = x.length - 2;
  const outC = w[1] * group;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  const a = spatialAttrs(c, ns, kernel);
  const adj = c.ints('output_padding') ?? new Array<number>(ns).fill(0);
  if (adj.length !== ns) throw c.fail(`has output_padding ${fmt(adj)} for ${ns} spatial dimensions`);
  const given = c.ints('output_shape');
  let spatial: number[];
  if (given) {
    if (given.length === ns) spatial = [...given];
    else if (given.length === ns + 2) spatial = given.slice(2);
    else throw c.fail(`has output_shape ${fmt(given)} for ${ns} spatial dimensions`);
  } else {
    spatial = x.slice(2).map((xi, i) => {
      const full = a.strides[i] * (xi - 1) + adj[i] + (a.kernel[i] - 1) * a.dilations[i] + 1;
      let pads: number;
      if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') pads = Math.max(0, full - xi * a.strides[i]);
      else if (a.autoPad === 'VALID') pads = 0;
      else pads = a.pads[i] + a.pads[i + ns];
      const out = full - pads;
      if (out < 1) throw c.fail(`would produce a non-positive output size ${out} in spatial dimension ${i}`, 'reduce its pads');
      return out;
    });
  }
  c.set(0, [x[0], outC, ...spatial], c.type(0));
}

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

export const ConvTranspose: OpRecord = {
  opType: 'ConvTranspose',
  shape: convTransposeShape,
  macs: (n, shapes) => {
    // (N·Cin·H_in·W_in)·(Cout/group)·kh·kw; the weight is [Cin, Cout/group, kh, kw]
    const x = shapes.get(n.inputs[0]) ?? [];
    const w = shapes.get(n.inputs[1]) ?? [];
    return numel(x) * numel(w.slice(1));
  },
  vjp: convTransposeRule,
  lrp: 'linear',
  campaign: { cut: true },
  inputRoles: ['other', 'weight', 'bias'],
  ownsParameters: true,
};
