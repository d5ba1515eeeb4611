/**
 * MaxPool: each window's gradient goes to exactly one element, the one onnxruntime reports in
 * MaxPool's Indices output (flat positions in x, the first maximum on ties); overlapping windows
 * that pick the same element add up (ScatterElements with reduction "add"). The forward pool is
 * run again with the Indices output when the node does not already expose it (row-major).
 */
import { A, attrInt } from '../builder.js';
import { poolRule } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

export const maxPoolRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const dy = ctx.gradOutputs[0];
    if (!dy) return [undefined];
    let indices = node.outputs[1];
    if (!indices || attrInt(node, 'storage_order', 0) !== 0) {
      const attrs = { ...node.attributes };
      delete attrs.storage_order;
      indices = e.ops('MaxPool', [x], attrs, 2)[1];
    }
    const flat = e.reshape(dy, [-1]);
    const zeros = e.op('ConstantOfShape', [e.reshape(e.op('Size', [x]), [1])], {
      value: A.t({ name: '', dataType: 1, dims: [1], data: new Float32Array([0]) }),
    });
    const dx = e.op('ScatterElements', [zeros, e.reshape(indices, [-1]), flat], { axis: A.i(0), reduction: A.s('add') });
    return [e.reshapeLike(dx, x)];
  },
};

export const MaxPool: OpRecord = {
  opType: 'MaxPool',
  commutesWithQuantization: true,
  shape: poolRule,
  vjp: maxPoolRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'pool',
  campaign: { safeProducer: true },
};
