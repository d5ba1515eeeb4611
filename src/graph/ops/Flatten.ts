/** Flatten: dx = dy reshaped to x's run-time shape. */
import { numel } from '../dtype.js';
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function flattenShape(c: NodeCtx): void {
  const x = c.shape(0);
  let axis = c.int('axis', 1);
  if (axis < -x.length || axis > x.length) throw c.fail(`has axis ${axis}, outside [${-x.length}, ${x.length}] for input ${fmt(x)}`);
  if (axis < 0) axis += x.length;
  c.set(0, [numel(x.slice(0, axis)), numel(x.slice(axis))], c.type(0), c.maybeValue(0));
}

/** The gradient rule of every op that only changes the shape: dx = reshape(dy, shape(x)). */
export const reshapeLikeInputRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const x = ctx.node.inputs[0];
    return [ctx.e.reshapeLike(ctx.gradOutputs[0]!, x), ...ctx.node.inputs.slice(1).map(() => undefined)];
  },
};

export const Flatten: OpRecord = {
  opType: 'Flatten',
  commutesWithQuantization: true,
  shape: flattenShape,
  vjp: reshapeLikeInputRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
  campaign: { safeProducer: true },
  movesData: true,
  keepsLayerOutput: true,
};
