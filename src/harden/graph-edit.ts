/**
 * Graph surgery shared by the hardening transforms: a copy-on-write editor that inserts nodes
 * right after a given node, hands out unique names, and keeps every inserted node tagged (doc
 * string `flipguard.harden`) so tools can tell hardening logic from the model's own layers.
 *
 * Constants that are NOT meant to be faultable (zeros, lookup tables) are emitted as ONNX
 * `Constant` nodes: by flipguard's conventions (graph/count.ts) they are neither parameters nor
 * fault targets. Redundant parameters (replicas, interval bounds) are float32 initializers, so
 * fault injection reaches them. Index tensors (channel lists, permutations) are integer
 * initializers: stored (counted in stored bytes) but not parameters.
 */
import { A, copyGraph, floatTensor } from '../graph/builder.js';
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type TensorData } from '../graph/types.js';

/** Doc string put on every node a hardening transform inserts. */
export const HARDEN_TAG = 'flipguard.harden';

export class GraphEditor {
  /** The working copy (the input model's graph is never mutated). */
  readonly graph: Graph;
  private readonly used = new Set<string>();
  private readonly inserted = new Map<Node, Node[]>();
  private counter = 0;

  constructor(model: Model) {
    this.graph = copyGraph(model.graph);
    const g = this.graph;
    for (const n of g.nodes) { if (n.name) this.used.add(n.name); for (const o of n.outputs) if (o) this.used.add(o); }
    for (const k of g.initializers.keys()) this.used.add(k);
    for (const v of g.inputs) this.used.add(v.name);
    for (const v of g.outputs) this.used.add(v.name);
  }

  /** A name not used yet in the graph, starting with `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Adds an initializer under a fresh name based on `name`; returns the name used. */
  init(name: string, dataType: number, dims: number[], data: TensorData): string {
    const n = this.fresh(name);
    this.graph.initializers.set(n, { name: n, dataType, dims: [...dims], data });
    return n;
  }

  /** Replaces (or adds) initializer `name` in place. */
  setInit(t: Tensor): void {
    this.used.add(t.name);
    this.graph.initializers.set(t.name, t);
  }

  /** An emitter whose nodes are inserted right after `anchor` (in emission order). */
  after(anchor: Node): Emitter {
    let list = this.inserted.get(anchor);
    if (!list) { list = []; this.inserted.set(anchor, list); }
    return new Emitter(this, list);
  }

  /** An emitter whose nodes go before every existing node (for constant subgraphs). */
  atStart(): Emitter {
    const list: Node[] = [];
    this.prefix.push(list);
    return new Emitter(this, list);
  }
  private readonly prefix: Node[][] = [];

  /** The edited graph with inserted nodes placed in topological order. */
  finish(): Graph {
    const nodes: Node[] = [];
    for (const p of this.prefix) nodes.push(...p);
    for (const n of this.graph.nodes) {
      nodes.push(n);
      const extra = this.inserted.get(n);
      if (extra) nodes.push(...extra);
    }
    return { ...this.graph, nodes };
  }
}

/** Emits nodes into one insertion point of a GraphEditor. */
export class Emitter {
  constructor(readonly editor: GraphEditor, private readonly list: Node[]) {}

  /** Appends a single-output node; `out` fixes the output name (else a fresh one from `name`); `docString` overrides the HARDEN_TAG tag. */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: { name?: string; out?: string; docString?: string } = {}): string {
    const name = this.editor.fresh(opts.name ?? opType.toLowerCase());
    const out = opts.out ?? this.editor.fresh(`${name}_out`);
    this.list.push({ name, opType, domain: '', inputs, outputs: [out], attributes, docString: opts.docString ?? HARDEN_TAG });
    return out;
  }

  /** Appends a node with the given (already fresh) output names. */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute>, outputs: string[]): string[] {
    const name = this.editor.fresh(opType.toLowerCase());
    this.list.push({ name, opType, domain: '', inputs, outputs, attributes, docString: HARDEN_TAG });
    return outputs;
  }

  /** Renames the output `value` of a node emitted here to `name` (consumers emitted later must not exist yet). */
  renameOutput(value: string, name: string): void {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const n = this.list[i];
      const j = n.outputs.indexOf(value);
      if (j >= 0) {
        for (const m of this.list) m.inputs = m.inputs.map((x) => (x === value ? name : x));
        n.outputs[j] = name;
        return;
      }
    }
    throw new Error(`harden: no emitted node produces ${value}`);
  }

  /** A Constant node holding `t` (not a parameter, not a fault target). */
  constant(name: string, t: Omit<Tensor, 'name'>): string {
    const n = this.editor.fresh(name);
    return this.op('Constant', [], { value: A.t({ ...t, name: n }) }, { name: n, out: n });
  }

  /** A float32 scalar Constant. */
  scalar(value: number, name = 'const'): string {
    return this.constant(name, floatTensor('', [], [value]));
  }

  /** A float32 Constant of any shape. */
  floats(name: string, dims: number[], values: number[] | Float32Array): string {
    return this.constant(name, floatTensor('', dims, values));
  }

  /** A float64 Constant. */
  doubles(name: string, dims: number[], values: number[]): string {
    return this.constant(name, { dataType: DataType.DOUBLE, dims, data: Float64Array.from(values) });
  }

  /** An int64 Constant (for shapes, axes, arithmetic on words). */
  int64s(name: string, dims: number[], values: number[]): string {
    return this.constant(name, { dataType: DataType.INT64, dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  /** An int64 initializer (stored index data: channel lists, permutations). */
  indexInit(name: string, values: readonly number[]): string {
    return this.editor.init(name, DataType.INT64, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  // ── small op helpers ──
  where(c: string, x: string, y: string, out?: string): string { return this.op('Where', [c, x, y], {}, { out }); }
  and(a: string, b: string): string { return this.op('And', [a, b]); }
  or(a: string, b: string): string { return this.op('Or', [a, b]); }
  not(a: string): string { return this.op('Not', [a]); }
  eq(a: string, b: string): string { return this.op('Equal', [a, b]); }
  ge(a: string, b: string): string { return this.op('GreaterOrEqual', [a, b]); }
  le(a: string, b: string): string { return this.op('LessOrEqual', [a, b]); }
  min(...xs: string[]): string { return this.op('Min', xs); }
  max(...xs: string[]): string { return this.op('Max', xs); }

  /** Channels `idx` of `x` along axis 1 (Gather with a stored int64 index). */
  gatherChannels(x: string, idx: readonly number[], name: string): string {
    return this.op('Gather', [x, this.indexInit(name, idx)], { axis: A.i(1) });
  }

  /** x[:, start:end] along axis 1. */
  sliceChannels(x: string, start: number, end: number): string {
    return this.op('Slice', [x, this.int64s('starts', [1], [start]), this.int64s('ends', [1], [end]), this.int64s('axes', [1], [1])]);
  }
}
