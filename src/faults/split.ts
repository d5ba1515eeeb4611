/**
 * Splitting a model at an intermediate value: a prefix that computes the value (and whatever else
 * the rest of the graph reads from that part), and a suffix that takes those values as inputs.
 * Running prefix then suffix computes exactly what the whole model computes, which lets callers
 * (a) change an activation between the two halves (neuron bit flips) and (b) cache the prefix's
 * outputs once and re-run only the suffix (campaign prefix reuse).
 */
import { FlipguardError } from '../errors.js';
import { DataType, type Graph, type Model, type Node, type ValueInfo } from '../graph/types.js';
import { liveValues } from './params.js';

export interface GraphSplit {
  /** The cut value. */
  cut: string;
  /** Values the suffix reads that come from the prefix or the data input (the cut first). */
  crossing: string[];
  /** Nodes (of the original graph) that compute the cut, i.e. the cut's ancestors. */
  prefixNodes: Node[];
  /** Every other node some graph output depends on. */
  suffixNodes: Node[];
  /** Initializers read by prefix nodes. */
  prefixParams: Set<string>;
  /** Initializers read by suffix nodes. */
  suffixParams: Set<string>;
}

function hasSubgraph(n: Node): boolean {
  return Object.values(n.attributes).some((a) => a.type === 'graph');
}

/**
 * Partitions the nodes of `model` at value `cut` (without building models). Throws when the value
 * is not produced by a node or the graph holds control flow (subgraphs).
 */
export function partitionAt(model: Model, cut: string, live: Set<string> = liveValues(model.graph)): GraphSplit {
  const g = model.graph;
  if (g.nodes.some(hasSubgraph)) throw new FlipguardError('The model contains control-flow subgraphs (If/Loop/Scan), which flipguard cannot split; use a model without them.');
  const producerIdx = new Map<string, number>();
  g.nodes.forEach((n, i) => { for (const o of n.outputs) if (o) producerIdx.set(o, i); });
  const pi = producerIdx.get(cut);
  if (pi === undefined) throw new FlipguardError(`No node produces the value "${cut}"; name an intermediate value of the model (a node output).`);
  // ancestors of the cut
  const inPrefix = new Array<boolean>(g.nodes.length).fill(false);
  const need = new Set<string>([cut]);
  for (let i = pi; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => need.has(o))) { inPrefix[i] = true; for (const x of n.inputs) if (x) need.add(x); }
  }
  const prefixNodes: Node[] = [];
  const suffixNodes: Node[] = [];
  g.nodes.forEach((n, i) => {
    if (inPrefix[i]) prefixNodes.push(n);
    else if (n.outputs.some((o) => live.has(o))) suffixNodes.push(n);
  });
  const prefixValues = new Set<string>();
  for (const n of prefixNodes) for (const o of n.outputs) prefixValues.add(o);
  const dataInputs = new Set(g.inputs.map((v) => v.name));
  const crossing: string[] = [cut];
  const seen = new Set<string>([cut]);
  const prefixParams = new Set<string>();
  const suffixParams = new Set<string>();
  for (const n of prefixNodes) for (const x of n.inputs) if (x && g.initializers.has(x)) prefixParams.add(x);
  for (const n of suffixNodes) {
    for (const x of n.inputs) {
      if (!x) continue;
      if (g.initializers.has(x)) { suffixParams.add(x); continue; }
      if ((prefixValues.has(x) || dataInputs.has(x)) && !seen.has(x)) { seen.add(x); crossing.push(x); }
    }
  }
  // graph outputs computed inside the prefix also cross
  for (const o of g.outputs) if (prefixValues.has(o.name) && !seen.has(o.name)) { seen.add(o.name); crossing.push(o.name); }
  return { cut, crossing, prefixNodes, suffixNodes, prefixParams, suffixParams };
}

function pick<T>(m: Map<string, T>, names: Set<string>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of m) if (names.has(k)) out.set(k, v);
  return out;
}

/** Value types for building split models: element type and, optionally, shape. */
export type ValueTypes = ReadonlyMap<string, { elemType: number; shape?: (number | string | null)[] }>;

function typeOf(g: Graph, name: string, types: ValueTypes | undefined): ValueInfo {
  const t = types?.get(name);
  if (t) return { name, elemType: t.elemType, shape: t.shape };
  const v = [...g.inputs, ...g.outputs, ...g.valueInfo].find((x) => x.name === name);
  if (v) return { ...v };
  return { name, elemType: DataType.FLOAT };
}

/**
 * Builds the prefix and suffix models of a split. The prefix has the original data inputs it needs
 * and outputs the crossing values it produces; the suffix has the crossing values as inputs (cut
 * first) and the original outputs. Element types of crossing values come from `types`, the graph's
 * value info, or default to float32.
 */
export function splitModels(model: Model, split: GraphSplit, types?: ValueTypes): { prefix: Model; suffix: Model } {
  const g = model.graph;
  const prefixValues = new Set<string>();
  for (const n of split.prefixNodes) for (const o of n.outputs) prefixValues.add(o);
  const suffixValues = new Set<string>();
  for (const n of split.suffixNodes) for (const o of n.outputs) suffixValues.add(o);
  const prefixReads = new Set<string>();
  for (const n of split.prefixNodes) for (const x of n.inputs) if (x) prefixReads.add(x);
  const prefixGraph: Graph = {
    ...g,
    name: `${g.name}_prefix`,
    nodes: [...split.prefixNodes],
    initializers: pick(g.initializers, split.prefixParams),
    inputs: g.inputs.filter((v) => prefixReads.has(v.name)),
    outputs: split.crossing.filter((c) => prefixValues.has(c)).map((c) => typeOf(g, c, types)),
    valueInfo: g.valueInfo.filter((v) => prefixValues.has(v.name)),
    initializerInputs: g.initializerInputs?.filter((v) => split.prefixParams.has(v.name)),
  };
  const suffixGraph: Graph = {
    ...g,
    name: `${g.name}_suffix`,
    nodes: [...split.suffixNodes],
    initializers: pick(g.initializers, split.suffixParams),
    inputs: split.crossing.map((c) => typeOf(g, c, types)),
    outputs: g.outputs.map((o) => ({ ...o })),
    valueInfo: g.valueInfo.filter((v) => suffixValues.has(v.name)),
    initializerInputs: g.initializerInputs?.filter((v) => split.suffixParams.has(v.name)),
  };
  return { prefix: { ...model, graph: prefixGraph }, suffix: { ...model, graph: suffixGraph } };
}

/**
 * Values `v` at which the model splits cleanly: the suffix reads nothing but `v` (no skip
 * connection crosses it, the data input is not read again) and `v` is not a graph output. In graph
 * order. Only meaningful for single-input models.
 */
export function singleValueCuts(model: Model): GraphSplit[] {
  const g = model.graph;
  if (g.inputs.length !== 1 || g.nodes.some(hasSubgraph)) return [];
  const live = liveValues(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const cuts: GraphSplit[] = [];
  for (const n of g.nodes) {
    for (const v of n.outputs) {
      if (!v || !live.has(v) || outputs.has(v)) continue;
      const s = partitionAt(model, v, live);
      if (s.crossing.length === 1 && s.suffixNodes.length > 0) cuts.push(s);
    }
  }
  return cuts;
}
