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
import { A, floatTensor } from '../graph/builder.js';
import { GraphEditor as Editor, Insertion } from '../graph/editor.js';
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type TensorData } from '../graph/types.js';

/** Doc string put on every node a hardening transform inserts. */
export const HARDEN_TAG = 'flipguard.harden';

/** The graph editor (graph/editor.ts) on a model's graph, tagging what it inserts and handing out hardening `Emitter`s. */
export class GraphEditor {
  private readonly core: Editor;

  constructor(model: Model) {
    this.core = new Editor(model.graph, HARDEN_TAG);
  }

  /** The working copy (the input model's graph is never mutated). */
  get graph(): Graph {
    return this.core.graph;
  }

  /** A name not used yet in the graph, starting with `base`. */
  fresh(base: string): string {
    return this.core.fresh(base);
  }

  /** Adds an initializer under a fresh name based on `name`; returns the name used. */
  init(name: string, dataType: number, dims: number[], data: TensorData): string {
    return this.core.atEnd().initializer(name, dims, data, dataType);
  }

  /** Replaces (or adds) initializer `name` in place. */
  setInit(t: Tensor): void {
    this.core.setInit(t);
  }

  /** An emitter whose nodes are inserted right after `anchor` (in emission order). */
  after(anchor: Node): Emitter {
    return new Emitter(this, this.core.after(anchor));
  }

  /** An emitter whose nodes go before every existing node (for constant subgraphs). */
  atStart(): Emitter {
    return new Emitter(this, this.core.atStart());
  }

  /** The edited graph with inserted nodes placed in topological order. */
  finish(): Graph {
    return this.core.finish();
  }
}

/** Emits nodes into one insertion point of a GraphEditor, with hardening's helpers. */
export class Emitter {
  constructor(readonly editor: GraphEditor, private readonly at: Insertion) {}

  /** Appends a single-output node; `out` fixes the output name (else a fresh one from `name`); `docString` overrides the HARDEN_TAG tag. */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, opts: { name?: string; out?: string; docString?: string } = {}): string {
    return this.at.op(opType, inputs, attributes, opts);
  }

  /** Appends a node with the given (already fresh) output names. */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute>, outputs: string[]): string[] {
    return this.at.node(opType, inputs, attributes, { outputs });
  }

  /** Renames the output `value` of a node emitted here to `name` (consumers emitted later must not exist yet). */
  renameOutput(value: string, name: string): void {
    const list = this.at.nodes;
    for (let i = list.length - 1; i >= 0; i--) {
      const n = list[i];
      const j = n.outputs.indexOf(value);
      if (j >= 0) {
        for (const m of list) m.inputs = m.inputs.map((x) => (x === value ? name : x));
        n.outputs[j] = name;
        return;
      }
    }
    throw new Error(`harden: no emitted node produces ${value}`);
  }

  /** A Constant node holding `t` (not a parameter, not a fault target). */
  constant(name: string, t: Omit<Tensor, 'name'>): string {
    return this.at.tensor(name, t, 'constant');
  }

  /** A float32 scalar Constant; `docString` overrides its HARDEN_TAG tag (e.g. GUARD_TAG: kept by counting tools). */
  scalar(value: number, name = 'const', docString?: string): string {
    if (docString) return this.op('Constant', [], { value: A.t(floatTensor('', [], [value])) }, { name, docString });
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
    return this.at.initializer(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))), DataType.INT64);
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
