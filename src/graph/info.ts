import { countModel, parameterTensors, type LayerCount } from './count.js';
import { WORD_BITS, WORD_FORMATS, wordFormat, type WordFormat } from './dtype.js';
import { defaultOpset, type Model } from './types.js';

/** One compute layer as `modelInfo` lists it: graph/count.ts's per-layer count. */
export type LayerInfo = LayerCount;

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
  /** Fault-target parameters per stored format (float32, float16, bfloat16, int8, uint8, int32), formats present only. */
  formats: FormatCount[];
}

export interface FormatCount {
  format: WordFormat;
  tensors: number;
  /** Stored words. */
  parameters: number;
  /** Stored bits (parameters × word width): the positions a bit error rate applies to. */
  bits: number;
}

/** Parameter tensors, words and bits per stored format, in WORD_FORMATS order. */
export function formatCounts(model: Model, words: ReadonlySet<string> = new Set()): FormatCount[] {
  const by = new Map<WordFormat, FormatCount>();
  for (const p of parameterTensors(model, words)) {
    const f = wordFormat(p.dataType);
    if (!f) continue;
    const c = by.get(f) ?? { format: f, tensors: 0, parameters: 0, bits: 0 };
    c.tensors++;
    c.parameters += p.numel;
    c.bits += p.numel * WORD_BITS[f];
    by.set(f, c);
  }
  return WORD_FORMATS.filter((f) => by.has(f)).map((f) => by.get(f)!);
}

/**
 * What `flipguard info` shows: the model's layers, parameters and MACs per image. `words`: int32
 * initializers that store weights as bits (a tmr-bits model's, harden's storedWordTensors).
 */
export function modelInfo(model: Model, words: ReadonlySet<string> = new Set()): ModelInfo {
  const c = countModel(model, words);
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
    formats: formatCounts(model, words),
  };
}
