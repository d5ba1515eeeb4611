/**
 * The one graph editor: fresh unique names, nodes appended or inserted right after a given node,
 * and an explicit choice, for every constant, between an ONNX `Constant` node and an initializer.
 *
 * By flipguard's conventions (graph/count.ts) a `Constant` node is neither a parameter nor a fault
 * target, while a float initializer is both (it is stored, so faults reach it); integer initializers
 * are stored but not parameters. So the choice is part of what a transform means, and every caller
 * states it (`Insertion.tensor(name, t, 'constant' | 'initializer')`).
 *
 * `GraphBuilder` (graph/builder.ts), hardening's editor (harden/graph-edit.ts) and the gradient
 * rules' `Emitter` (graph/emitter.ts) are uses of this module. A Graph given to the editor is
 * copied first (copy-on-write); names are never reused.
 */
import { A } from './attributes.js';
import { DataType, type Attribute, type Graph, type Node, type Tensor, type TensorData } from './types.js';

/** Where a constant lives: a `Constant` node (not a parameter, not a fault target) or an initializer (stored). */
export type ConstantStore = 'constant' | 'initializer';

/** The names used in a graph, and fresh ones. */
export class NameScope {
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(names: Iterable<string> = []) {
    for (const n of names) if (n) this.used.add(n);
  }

  /**
   * The names of `g`: node names and outputs, initializers, graph inputs and (unless
   * `graphOutputs` is false) graph outputs.
   */
  static of(g: Pick<Graph, 'nodes' | 'initializers' | 'inputs' | 'outputs'>, opts: { graphOutputs?: boolean } = {}): NameScope {
    const s = new NameScope();
    for (const n of g.nodes) { s.reserve(n.name); for (const o of n.outputs) s.reserve(o); }
    for (const k of g.initializers.keys()) s.reserve(k);
    for (const v of g.inputs) s.reserve(v.name);
    if (opts.graphOutputs ?? true) for (const v of g.outputs) s.reserve(v.name);
    return s;
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  /** Marks `name` as used; returns it. */
  reserve(name: string): string {
    if (name) this.used.add(name);
    return name;
  }

  /** `base` if unused, else `base_N` with N from one counter of this scope (so suffixes keep rising). */
  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** `base` if unused, else the first unused `base + suffix(k)` for k = 1, 2, … (e.g. k => '_'.repeat(k)). */
  variant(base: string, suffix: (k: number) => string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = base + suffix(k);
    this.used.add(name);
    return name;
  }
}

/** The suffix of `NameScope.variant` that appends underscores (`x`, `x_`, `x__`, …). */
export const underscores = (k: number): string => '_'.repeat(k);

/** The suffix of `NameScope.variant` that appends `.1`, `.2`, … */
export const dotted = (k: number): string => `.${k}`;

/** The suffix of `NameScope.variant` that appends `_1`, `_2`, … */
export const numberedUnderscore = (k: number): string => `_${k}`;

/** How `Insertion.node` names a node and its outputs. */
export interface NodeOptions {
  /** Base of the node's name (default: the op type in lower case); made fresh. */
  name?: string;
  /** Output names (used as given), or how many fresh ones (`<name>_out`, or `<name>_out0…` for several). */
  outputs?: number | string[];
  domain?: string;
  /** Doc string of the node (default: the insertion point's tag, if any). */
  docString?: string;
}

/** Converts `number[]` data to the typed array of `dataType` (int64 as BigInt64Array). */
function typedData(data: TensorData | number[], dataType: number): TensorData {
  if (!Array.isArray(data)) return data;
  return dataType === DataType.INT64 ? BigInt64Array.from(data.map((v) => BigInt(v))) : new Float32Array(data);
}

/** One place nodes go: appended in emission order to a node list the editor (or builder) owns. */
export class Insertion {
  constructor(
    readonly scope: NameScope,
    readonly initializers: Map<string, Tensor>,
    private readonly list: Node[],
    /** Doc string put on every node emitted here (e.g. hardening's tag). */
    readonly tag?: string,
  ) {}

  /** The nodes emitted here so far (in order). */
  get nodes(): readonly Node[] {
    return this.list;
  }

