/**
 * Reverse-mode differentiation of an ONNX graph into an ONNX graph: the forward nodes, then one
 * vector-Jacobian block per forward node on a path from a `wrt` value to the target, in reverse
 * order, with contributions to a value used by several consumers added by a Sum node. onnxruntime
 * runs the result; no tensor arithmetic happens here.
 *
 * Conventions: a gradient output has the shape of its `wrt` value and is named `<wrt>_grad`
 * (made unique). The cross-entropy loss is the mean over the batch of −log softmax(logits)[label]
 * (natural log), so its gradient is (softmax − onehot)/batch. Gradients are float32.
 */
import { FlipguardError } from '../errors.js';
import { A, GraphBuilder, attrInt } from '../graph/builder.js';
import { isFloatType } from '../graph/dtype.js';
import { DataType, defaultOpset, type DataTypeCode, type Dim, type Graph, type Model, type Node, type ValueInfo } from '../graph/types.js';
import { analyzeForGradient } from './analysis.js';
import { Emitter } from './emitter.js';
import { upgradeOpset } from './opset.js';
import { differentiableSlots, ruleFor, type GradRule, type RuleContext } from './rule.js';
import { NameScope, underscores } from '../graph/editor.js';

export interface GradientOptions {
  /**
   * Builds the target: `'cross_entropy'` adds an int64 input (`labels`, shape [batch], class
   * indices) and the mean softmax cross-entropy over the batch of the `logits` value.
   */
  loss?: 'cross_entropy';
  /** Logits the loss reads; default the model's first output. */
  logits?: string;
  /** Name of the labels input the loss adds; default "labels". */
  labels?: string;
  /** Or: the gradient of model value `output` is fed at run time as the new input `gradInput` (same shape). */
  seed?: { output: string; gradInput: string };
  /** Or: differentiate this value (a non-scalar value is summed first, i.e. seeded with ones). */
  scalar?: string;
  /** Values to differentiate with respect to: initializer names and/or graph inputs and node outputs. */
  wrt: string[];
  /** Keep the model's own outputs as outputs of the gradient graph (default false). */
  keepOutputs?: boolean;
  /** Turn the `wrt` initializers into graph inputs of the same name (fed at every run); default false. */
  paramsAsInputs?: boolean;
  /**
   * Batch size used for static shape inference (default 2 when the model's batch is free). The
   * gradient graph reads batch-dependent sizes at run time, so it also runs at other batch sizes
   * unless a Slice/Pad/Concat/Split acts along the batch axis.
   */
  batch?: number;
  /**
   * BatchNormalization semantics: `'as-is'` (default) keeps each node's training_mode;
   * `'inference'` uses the running statistics; `'training'` uses batch statistics (the node is
   * switched to training_mode = 1, as a training step needs).
   */
  batchNorm?: 'as-is' | 'inference' | 'training';
}

export interface GradientGraph {
  model: Model;
  /** Output name of the gradient of each `wrt` value. */
  gradOutputs: Map<string, string>;
  /** Output holding the (scalar) loss when `loss` was given (always an output then). */
  lossOutput?: string;
  /** Input holding the int64 labels when `loss` was given. */
  labelsInput?: string;
  /** Input holding the seed gradient when `seed` was given. */
  seedInput?: string;
}

/**
 * Internal extension used by per-sample gradients and LRP (analysis/lrp.ts): a seed computed
 * in-graph, a per-node override of the rules, and nodes appended after the backward pass that
 * choose the outputs (instead of the gradient outputs).
 */
export interface SeedHook {
  /** The value whose gradient the hook seeds. */
  output: string;
  /**
   * Emits nodes computing the gradient of `target` (shape of target); returns its name. `path`: the
   * nodes the sweep will visit (on a differentiated path from a wrt value to the target), in graph order.
   */
  seed(e: Emitter, target: string, shapes: ReadonlyMap<string, number[]>, path: readonly Node[]): string;
  /**
   * Emits nodes reading forward values and `grads` (gradient value of each wrt name that has one)
   * and returns the graph outputs; the graph is then pruned to what they need.
   */
  finish(e: Emitter, grads: ReadonlyMap<string, string>, shapes: ReadonlyMap<string, number[]>): ValueInfo[];
  /** Replaces the vector-Jacobian step of every node the sweep visits (see NodeOverride). */
  override?: NodeOverride;
}

