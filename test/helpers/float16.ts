/** Native float16 test models: a float16 graph wrapped as onnxconverter-common's keep_io_types writes it. */
import { DataType, type Model } from '../../src/graph/types.js';

/** `h` (a native float16 model) with float32 input `x32` cast to its float16 input, and its float16 logits cast to float32 output `logits32`. */
export function keepIoTypes(h: Model): Model {
  const g = h.graph;
  const [inp, out] = [g.inputs[0], g.outputs[0]];
  const cast = (name: string, from: string, to: number) => ({ name, opType: 'Cast', domain: '', inputs: [from], outputs: [name], attributes: { to: { type: 'int' as const, value: to } } });
  return { ...h, graph: { ...g,
    nodes: [{ ...cast('x16', 'x32', DataType.FLOAT16), outputs: [inp.name] }, ...g.nodes, cast('logits32', out.name, DataType.FLOAT)],
    inputs: [{ ...inp, name: 'x32', elemType: DataType.FLOAT }], outputs: [{ ...out, name: 'logits32', elemType: DataType.FLOAT }] } };
}