  /** Appends a node and returns its output names (see NodeOptions). */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: NodeOptions = {}): string[] {
    const name = this.scope.fresh(opts.name ?? opType.toLowerCase());
    const outputs = Array.isArray(opts.outputs)
      ? opts.outputs.map((o) => this.scope.reserve(o))
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.scope.fresh(opts.outputs === undefined || opts.outputs === 1 ? `${name}_out` : `${name}_out${i}`));
    const n: Node = { name, opType, domain: opts.domain ?? '', inputs, outputs, attributes };
    const doc = opts.docString ?? this.tag;
    if (doc !== undefined) n.docString = doc;
    this.list.push(n);
    return outputs;
  }

  /** Appends a single-output node; `out` fixes the output's name. Returns the output. */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: Omit<NodeOptions, 'outputs'> & { out?: string } = {}): string {
    return this.node(opType, inputs, attributes, { ...opts, outputs: opts.out === undefined ? 1 : [opts.out] })[0];
  }

  /** Adds an initializer under a fresh name based on `name`; returns the name used. */
  initializer(name: string, dims: readonly number[], data: TensorData | number[], dataType: number = DataType.FLOAT): string {
    const n = this.scope.fresh(name);
    this.initializers.set(n, { name: n, dataType, dims: [...dims], data: typedData(data, dataType) });
    return n;
  }

  /**
   * A constant tensor under a fresh name based on `name`, stored as `store` says: a `Constant` node
   * emitted here (its output carries the name), or an initializer. Returns the value's name.
   */
  tensor(name: string, t: Omit<Tensor, 'name'>, store: ConstantStore): string {
    if (store === 'initializer') return this.initializer(name, t.dims, t.data, t.dataType);
    const n = this.scope.fresh(name);
    return this.op('Constant', [], { value: A.t({ ...t, name: n }) }, { name: n, out: n });
  }
}

/** A shallow structural copy of a graph: new node list, initializer map and io arrays (tensors shared). */
export function copyGraph(g: Graph): Graph {
  return {
    ...g, nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } })),
    initializers: new Map(g.initializers), inputs: [...g.inputs], outputs: [...g.outputs], valueInfo: [...g.valueInfo],
  };
}

/**
 * A copy-on-write editor of one graph: nodes inserted right after existing nodes (`after`), before
 * all of them (`atStart`) or after all of them (`atEnd`); `finish` returns the edited graph.
 */
export class GraphEditor {
  /** The working copy (the graph given is never mutated). */
  readonly graph: Graph;
  readonly scope: NameScope;
  private readonly inserted = new Map<Node, Node[]>();
  private readonly prefix: Node[][] = [];
  private readonly tail: Node[] = [];

  constructor(base: Graph, readonly tag?: string) {
    this.graph = copyGraph(base);
    this.scope = NameScope.of(this.graph);
  }

  /** A name not used yet in the graph, starting with `base`. */
  fresh(base: string): string {
    return this.scope.fresh(base);
  }

  /** Replaces (or adds) initializer `t.name` in place. */
  setInit(t: Tensor): void {
    this.scope.reserve(t.name);
    this.graph.initializers.set(t.name, t);
  }

  private point(list: Node[]): Insertion {
    return new Insertion(this.scope, this.graph.initializers, list, this.tag);
  }

  /** Nodes emitted here go right after `anchor` (in emission order). */
  after(anchor: Node): Insertion {
    let list = this.inserted.get(anchor);
    if (!list) { list = []; this.inserted.set(anchor, list); }
    return this.point(list);
  }

  /** Nodes emitted here go before every existing node (for constant subgraphs). */
  atStart(): Insertion {
    const list: Node[] = [];
    this.prefix.push(list);
    return this.point(list);
  }

  /** Nodes emitted here go after every existing node. */
  atEnd(): Insertion {
    return this.point(this.tail);
  }

  /** The edited graph with inserted nodes placed in topological order. */
  finish(): Graph {
    const nodes: Node[] = [];
    for (const p of this.prefix) nodes.push(...p);
    for (const n of this.graph.nodes) {
      nodes.push(n);
      const extra = this.inserted.get(n);
      if (extra) nodes.push(...extra);
    }
    nodes.push(...this.tail);
    return { ...this.graph, nodes };
  }
}