/**
 * A per-node replacement of the vector-Jacobian step, the way Zennit attaches rules to layers as
 * hooks: the sweep (contribution map, sums, path search) stays the same, what flows back through
 * each node is the override's.
 */
export interface NodeOverride {
  /**
   * Whether every node on a differentiated path must have a vector-Jacobian rule before the sweep
   * starts (default true). With false, `backward` sees `ctx.rule` undefined for a node without one
   * and decides itself (LRP rejects such a node only when relevance reaches it).
   */
  requireRules?: boolean;
  /** Emits what flows back through ctx.node; one entry per input, as a rule returns (ctx.rule is the node's own rule). */
  backward(ctx: OverrideContext): (string | undefined)[];
}

/** What an override sees: a rule's context, the node's own rule and the differentiated region. */
export interface OverrideContext extends RuleContext {
  /** The node's vector-Jacobian rule from the registry (or a registered one); undefined only without `requireRules`. */
  readonly rule: GradRule | undefined;
  /** Whether a value lies on a differentiated path (depends on a wrt value and reaches the target). */
  live(value: string): boolean;
  /** Records the static shape and type of a value the override emitted (rules it calls may read them); returns the value. */
  declare(value: string, shape: readonly number[], type?: DataTypeCode): string;
}

/**
 * The gradient graph of `model` (see GradientOptions). Exactly one of `loss`, `seed`, `scalar`
 * chooses the target. Only the part of the graph between `wrt` and the target is differentiated;
 * forward nodes nothing needs are pruned. Throws a FlipguardError for unknown names, an op without a
 * gradient rule on a differentiated path, or options that do not fit together.
 */
export function gradientGraph(model: Model, opts: GradientOptions): GradientGraph {
  return buildGradient(model, opts);
}

