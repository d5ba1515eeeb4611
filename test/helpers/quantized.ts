/** A small QOperator model for the tests of commands on quantized models (formats, harden). */
import { A, DataType, GraphBuilder, consumers, decodeTensor, makeModel, producers, type Model, type Node } from '../../src/graph/index.js';
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


/**
 * The QOperator form of a QDQ model written by `quantize` (what onnxruntime's QOperator quantizer
 * would write for its convs): every DequantizeLinear(x) → Conv(DequantizeLinear(w), DequantizeLinear(b))
 * → [Relu →] QuantizeLinear group becomes one QLinearConv (a Relu only when the output zero point
 * is 0, where saturation is the ReLU), and a DequantizeLinear → MaxPool → QuantizeLinear with equal
 * scales and zero points becomes an integer MaxPool. Dense layers stay QDQ (onnxruntime's QOperator
 * form for Gemm is a com.microsoft op).
 */
export function qoperatorFromQdq(model: Model): Model {
  const g = model.graph;
  const made = producers(g);
  const readers = consumers(g);
  const drop = new Set<Node>();
  const replace = new Map<Node, Node>();
  const value = (name: string): number => decodeTensor(g.initializers.get(name)!.dataType, g.initializers.get(name)!.data)[0];
  const sole = (v: string): Node | undefined => { const r = readers.get(v) ?? []; return r.length === 1 ? r[0] : undefined; };
  for (const n of g.nodes) {
    if (n.opType === 'Conv') {
      const [dx, dw, db] = n.inputs.map((i) => (i ? made.get(i) : undefined));
      let after = sole(n.outputs[0]);
      const relu = after?.opType === 'Relu' ? after : undefined;
      if (relu) after = sole(relu.outputs[0]);
      if (dx?.opType !== 'DequantizeLinear' || dw?.opType !== 'DequantizeLinear' || after?.opType !== 'QuantizeLinear') continue;
      if (relu && value(after.inputs[2]) !== 0) continue;
      const inputs = [...dx.inputs, ...dw.inputs, ...after.inputs.slice(1), ...(db ? [db.inputs[0]] : [])];
      replace.set(after, { name: n.name, opType: 'QLinearConv', domain: '', inputs, outputs: after.outputs, attributes: { ...n.attributes } });
      for (const x of [n, dw, ...(db ? [db] : []), ...(relu ? [relu] : [])]) drop.add(x);
      if ((readers.get(dx.outputs[0]) ?? []).length === 1) drop.add(dx);
    } else if (n.opType === 'MaxPool' && n.outputs.length === 1) {
      const dq = made.get(n.inputs[0]);
      const q = sole(n.outputs[0]);
      if (dq?.opType !== 'DequantizeLinear' || q?.opType !== 'QuantizeLinear' || sole(dq.outputs[0]) !== n) continue;
      if (value(dq.inputs[1]) !== value(q.inputs[1]) || value(dq.inputs[2]) !== value(q.inputs[2])) continue;
      replace.set(n, { ...n, inputs: [dq.inputs[0]], outputs: q.outputs });
      drop.add(dq).add(q);
    }
  }
  const nodes = g.nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = new Map([...g.initializers].filter(([k]) => read.has(k)));
  return { ...model, graph: { ...g, nodes, initializers, valueInfo: [] } };
}

/** x → QuantizeLinear → QLinearMatMul (int8 weight [16, 5], per-column scales when `perColumn`) → DequantizeLinear → y. */
export function qlinearMatMulModel(perColumn: boolean): Model {
  const rng = new Rng(5);
  const b = new GraphBuilder('qmatmul');
  const x = b.input('x', ['N', 16]);
  const u8 = (name: string, v: number) => b.init(name, [], new Uint8Array([v]), DataType.UINT8);
  const q = b.op('QuantizeLinear', [x, b.init('x.scale', [], [1 / 255]), u8('x.zero', 0)], {}, 'qx');
  const n = perColumn ? 5 : 1;
  const w = b.init('mm.w', [16, 5], Int8Array.from({ length: 80 }, () => Math.round(rng.normal() * 40)), DataType.INT8);
  const ws = b.init('mm.w_scale', perColumn ? [5] : [], Float32Array.from({ length: n }, (_, i) => 0.01 * (i + 1)));
  const wz = b.init('mm.w_zero', perColumn ? [5] : [], new Int8Array(n), DataType.INT8);
  const y = b.op('QLinearMatMul', [q, b.init('x.scale2', [], [1 / 255]), u8('x.zero2', 0), w, ws, wz, b.init('y.scale', [], [0.03]), u8('y.zero', 100)], {}, 'mm');
  b.node('DequantizeLinear', [y, b.init('y.scale2', [], [0.03]), u8('y.zero2', 100)], {}, { name: 'dqy', outputs: ['y'] });
  b.output('y', ['N', 5]);
  return makeModel(b.build(), { opset: 13 });
}
