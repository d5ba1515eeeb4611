/**
 * The fault targets of a model: every parameter initializer stored as float32, float16, bfloat16,
 * int8, uint8 or int32 (quantized biases), with its word format, the node that consumes it, its
 * layer and role (from `parameterTensors` in graph/count.ts), and whether it can influence any
 * graph output at all. Quantization scales (float32) and zero points (int8/uint8) are targets too,
 * with roles 'scale' and 'zero_point'. The int32 words and bit planes of a tmr-bits model
 * (harden/tmr-bits.ts) are stored weight bits too, targets as int32 words. float64 tensors are not targets.
 */
import { parameterTensors, type ParameterRole } from '../graph/count.js';
import { wordFormat, type WordFormat } from '../graph/dtype.js';
import { nodeLabel } from '../graph/layers.js';
import type { Graph, Model } from '../graph/types.js';
import { storedWordTensors } from '../harden/common.js';

export type { ParameterRole };

export interface ParameterInfo {
  /** Initializer name. */
  name: string;
  dims: number[];
  /** Number of stored words (elements). */
  numel: number;
  /** How each word is stored (bit numbering in faults/bits.ts). */
  format: WordFormat;
  /** Op type of the first compute node that reads the tensor (looking through Identity, Reshape…; '' when none). */
  opType: string;
  /** Name of that node ('' when none). */
  node: string;
  /**
   * Index of that node among the nodes that are the first compute user of some parameter tensor,
   * in graph order (0 = first layer holding parameters); -1 when no node reads the tensor.
   */
  layer: number;
  role: ParameterRole;
  /** False when no graph output depends on the tensor (faults in it provably change nothing). */
  live: boolean;
}

/**
 * Values on which some graph output depends (data flow from the value to an output). Nodes are in
 * topological order, so one reverse pass suffices.
 */
export function liveValues(g: Graph): Set<string> {
  const live = new Set(g.outputs.map((o) => o.name));
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => live.has(o))) for (const x of n.inputs) if (x) live.add(x);
  }
  return live;
}

/** Fault-target initializers of `model` in file order, with format, consumer, layer, role and liveness. */
export function listParameters(model: Model): ParameterInfo[] {
  const g = model.graph;
  const live = liveValues(g);
  const order = new Map<string, number>();
  g.nodes.forEach((n, i) => { const label = nodeLabel(n, i); if (!order.has(label)) order.set(label, i); });
  const words = storedWordTensors(model);
  const tensors = parameterTensors(model, words).filter((p) => wordFormat(p.dataType) !== undefined);
  const layerNodes = [...new Set(tensors.map((p) => p.node).filter(Boolean))].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  const layerOf = new Map(layerNodes.map((n, i) => [n, i]));
  return tensors.map((p) => ({
    name: p.name, dims: [...p.dims], numel: p.numel, format: wordFormat(p.dataType)!, opType: p.op, node: p.node,
    layer: p.node ? layerOf.get(p.node)! : -1, role: p.role, live: live.has(p.name),
  }));
}