/** gradientGraph with the internal per-sample extension (see SeedHook); not part of the public API. */
export function buildGradient(model: Model, opts: GradientOptions, hook?: SeedHook): GradientGraph {
  const targets = [opts.loss !== undefined, opts.seed !== undefined, opts.scalar !== undefined, hook !== undefined].filter(Boolean).length;
  if (targets !== 1) {
    throw new FlipguardError(`gradientGraph needs exactly one target (loss, seed or scalar) but got ${targets}; pass one of them.`);
  }
  if (opts.loss !== undefined && opts.loss !== 'cross_entropy') {
    throw new FlipguardError(`Unknown loss "${String(opts.loss)}"; use "cross_entropy".`);
  }
  if (!opts.wrt || !opts.wrt.length) throw new FlipguardError('gradientGraph needs at least one value in wrt; name the parameters or activations to differentiate with respect to.');
  if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1)) {
    throw new FlipguardError(`The batch size must be a whole number ≥ 1, got ${opts.batch}.`);
  }

  let m = upgradeOpset(model);
  m = setBatchNormMode(m, opts.batchNorm ?? 'as-is');
  m = exposeDropoutMasks(m);
  m = exposeMaxPoolIndices(m);
  const g = m.graph;
  const known = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const n of g.nodes) for (const o of n.outputs) if (o) known.add(o);
  const need = (v: string, role: string) => {
    if (!known.has(v)) throw new FlipguardError(`The ${role} "${v}" is not an initializer, input or node output of the model; check the name.`);
  };
  for (const w of opts.wrt) need(w, 'value to differentiate with respect to');
  const logits = opts.logits ?? g.outputs[0]?.name;
  let target: string;
  if (opts.loss) {
    if (!logits) throw new FlipguardError('The model has no outputs to read logits from; pass opts.logits.');
    need(logits, 'logits value');
    target = logits;
  } else if (opts.seed) {
    need(opts.seed.output, 'seeded output');
    if (known.has(opts.seed.gradInput)) throw new FlipguardError(`The seed input name "${opts.seed.gradInput}" is already used in the model; choose another name.`);
    target = opts.seed.output;
  } else if (hook) {
    need(hook.output, 'seeded output');
    target = hook.output;
  } else {
    need(opts.scalar!, 'value to differentiate');
    target = opts.scalar!;
  }
  for (const w of opts.wrt) {
    const t = g.initializers.get(w)?.dataType ?? g.inputs.find((v) => v.name === w)?.elemType;
    if (t !== undefined && !isFloatType(t)) throw new FlipguardError(`Cannot differentiate with respect to "${w}": it holds integers, not floating-point values; name a float parameter or activation.`);
  }

  // Phase 1, before shapes: every node on a differentiated path needs a rule.
  const wrtSet = new Set(opts.wrt);
  const slotsOf = (n: Node) => { const r = ruleFor(n); return r ? differentiableSlots(r, n) : n.inputs.map((_, i) => i); };
  const loose = reach(g.nodes, wrtSet, target, slotsOf);
  for (const n of loose.active) {
    if (!ruleFor(n) && hook?.override?.requireRules !== false) {
      const dom = n.domain && n.domain !== 'ai.onnx' ? ` from domain "${n.domain}"` : '';
      throw new FlipguardError(
        `No gradient rule for op ${n.opType}${dom} (node ${n.name ? `"${n.name}"` : 'without a name'}); differentiate only through supported ops or add a vjp rule to its record in src/graph/ops/${n.opType}.ts.`,
      );
    }
  }

  const fixed = g.inputs[0]?.shape?.[0];
  const batch = opts.batch ?? (typeof fixed === 'number' && fixed > 0 ? fixed : 2);
  const sa = analyzeForGradient(m, batch);
  const shapes = new Map(sa.shapes);
  const types = new Map(sa.types);
  const batchDim: Dim = (typeof fixed === 'number' || typeof fixed === 'string') ? fixed : 'batch';

  const b = new GraphBuilder(g.name, g);
  const opset = defaultOpset(m);
  const e = new Emitter(b, opset);
  let seed = '';
  let lossOutput: string | undefined;
  let labelsInput: string | undefined;
  let seedInput: string | undefined;
  if (opts.loss) {
    labelsInput = opts.labels ?? 'labels';
    if (known.has(labelsInput)) throw new FlipguardError(`The labels input name "${labelsInput}" is already used in the model; pass another name in opts.labels.`);
    const ls = shapes.get(target)!;
    if (ls.length < 2) throw new FlipguardError(`The logits "${target}" have shape [${ls.join(', ')}]; cross-entropy needs [batch, classes].`);
    b.input(labelsInput, [batchDim, ...ls.slice(2)], DataType.INT64);
    shapes.set(labelsInput, [ls[0], ...ls.slice(2)]);
    types.set(labelsInput, DataType.INT64);
    lossOutput = b.node('SoftmaxCrossEntropyLoss', [target, labelsInput], { reduction: A.s('mean') }, { name: 'loss', outputs: [b.fresh('loss')] })[0];
    shapes.set(lossOutput, []);
    types.set(lossOutput, DataType.FLOAT);
    target = lossOutput;
  }
  // the forward graph (with the loss node); the seed and gradient nodes come after
  const nodes = [...b.nodes];
  // Phase 2, with types: the exact differentiated region (float values only).
  const isFloat = (v: string) => { const t = types.get(v); return t === undefined || isFloatType(t); };
  const r = reach(nodes, wrtSet, target, slotsOf, isFloat);
  const live = (v: string) => v !== '' && r.fromWrt.has(v) && r.toTarget.has(v);

  if (opts.loss) {
    e.prefix = 'grad/seed/';
    seed = e.scalar(1);
  } else if (opts.seed) {
    seedInput = opts.seed.gradInput;
    const declared = g.outputs.find((o) => o.name === target)?.shape;
    const st = shapes.get(target)!;
    b.input(seedInput, declared ?? st.map((d, i) => (i === 0 ? batchDim : d)), DataType.FLOAT);
    shapes.set(seedInput, [...st]);
    types.set(seedInput, DataType.FLOAT);
    seed = seedInput;
  } else if (hook) {
    e.prefix = 'grad/seed/';
    seed = hook.seed(e, target, shapes, r.active);
  } else {
    e.prefix = 'grad/seed/';
    seed = e.filledLike(target, 1);
  }

  const contribs = new Map<string, string[]>();
  contribs.set(target, [seed]);
  const gradOf = (v: string): string | undefined => {
    const c = contribs.get(v);
    if (!c || !c.length) return undefined;
    if (c.length > 1) {
      e.prefix = `grad/sum/`;
      const s = e.sum(c);
      contribs.set(v, [s]);
      return s;
    }
    return c[0];
  };
  const shapeOf = (v: string): number[] => {
    const s = shapes.get(v);
    if (!s) throw new Error(`internal: no static shape for ${v}`);
    return s;
  };

  for (let k = r.active.length - 1; k >= 0; k--) {
    const n = r.active[k];
    const rule = ruleFor(n);
    const gradOutputs = n.outputs.map((o) => (live(o) ? gradOf(o) : undefined));
    if (gradOutputs.every((x) => x === undefined)) continue;
    const slots = new Set(slotsOf(n));
    const needs = n.inputs.map((inp, i) => slots.has(i) && live(inp));
    if (!needs.some(Boolean)) continue;
    e.prefix = `grad/${n.name || n.opType}/`;
    const ctx: RuleContext = {
      e, node: n, gradOutputs, needs,
      shape: shapeOf,
      value: (v) => sa.values.get(v),
      type: (v) => types.get(v) ?? DataType.FLOAT,
      fail: (problem, fix = 'differentiate with respect to values after this node or re-export the model') =>
        new FlipguardError(`Cannot differentiate node ${n.name ? `"${n.name}"` : 'without a name'} (${n.opType}): ${problem}; ${fix}.`),
    };
    const res = hook?.override
      ? hook.override.backward({
        ...ctx, rule, live,
        declare: (v, shape, type = DataType.FLOAT) => { shapes.set(v, [...shape]); types.set(v, type); return v; },
      })
      : rule!.backward(ctx);
    res.forEach((gname, i) => {
      if (gname === undefined || !needs[i]) return;
      const l = contribs.get(n.inputs[i]);
      if (l) l.push(gname); else contribs.set(n.inputs[i], [gname]);
    });
  }

  if (hook) {
    const grads = new Map<string, string>();
    for (const w of opts.wrt) {
      e.prefix = 'grad/out/';
      const gname = live(w) ? gradOf(w) : undefined;
      if (gname !== undefined) grads.set(w, gname);
    }
    e.prefix = 'post/';
    const outs = hook.finish(e, grads, shapes);
    const graph = prune({ ...g, nodes: b.nodes, initializers: b.initializers, inputs: b.inputs, outputs: outs });
    return { model: { ...m, graph }, gradOutputs: new Map() };
  }

  const gradOutputs = new Map<string, string>();
  const outputs: ValueInfo[] = opts.keepOutputs ? [...g.outputs] : [];
  if (lossOutput) outputs.push({ name: lossOutput, elemType: DataType.FLOAT, shape: [] });
  for (const w of opts.wrt) {
    if (gradOutputs.has(w)) continue;
    e.prefix = 'grad/out/';
    const gname = (live(w) ? gradOf(w) : undefined) ?? e.zerosLike(w);
    const out = b.fresh(`${w}_grad`);
    b.node('Identity', [gname], {}, { name: `grad/out/${w}`, outputs: [out] });
    gradOutputs.set(w, out);
    outputs.push({ name: out, elemType: DataType.FLOAT });
  }

  let graph: Graph = { ...g, nodes: b.nodes, initializers: b.initializers, inputs: b.inputs, outputs };
  if (opts.paramsAsInputs) graph = moveToInputs(graph, opts.wrt.filter((w) => g.initializers.has(w)));
  graph = prune(graph);
  return { model: { ...m, graph }, gradOutputs, lossOutput, labelsInput, seedInput };
}

