/**
 * Canonizers for the relevance pass (Zennit's term): `Graph → Graph` rewrites that change how a
 * model is written, not what it computes, so that LRP rules see the layers they are defined for.
 * They are applied to a copy for attribution only; scores map back to the original by node and
 * initializer names, which the rewrite keeps.
 *
 * `foldBatchNorm`: an inference-mode BatchNormalization y = γ·(z − μ)/√(σ² + ε) + β whose input z
 * is the output of a Conv (or a Gemm with transB = 1, alpha = beta = 1) read by nothing else and
 * whose weights are used by no other node, is merged into that layer: W'[m] = W[m]·γ_m/√(σ²_m + ε)
 * and b'_m = (b_m − μ_m)·γ_m/√(σ²_m + ε) + β_m. The layer keeps its node name and its weight
 * initializer name (with the folded values), takes the BatchNormalization's output name, and gets
 * a bias initializer `<node>.folded_bias` when it had none. The arithmetic is done once per
 * parameter in float64 and stored as float32, so outputs match the original to float32 rounding.
 */
import { consumers, producers, attrFloat, attrInt } from '../graph/builder.js';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../graph/types.js';
import { NameScope, underscores } from '../graph/editor.js';

export interface FoldedLayer {
  /** The Conv or Gemm node. */
  layer: string;
  /** The BatchNormalization node merged into it. */
  batchNorm: string;
}

function floatInit(g: Graph, name: string | undefined): Float32Array | undefined {
  if (!name) return undefined;
  const t = g.initializers.get(name);
  return t && t.dataType === DataType.FLOAT ? (t.data as Float32Array) : undefined;
}

/** Returns the model with every foldable BatchNormalization merged into its layer (see the module comment). */
export function foldBatchNorm(model: Model): { model: Model; folded: FoldedLayer[] } {
  const g = model.graph;
  const made = producers(g);
  const readers = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const initializers = new Map(g.initializers);
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  const folded: FoldedLayer[] = [];
  const names = new NameScope([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
  for (const bn of g.nodes) {
    if (bn.opType !== 'BatchNormalization' || attrInt(bn, 'training_mode', 0) !== 0 || bn.outputs.filter(Boolean).length !== 1) continue;
    const z = bn.inputs[0];
    const layer = made.get(z);
    if (!layer || replaced.has(layer) || outputs.has(z) || (readers.get(z) ?? []).length !== 1) continue;
    const isConv = layer.opType === 'Conv';
    const isDense = layer.opType === 'Gemm' && attrInt(layer, 'transB', 0) === 1 && attrInt(layer, 'transA', 0) === 0 && attrFloat(layer, 'alpha', 1) === 1 && attrFloat(layer, 'beta', 1) === 1;
    if (!isConv && !isDense) continue;
    const wName = layer.inputs[1];
    const w = g.initializers.get(wName);
    if (!w || w.dataType !== DataType.FLOAT || (readers.get(wName) ?? []).length !== 1) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map((n) => floatInit(g, n));
    const m = w.dims[0];
    if (!gamma || !beta || !mean || !variance || [gamma, beta, mean, variance].some((a) => a.length !== m)) continue;
    const bName = layer.inputs[2] || undefined;
    const bias = bName ? floatInit(g, bName) : new Float32Array(m);
    if (!bias || bias.length !== m || (bName && (readers.get(bName) ?? []).length !== 1)) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const per = (w.data as Float32Array).length / m;
    const wd = w.data as Float32Array;
    const nw = new Float32Array(wd.length);
    const nb = new Float32Array(m);
    for (let c = 0; c < m; c++) {
      const k = gamma[c] / Math.sqrt(variance[c] + eps);
      for (let i = 0; i < per; i++) nw[c * per + i] = wd[c * per + i] * k;
      nb[c] = (bias[c] - mean[c]) * k + beta[c];
    }
    initializers.set(wName, { ...w, data: nw });
    const newB = bName || names.variant(`${layer.name || wName}.folded_bias`, underscores);
    const bt: Tensor = { name: newB, dataType: DataType.FLOAT, dims: [m], data: nb };
    initializers.set(newB, bt);
    replaced.set(layer, { ...layer, inputs: [layer.inputs[0], wName, newB], outputs: [bn.outputs[0], ...layer.outputs.slice(1)] });
    dropped.add(bn);
    folded.push({ layer: layer.name, batchNorm: bn.name });
  }
  if (!folded.length) return { model, folded };
  const nodes = g.nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
  // BN parameters nothing reads any more
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const bn of dropped) for (const k of bn.inputs.slice(1)) if (k && !read.has(k) && !outputs.has(k)) initializers.delete(k);
  const initializerInputs = g.initializerInputs?.filter((v) => initializers.has(v.name));
  return { model: { ...model, graph: { ...g, nodes, initializers, initializerInputs, valueInfo: [] } }, folded };
}
