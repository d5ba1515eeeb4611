/**
 * Helpers to build and edit graphs in TypeScript. Transforms copy what they change: a Graph given
 * to a transform is never mutated.
 */
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type TensorData, type ValueInfo, type Dim } from './types.js';
import { FLIPGUARD_VERSION } from '../defaults.js';
import { Insertion, NameScope, copyGraph, type ConstantStore } from './editor.js';

export { A } from './attributes.js';
export { copyGraph } from './editor.js';

/** A float32 tensor. */
export function floatTensor(name: string, dims: number[], data: Float32Array | number[]): Tensor {
  return { name, dataType: DataType.FLOAT, dims: [...dims], data: data instanceof Float32Array ? data : new Float32Array(data) };
}

/** An int64 tensor (for shapes, axes, pads…). */
export function int64Tensor(name: string, dims: number[], values: number[]): Tensor {
  return { name, dataType: DataType.INT64, dims: [...dims], data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

/** Reads an attribute as a number, with a default. */
export function attrInt(node: Node, name: string, dflt: number): number {
  const a = node.attributes[name];
  return a && (a.type === 'int' || a.type === 'float') ? a.value : dflt;
}
export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = node.attributes[name];
  return a && (a.type === 'float' || a.type === 'int') ? a.value : dflt;
}
export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attributes[name];
  return a && a.type === 'ints' ? a.value : undefined;
}
export function attrString(node: Node, name: string, dflt: string): string {
  const a = node.attributes[name];
  return a && a.type === 'string' ? a.value : dflt;
}

/** Reads an integer tensor (initializer) as numbers. */
export function tensorInts(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Builds a graph node by node, naming what it creates uniquely: the graph editor (editor.ts)
 * appending to the end of `nodes`, with the node list, initializers and io kept as public fields.
 */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private readonly scope: NameScope;
  private readonly end: Insertion;

  constructor(readonly name = 'graph', base?: Graph) {
    if (base) {
      this.nodes.push(...base.nodes);
      for (const [k, t] of base.initializers) this.initializers.set(k, t);
      this.inputs.push(...base.inputs);
      this.outputs.push(...base.outputs);
    }
    this.scope = base ? NameScope.of(base, { graphOutputs: false }) : new NameScope();
    this.end = new Insertion(this.scope, this.initializers, this.nodes);
  }

  /** A name not used yet in this graph, starting with `base`. */
  fresh(base: string): string {
    return this.scope.fresh(base);
  }

  input(name: string, shape: Dim[], elemType: number = DataType.FLOAT): string {
    this.scope.reserve(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, shape?: Dim[], elemType: number = DataType.FLOAT): void {
    this.outputs.push({ name, elemType, shape });
  }

  /** Adds an initializer under a fresh name based on `name`; returns the name used. */
  init(name: string, dims: number[], data: TensorData | number[], dataType: number = DataType.FLOAT): string {
    return this.end.initializer(name, dims, data, dataType);
  }

  /** An int64 constant initializer (shapes, axes). */
  ints(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.init(name, dims, values, DataType.INT64);
  }

  /** A constant under a fresh name based on `name`: a Constant node or an initializer, as `store` says. */
  tensor(name: string, t: Omit<Tensor, 'name'>, store: ConstantStore): string {
    return this.end.tensor(name, t, store);
  }

  /**
   * Appends a node. `outputs` is a count (fresh names from the op type) or explicit names.
   * Returns the output names.
   */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: { name?: string; outputs?: number | string[]; domain?: string } = {}): string[] {
    return this.end.node(opType, inputs, attributes, opts);
  }

  /** Appends a single-output node and returns its output name. */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, name?: string): string {
    return this.node(opType, inputs, attributes, { name })[0];
  }

  build(extra: Partial<Graph> = {}): Graph {
    return {
      name: this.name, nodes: [...this.nodes], initializers: new Map(this.initializers), inputs: [...this.inputs],
      outputs: [...this.outputs], valueInfo: [], ...extra,
    };
  }
}

/** Default opset flipguard writes (onnxruntime 1.30 supports it fully). */
export const DEFAULT_OPSET = 17;

/** Wraps a graph as a Model with flipguard as the producer. */
export function makeModel(graph: Graph, opts: { opset?: number; metadata?: [string, string][]; docString?: string } = {}): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opts.opset ?? DEFAULT_OPSET }],
    producerName: 'flipguard', producerVersion: FLIPGUARD_VERSION, domain: '', modelVersion: 1,
    docString: opts.docString ?? '', metadata: opts.metadata ?? [], graph,
  };
}

/** Map from value name to the node producing it. */
export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/**
 * The initializer behind value `v`, following Identity nodes (PyTorch's exporter stores equal
 * initializers once and feeds the other users through Identity: in squeezenet1_0 the zero bias of
 * every fire module's expand3x3 conv is `Identity(expand1x1.bias)`); undefined for a computed value.
 */
export function storedValue(v: string, prod: ReadonlyMap<string, Node>, inits: ReadonlyMap<string, unknown>): string | undefined {
  for (let hops = 0; hops < 16; hops++) {
    if (inits.has(v)) return v;
    const p = prod.get(v);
    if (!p || p.opType !== 'Identity') return undefined;
    v = p.inputs[0];
  }
  return undefined;
}

/**
 * A copy of `g` whose nodes read initializers directly instead of through Identity chains (see
 * storedValue), without the Identity nodes that are then unused; `g` itself when there are none.
 * Outputs are unchanged (Identity is exact); transforms that slice or copy stored tensors see them.
 */
export function readInitializersDirectly(g: Graph): Graph {
  const prod = producers(g);
  const direct = new Map<string, string>();
  for (const n of g.nodes) if (n.opType === 'Identity' && n.domain === '') {
    const s = storedValue(n.outputs[0], prod, g.initializers);
    if (s && s !== n.outputs[0]) direct.set(n.outputs[0], s);
  }
  if (!direct.size) return g;
  const out = copyGraph(g);
  for (const n of out.nodes) n.inputs = n.inputs.map((i) => direct.get(i) ?? i);
  const used = new Set([...out.nodes.flatMap((n) => n.inputs), ...out.outputs.map((o) => o.name)]);
  out.nodes = out.nodes.filter((n) => !(direct.has(n.outputs[0]) && !used.has(n.outputs[0])));
  return out;
}

/** Map from value name to the nodes consuming it. */
export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) { if (!i) continue; const l = m.get(i); if (l) l.push(n); else m.set(i, [n]); }
  return m;
}