interface Reach {
  /** Values that depend differentiably on a wrt value (the wrt values included). */
  fromWrt: Set<string>;
  /** Values the target depends on differentiably (the target included). */
  toTarget: Set<string>;
  /** Nodes with a differentiable input in fromWrt and an output in both sets, in graph order. */
  active: Node[];
}

function reach(nodes: Node[], wrt: Set<string>, target: string, slots: (n: Node) => number[], isFloat: (v: string) => boolean = () => true): Reach {
  const fromWrt = new Set(wrt);
  const slotCache = new Map<Node, number[]>();
  const sl = (n: Node) => { let s = slotCache.get(n); if (!s) { s = slots(n); slotCache.set(n, s); } return s; };
  for (const n of nodes) {
    if (sl(n).some((i) => n.inputs[i] && fromWrt.has(n.inputs[i]))) {
      for (const o of n.outputs) if (o && isFloat(o)) fromWrt.add(o);
    }
  }
  const toTarget = new Set([target]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (n.outputs.some((o) => o && toTarget.has(o))) for (const i of sl(n)) if (n.inputs[i]) toTarget.add(n.inputs[i]);
  }
  const active = nodes.filter((n) =>
    n.outputs.some((o) => o && fromWrt.has(o) && toTarget.has(o)) && sl(n).some((i) => n.inputs[i] && fromWrt.has(n.inputs[i])));
  return { fromWrt, toTarget, active };
}

