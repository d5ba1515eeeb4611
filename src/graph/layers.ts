/**
 * Layer identity: what a layer is (a conv or dense node with stored weights) and the label that
 * names it everywhere — in scores, hardening, pruning, parameter lists, reports and errors.
 *
 * A node's label is its name; an unnamed node (exporters may leave names empty) is labelled by its
 * first output's name, which ONNX requires to be unique, or by `<Op>_<index>` when it has none.
 * Scores are keyed by label and every consumer matches them by label, so unnamed layers rank,
 * harden and prune like named ones. Analyses that build derived graphs call `labelNodes` first so
 * that each layer keeps its label as its node name in those graphs.
 */
import { FlipguardError } from '../errors.js';
import { consumers, producers } from './builder.js';
import { opSet } from './ops/index.js';
import { storedTensor } from './stored.js';
import type { Model, Node, Tensor } from './types.js';

/** The label of node `n` at position `index` of its graph (see the module comment; without an index, the op type is the last resort). */
export function nodeLabel(n: Node, index?: number): string {
  return n.name || n.outputs[0] || (index === undefined ? n.opType : `${n.opType}_${index}`);
}

/** `model` with every unnamed node named by its label (the same model when all nodes have names). */
export function labelNodes(model: Model): Model {
  const g = model.graph;
  if (g.nodes.every((n) => n.name)) return model;
  return { ...model, graph: { ...g, nodes: g.nodes.map((n, i) => (n.name ? n : { ...n, name: nodeLabel(n, i) })) } };
}

/** A conv or dense layer with its weight tensor, as scores, hardening and pruning see it. */
export interface ComputeLayer {
  node: Node;
  /** The layer's label (nodeLabel): the key of its scores and its name in reports and errors. */
  label: string;
  /** 'conv' or 'dense'. */
  kind: 'conv' | 'dense';
  weight: string;
  bias?: string;
  /** Output channels (conv) or output neurons (dense). */
  outChannels: number;
  /** Whether the layer produces the model's output (directly or through shape-only ops). */
  isOutput: boolean;
}

/** Ops after which a layer's output is still what the model outputs (registry field `keepsLayerOutput`). */
const KEEPS_LAYER_OUTPUT = opSet((r) => !!r.keepsLayerOutput);

/**
 * The conv and dense layers of a model in graph order, with their weights. Dense means Gemm, or
 * MatMul with a constant 2-D weight (+ a following Add for the bias). With `stored`, also layers
 * whose weight is stored in another format and converted where it is read (graph/stored.ts: a
 * Cast from float16/bfloat16, a DequantizeLinear); `weight` is then the stored initializer.
 */
export function computeLayers(model: Model, opts: { stored?: boolean } = {}): ComputeLayer[] {
  const g = model.graph;
  let prod: Map<string, Node> | undefined;
  const weightOf = (v: string): Tensor | undefined => (opts.stored ? storedTensor(g, v, (prod ??= producers(g))) : g.initializers.get(v));
  const out: ComputeLayer[] = [];
  const cons = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const reachesOutput = (value: string, depth = 0): boolean => {
    if (outputs.has(value)) return true;
    if (depth > 4) return false;
    return (cons.get(value) ?? []).some((n) => (KEEPS_LAYER_OUTPUT.has(n.opType) || (n.opType === 'Add' && g.initializers.has(n.inputs[1]))) && reachesOutput(n.outputs[0], depth + 1));
  };
  g.nodes.forEach((n, i) => {
    const label = nodeLabel(n, i);
    if (n.opType === 'Conv') {
      const w = weightOf(n.inputs[1]);
      if (!w) return;
      out.push({ node: n, label, kind: 'conv', weight: w.name, bias: n.inputs[2] || undefined, outChannels: w.dims[0], isOutput: reachesOutput(n.outputs[0]) });
    } else if (n.opType === 'Gemm') {
      const w = weightOf(n.inputs[1]);
      if (!w || w.dims.length !== 2) return;
      const transB = n.attributes.transB?.type === 'int' ? n.attributes.transB.value : 0;
      out.push({ node: n, label, kind: 'dense', weight: w.name, bias: n.inputs[2] || undefined, outChannels: transB ? w.dims[0] : w.dims[1], isOutput: reachesOutput(n.outputs[0]) });
    } else if (n.opType === 'MatMul') {
      const w = weightOf(n.inputs[1]);
      if (!w || w.dims.length !== 2) return;
      const add = (cons.get(n.outputs[0]) ?? []).find((c) => c.opType === 'Add' && g.initializers.has(c.inputs[1]));
      out.push({ node: n, label, kind: 'dense', weight: w.name, bias: add?.inputs[1], outChannels: w.dims[1], isOutput: reachesOutput(n.outputs[0]) });
    }
  });
  return out;
}

/** The layers labelled `labels`, in that order; throws a FlipguardError naming an unknown one and listing the layers. */
export function findLayers(model: Model, labels: readonly string[], opts: { stored?: boolean } = {}): ComputeLayer[] {
  const layers = computeLayers(model, opts);
  return labels.map((name) => {
    const l = layers.find((x) => x.label === name);
    if (!l) throw new FlipguardError(`No conv or dense layer named "${name}"; the model's layers are ${layers.map((x) => x.label).join(', ')}.`);
    return l;
  });
}

/** The layer labelled `name`, or a FlipguardError listing the layers. */
export function findLayer(model: Model, name: string, opts: { stored?: boolean } = {}): ComputeLayer {
  return findLayers(model, [name], opts)[0];
}
