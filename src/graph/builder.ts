/**
 * Helpers to build and edit graphs in TypeScript. Transforms copy what they change: a Graph given
 * to a transform is never mutated.
 */
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type TensorData, type ValueInfo, type Dim } from './types.js';
import { FLIPGUARD_VERSION } from '../defaults.js';

/** Attribute constructors (ONNX distinguishes int and float attributes, JavaScript does not). */
export const A = {
  i: (value: number): Attribute => ({ type: 'int', value }),
  f: (value: number): Attribute => ({ type: 'float', value }),
  s: (value: string): Attribute => ({ type: 'string', value }),
  is: (value: number[]): Attribute => ({ type: 'ints', value }),
  fs: (value: number[]): Attribute => ({ type: 'floats', value }),
  t: (value: Tensor): Attribute => ({ type: 'tensor', value }),
};

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

/** Builds a graph node by node, naming what it creates uniquely. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly name = 'graph', base?: Graph) {
    if (base) {
      for (const n of base.nodes) { this.nodes.push(n); for (const o of n.outputs) this.used.add(o); if (n.name) this.used.add(n.name); }
      for (const [k, t] of base.initializers) { this.initializers.set(k, t); this.used.add(k); }
      for (const v of base.inputs) { this.inputs.push(v); this.used.add(v.name); }
      for (const v of base.outputs) this.outputs.push(v);
    }
  }

  /** A name not used yet in this graph, starting with `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, shape: Dim[], elemType: number = DataType.FLOAT): string {
    this.used.add(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, shape?: Dim[], elemType: number = DataType.FLOAT): void {
    this.outputs.push({ name, elemType, shape });
  }

  /** Adds an initializer under a fresh name based on `name`; returns the name used. */
  init(name: string, dims: number[], data: TensorData | number[], dataType: number = DataType.FLOAT): string {
    const n = this.fresh(name);
    let values: TensorData;
    if (Array.isArray(data)) values = dataType === DataType.INT64 ? BigInt64Array.from(data.map((v) => BigInt(v))) : new Float32Array(data);
    else values = data;
    this.initializers.set(n, { name: n, dataType, dims: [...dims], data: values });
    return n;
  }

  /** An int64 constant initializer (shapes, axes). */
  ints(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.init(name, dims, values, DataType.INT64);
  }

  /**
   * Appends a node. `outputs` is a count (fresh names from the op type) or explicit names.
   * Returns the output names.
   */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: { name?: string; outputs?: number | string[]; domain?: string } = {}): string[] {
    const name = this.fresh(opts.name ?? opType.toLowerCase());
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs.map((o) => { this.used.add(o); return o; })
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(opts.outputs === undefined || opts.outputs === 1 ? `${name}_out` : `${name}_out${i}`));
    this.nodes.push({ name, opType, domain: opts.domain ?? '', inputs, outputs: outs, attributes });
    return outs;
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

/** A shallow structural copy of a graph: new node list, initializer map and io arrays (tensors shared). */
export function copyGraph(g: Graph): Graph {
  return {
    ...g, nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } })),
    initializers: new Map(g.initializers), inputs: [...g.inputs], outputs: [...g.outputs], valueInfo: [...g.valueInfo],
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
