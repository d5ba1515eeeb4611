/** A small QOperator model for the tests of commands on quantized models (formats, harden). */
import { A, DataType, GraphBuilder, makeModel, type Model } from '../../src/graph/index.js';
import { Rng } from '../../src/util/rng.js';

/** A QOperator model: QuantizeLinear → QLinearConv (int8 weights, int32 bias) → DequantizeLinear → ConvInteger branch → Gemm. */
export function qoperatorModel(): Model {
  const rng = new Rng(11);
  const b = new GraphBuilder('qop');
  const x = b.input('x', ['N', 1, 6, 6]);
  const u8 = (name: string, v: number) => b.init(name, [], new Uint8Array([v]), DataType.UINT8);
  const q = b.op('QuantizeLinear', [x, b.init('x.scale', [], [1 / 255]), u8('x.zero', 0)], {}, 'qx');
  const w = b.init('qconv.w', [2, 1, 3, 3], Int8Array.from({ length: 18 }, () => Math.round(rng.normal() * 50)), DataType.INT8);
  const y = b.op('QLinearConv', [q, b.init('x.scale2', [], [1 / 255]), u8('x.zero2', 0), w, b.init('qconv.w_scale', [2], [0.01, 0.02]),
    b.init('qconv.w_zero', [2], new Int8Array(2), DataType.INT8), b.init('y.scale', [], [0.02]), u8('y.zero', 128),
    b.init('qconv.bias', [2], new Int32Array([40, -40]), DataType.INT32)], {}, 'qconv');
  const d = b.op('DequantizeLinear', [y, b.init('y.scale2', [], [0.02]), u8('y.zero2', 128)], {}, 'dqy');
  const ci = b.op('ConvInteger', [q, b.init('ci.w', [2, 1, 3, 3], Uint8Array.from({ length: 18 }, () => Math.floor(rng.next() * 8)), DataType.UINT8), u8('ci.xz', 0), u8('ci.wz', 3)], {}, 'cint');
  const cf = b.op('Mul', [b.op('Cast', [ci], { to: A.i(DataType.FLOAT) }), b.init('ci.scale', [], [0.001])], {}, 'ci_scale');
  const f = b.op('Flatten', [b.op('Add', [d, cf], {}, 'sum')], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, b.init('fc.weight', [32, 3], Float32Array.from({ length: 96 }, () => rng.normal() * 0.3)), b.init('fc.bias', [3], [0, 0, 0])], {}, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['N', 3]);
  return makeModel(b.build(), { opset: 13 });
}