/** Sets training_mode on every BatchNormalization node ('training' adds the two running-statistics outputs onnxruntime requires). */
function setBatchNormMode(m: Model, mode: 'as-is' | 'inference' | 'training'): Model {
  if (mode === 'as-is') return m;
  if (mode !== 'inference' && mode !== 'training') throw new FlipguardError(`Unknown batchNorm mode "${String(mode)}"; use as-is, inference or training.`);
  const names = new NameScope(m.graph.nodes.flatMap((n) => n.outputs));
  const nodes = m.graph.nodes.map((n) => {
    if (n.opType !== 'BatchNormalization') return n;
    const attributes = { ...n.attributes, training_mode: A.i(mode === 'training' ? 1 : 0) };
    let outputs = [n.outputs[0]];
    if (mode === 'training') {
      outputs = [...n.outputs];
      for (let i = outputs.length; i < 3; i++) {
        outputs.push(names.variant(`${n.outputs[0]}_running_${i === 1 ? 'mean' : 'var'}`, underscores));
      }
    }
    return { ...n, attributes, outputs };
  });
  return { ...m, graph: { ...m.graph, nodes } };
}

/** Gives every Dropout node that has a training_mode input a mask output (its gradient reads the mask). */
function exposeDropoutMasks(m: Model): Model {
  if (!m.graph.nodes.some((n) => n.opType === 'Dropout' && n.inputs[2] && !n.outputs[1])) return m;
  const names = new NameScope(m.graph.nodes.flatMap((n) => n.outputs));
  const nodes = m.graph.nodes.map((n) => {
    if (n.opType !== 'Dropout' || !n.inputs[2] || n.outputs[1]) return n;
    return { ...n, outputs: [n.outputs[0], names.variant(`${n.outputs[0]}_mask`, underscores)] };
  });
  return { ...m, graph: { ...m.graph, nodes } };
}

/**
 * Gives every (row-major) MaxPool node an Indices output, so that its gradient scatters to the
 * positions the forward pass chose instead of pooling a second time.
 */
function exposeMaxPoolIndices(m: Model): Model {
  const todo = (n: Node) => n.opType === 'MaxPool' && !n.outputs[1] && attrInt(n, 'storage_order', 0) === 0;
  if (!m.graph.nodes.some(todo)) return m;
  const names = new NameScope(m.graph.nodes.flatMap((n) => n.outputs));
  const nodes = m.graph.nodes.map((n) => {
    if (!todo(n)) return n;
    return { ...n, outputs: [n.outputs[0], names.variant(`${n.outputs[0]}_indices`, underscores)] };
  });
  return { ...m, graph: { ...m.graph, nodes } };
}

/** Moves the named initializers to graph inputs (same name, dims and type). */
function moveToInputs(g: Graph, names: string[]): Graph {
  const initializers = new Map(g.initializers);
  const inputs = [...g.inputs];
  for (const n of names) {
    const t = initializers.get(n);
    if (!t) continue;
    initializers.delete(n);
    inputs.push({ name: n, elemType: t.dataType, shape: [...t.dims] });
  }
  return { ...g, initializers, inputs, initializerInputs: g.initializerInputs?.filter((v) => initializers.has(v.name)) };
}

/** Drops nodes and initializers no output needs (graph inputs are kept), and stale value_info. */
export function prune(g: Graph): Graph {
  const needed = new Set(g.outputs.map((o) => o.name));
  const kept: Node[] = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (n.outputs.some((o) => o && needed.has(o))) {
      kept.push(n);
      for (const i of n.inputs) if (i) needed.add(i);
      // subgraph attributes may read outer values
      for (const a of Object.values(n.attributes)) if (a.type === 'graph') for (const sn of a.value.nodes) for (const i of sn.inputs) needed.add(i);
    }
  }
  kept.reverse();
  const initializers = new Map([...g.initializers].filter(([k]) => needed.has(k)));
  const values = new Set<string>([...initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const n of kept) for (const o of n.outputs) values.add(o);
  return {
    ...g, nodes: kept, initializers, valueInfo: g.valueInfo.filter((v) => values.has(v.name)),
    initializerInputs: g.initializerInputs?.filter((v) => initializers.has(v.name)),
  };
}
