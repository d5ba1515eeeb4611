/** GlobalAveragePool: dx = dy / (spatial size), broadcast over the spatial axes. */
import { NodeCtx, fmt } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

function globalAveragePoolShape(c: NodeCtx): void {
  const x = c.shape(0);
  if (x.length < 3) throw c.fail(`has an input of shape ${fmt(x)}; it needs [batch, channels, spatial…]`);
  c.set(0, [x[0], x[1], ...x.slice(2).map(() => 1)], c.type(0));
}

export const globalAveragePoolRule: GradRule = {
  backward(ctx) {
    const { e, node } = ctx;
    const x = node.inputs[0];
    const area = ctx.shape(x).slice(2).reduce((p, q) => p * q, 1);
    return [e.op('Expand', [e.scale(ctx.gradOutputs[0]!, 1 / area), e.shapeOf(x)])];
  },
};

export const GlobalAveragePool: OpRecord = {
  opType: 'GlobalAveragePool',
  shape: globalAveragePoolShape,
  vjp: globalAveragePoolRule,
  lrp: 'norm',
  keepsSign: true,
  channels: 'pool',
  campaign: { safeProducer: true },
};
