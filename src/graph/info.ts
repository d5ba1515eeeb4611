import { countModel } from './count.js';
import { defaultOpset, type Model } from './types.js';

export interface LayerInfo {
  name: string;
  op: string;
  inputShape: number[];
  outputShape: number[];
  parameters: number;
  macs: number;
}

export interface ModelInfo {
  producer: string;
  opset: number;
  input: { name: string; shape: (number | string | null)[] };
  output: { name: string; shape: (number | string | null)[] };
  /** Every stored floating-point parameter (fault targets), elements. */
  parameters: number;
  /** Bytes of all stored initializers. */
  storedBytes: number;
  /** Multiply-accumulates per image (Conv, ConvTranspose, Gemm, MatMul). */
  macs: number;
  layers: LayerInfo[];
}

/** What `flipguard info` shows: the model's layers, parameters and MACs per image. */
export function modelInfo(model: Model): ModelInfo {
  const c = countModel(model);
  const g = model.graph;
  return {
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opset: defaultOpset(model),
    input: { name: g.inputs[0]?.name ?? '', shape: g.inputs[0]?.shape ?? [] },
    output: { name: g.outputs[0]?.name ?? '', shape: g.outputs[0]?.shape ?? [] },
    parameters: c.parameters,
    storedBytes: c.storedBytes,
    macs: c.macs,
    layers: c.layers.map((l) => ({ name: l.name, op: l.op, inputShape: l.inputShape, outputShape: l.outputShape, parameters: l.parameters, macs: l.macs })),
  };
}
