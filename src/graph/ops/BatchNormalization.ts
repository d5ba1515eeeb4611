/**
 * BatchNormalization, y = scale·(x − μ)/√(σ² + ε) + B per channel (axis 1).
 *
 * Inference mode (training_mode = 0, the default): μ and σ² are the running-statistics inputs, so
 * the op is affine in x: dx = dy·scale/√(σ²+ε); dscale = Σ dy·x̂; dB = Σ dy; dmean = −dB·scale/√(σ²+ε);
 * dvar = −½·Σ dy·(x − μ)·scale·(σ²+ε)^(−3/2) (sums over batch and space).
 *
 * Training mode (training_mode = 1): μ and σ² are the batch mean and biased variance, recomputed
 * here; dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/√(σ²+ε) with dx̂ = dy·scale. The running-statistics
 * inputs do not affect y and get no gradient.
 */
import { attrFloat, attrInt } from '../builder.js';
import { numel } from '../dtype.js';
import { type Node } from '../types.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function batchNormalizationShape(c: NodeCtx): void {
  const x = c.shape(0);
  if (x.length < 2) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, …]`);
  const perChannel = c.opset >= 9 || c.int('spatial', 1) !== 0; // spatial = 0 (opset < 9): per-element statistics
  for (let i = 1; i <= 4; i++) {
    const s = c.shape(i, ['', 'scale', 'bias', 'mean', 'var'][i]);
    if (perChannel && numel(s) !== x[1]) throw c.fail(`has a ${['', 'scale', 'bias', 'mean', 'var'][i]} of shape ${fmt(s)} for ${x[1]} channels`);
  }
  c.set(0, [...x], c.type(0));
  // training-mode outputs (running/saved mean and variance): one value per channel
  for (let i = 1; i < c.node.outputs.length; i++) c.set(i, perChannel ? [x[1]] : [...c.shape(1)], c.type(1, 'scale'));
}

const training = (node: Node) => attrInt(node, 'training_mode', 0) !== 0;

export const batchNormRule: GradRule = {
  differentiableInputs: (node) => (training(node) ? [0, 1, 2] : [0, 1, 2, 3, 4]),
  backward(ctx) {
    const { e, node } = ctx;
    const [x, scale, , mean, variance] = node.inputs;
    const dy = ctx.gradOutputs[0];
    if (!dy) return node.inputs.map(() => undefined);
    const xs = ctx.shape(x);
    const eps = attrFloat(node, 'epsilon', 1e-5);
    const axes = [0, ...xs.slice(2).map((_, i) => i + 2)];
    const perChannel = [xs[1], ...xs.slice(2).map(() => 1)];
    const bc = (v: string) => e.reshape(v, perChannel);
    const res: (string | undefined)[] = node.inputs.map(() => undefined);
    if (!training(node)) {
      const invStd = e.op('Reciprocal', [e.op('Sqrt', [e.add(variance, e.scalar(eps))])]);
      const xc = e.sub(x, bc(mean));
      if (ctx.needs[0]) res[0] = e.mul(dy, bc(e.mul(scale, invStd)));
      if (ctx.needs[1]) res[1] = e.reduceSum(e.mul(dy, e.mul(xc, bc(invStd))), axes, false);
      const dB = ctx.needs[2] || ctx.needs[3] ? e.reduceSum(dy, axes, false) : undefined;
      if (ctx.needs[2]) res[2] = dB;
      if (ctx.needs[3]) res[3] = e.neg(e.mul(dB!, e.mul(scale, invStd)));
      if (ctx.needs[4]) {
        const cube = e.mul(invStd, e.mul(invStd, invStd));
        res[4] = e.mul(e.reduceSum(e.mul(dy, xc), axes, false), e.mul(scale, e.scale(cube, -0.5)));
      }
      return res;
    }
    const mu = e.reduce('ReduceMean', x, axes, true);
    const xc = e.sub(x, mu);
    const varB = e.reduce('ReduceMean', e.mul(xc, xc), axes, true);
    const invStd = e.op('Reciprocal', [e.op('Sqrt', [e.add(varB, e.scalar(eps))])]);
    const xhat = e.mul(xc, invStd);
    if (ctx.needs[0]) {
      const dxhat = e.mul(dy, bc(scale));
      const m1 = e.reduce('ReduceMean', dxhat, axes, true);
      const m2 = e.reduce('ReduceMean', e.mul(dxhat, xhat), axes, true);
      res[0] = e.mul(e.sub(e.sub(dxhat, m1), e.mul(xhat, m2)), invStd);
    }
    if (ctx.needs[1]) res[1] = e.reduceSum(e.mul(dy, xhat), axes, false);
    if (ctx.needs[2]) res[2] = e.reduceSum(dy, axes, false);
    return res;
  },
};

export const BatchNormalization: OpRecord = {
  opType: 'BatchNormalization',
  shape: batchNormalizationShape,
  vjp: batchNormRule,
  lrp: 'norm',
  channels: 'special',
  inputRoles: ['other', 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var'],
  ownsParameters: true,
};
