/**
 * SoftmaxCrossEntropyLoss (scores [N, C, D…], integer labels [N, D…]; no weights, no
 * ignore_index): dscores = (softmax(scores) − onehot(labels))·dloss, with dloss divided by the
 * number of labels for reduction "mean" and broadcast per element for "none". A gradient on the
 * optional log_prob output adds dlp − softmax·Σ_C dlp.
 */
import { A, attrString } from '../builder.js';
import { DataType } from '../types.js';
import { type GradRule, type OpRecord } from './types.js';

export const softmaxCrossEntropyRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const [scores, labels, weights] = node.inputs;
    if (weights) throw ctx.fail('has class weights, which the gradient rule does not support', 'drop the weights input');
    if (node.attributes.ignore_index) throw ctx.fail('has ignore_index, which the gradient rule does not support', 'drop ignore_index');
    const reduction = attrString(node, 'reduction', 'mean');
    const classes = ctx.shape(scores)[1];
    const [dLoss, dLogProb] = ctx.gradOutputs;
    const p = e.op('Softmax', [scores], { axis: A.i(1) });
    const terms: string[] = [];
    if (dLoss) {
      const onehot = e.op('OneHot', [labels, e.ints([classes], []), e.floats([0, 1])], { axis: A.i(1) });
      let scale = dLoss;
      if (reduction === 'mean') scale = e.div(dLoss, e.op('Cast', [e.op('Size', [labels])], { to: A.i(DataType.FLOAT) }));
      else if (reduction === 'none') scale = e.unsqueeze(dLoss, [1]);
      else if (reduction !== 'sum') throw ctx.fail(`has reduction "${reduction}"`, 'use mean, sum or none');
      terms.push(e.mul(e.sub(p, onehot), scale));
    }
    if (dLogProb) terms.push(e.sub(dLogProb, e.mul(p, e.reduceSum(dLogProb, [1], true))));
    return [terms.length ? e.sum(terms) : undefined, undefined, undefined];
  },
};

export const SoftmaxCrossEntropyLoss: OpRecord = {
  opType: 'SoftmaxCrossEntropyLoss',
  vjp: softmaxCrossEntropyRule,
};
