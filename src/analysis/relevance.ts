/**
 * The relevance pass (LRP) as one ONNX graph, built from the autodiff machinery (SPEC §3.2).
 *
 * The model is canonized first (batch norm folded into the preceding conv, canonize.ts). Relevance
 * starts at the logits as R = logits ⊙ target, `target` being a one-hot [batch, K] input (the
 * predicted or true class per image; 0 elsewhere, and an all-zero row gives an image no relevance),
 * and flows back along the values computed from the data input, node by node in reverse order,
 * contributions to a value read by several nodes being added:
 *
 * - Conv, ConvTranspose, Gemm, MatMul: the rule the composite assigns (lrp-rules.ts) — modified
 *   forward terms, s = R/(z' + ε·sign z'), then the op's own vector-Jacobian rule from `autodiff/`
 *   (registered by op type) gives (∂z'/∂x')ᵀs and the weight correlation ∂⟨z', s⟩/∂W', which are
 *   multiplied by x' and W'. Per-weight relevance is therefore summed over positions and images by
 *   onnxruntime (a weight-gradient computation).
 * The role of every other op is its registry record's `lrp` field (graph/ops/<Op>.ts):
 * - 'pass' (activations, Identity, Dropout, LayerNormalization): relevance passes unchanged.
 * - 'route' (MaxPool, reshaping ops, Concat, Split, Slice, Pad, Gather, Cast, Expand, ReduceMax):
 *   relevance is routed like the gradient (each output element's relevance goes to the input
 *   element it came from; MaxPool: the maximum).
 * - 'norm' (Add, Sub, AveragePool, GlobalAveragePool, ReduceMean/ReduceSum, unfolded
 *   BatchNormalization): the ε-rule of the op itself, R_k = x_k ⊙ VJP_k(R/(z + ε·sign z)) —
 *   proportional sharing; a constant operand (a bias) absorbs its share.
 * - 'gate' (Mul, Div): as 'norm' with a constant operand; when both operands are computed, the one
 *   computed from the other (sigmoid(x) in SiLU, the squeeze-excitation scale, GELU's erf branch, a
 *   normalising denominator) is a gate held constant, so all relevance flows through the other
 *   operand and layers reached only through gates get zero relevance.
 * Any other op on the path is an error naming it.
 */
import { FlipguardError } from '../errors.js';
import { GraphBuilder, producers } from '../graph/builder.js';
import { isFloatType } from '../graph/dtype.js';
import { opSet } from '../graph/ops/index.js';
import { analyzeShapes } from '../graph/shapes.js';
import { DataType, defaultOpset, type Dim, type Model, type Node, type ValueInfo } from '../graph/types.js';
import { Emitter, prune, ruleFor, upgradeOpset, type RuleContext } from '../autodiff/index.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';
import { foldBatchNorm, type FoldedLayer } from './canonize.js';
import { composite as namedComposite, ruleOf, type Composite, type LrpRule, type Modifier } from './lrp-rules.js';

// LRP roles, read from the op registry (graph/ops/<Op>.ts, field `lrp`; see graph/ops/types.ts LrpRole)
const PARAMETRIC = opSet((r) => r.lrp === 'linear');
const PASS = opSet((r) => r.lrp === 'pass');
const ROUTE = opSet((r) => r.lrp === 'route');
const NORM = opSet((r) => r.lrp === 'norm' || r.lrp === 'gate');
/** Products and quotients whose second computed operand may be a gate held constant. */
const GATE = opSet((r) => r.lrp === 'gate');
/** Ops whose first output is ≥ 0 wherever their (first) input is. */
const KEEPS_SIGN = opSet((r) => !!r.keepsSign);

/** What the graph outputs, per reported layer. */
export interface RelevanceOutputs {
  /** Σ over the batch of R(W), shape of the weight (default true). */
  weights?: boolean;
  /**
   * Relevance of each layer's output elements (the neurons, after folding: the batch-norm output):
   * 'per-image' [batch, …], 'batch-sum' […], 'class-sum' [K, units] = targetᵀ·|R| (per-class sums of
   * |R|, with the target rows as class indicators), or 'none' (default).
   */
  neurons?: 'none' | 'per-image' | 'batch-sum' | 'class-sum';
  /** Per-image Σ R_in and Σ R_out of every layer, and Σ of the starting relevance ([batch] each). */
  conservation?: boolean;
  /** Per-image relevance of the model input. */
  input?: boolean;
}

export interface RelevanceOptions {
  /** Rules per layer (default: composite('default') — flat first layer, z⁺ conv, ε dense). */
  composite?: Composite;
  /** Stabiliser of the ε-rule applied to Add, AveragePool, … (default 1e-6). */
  epsilon?: number;
  /** Logits value (default the first output; a final Softmax/LogSoftmax is looked through). */
  logits?: string;
  /** Fold batch norm into convs first (default true). */
  canonize?: boolean;
  /** Node names of the layers to report (default every parametric layer on the path). */
  layers?: string[];
  outputs?: RelevanceOutputs;
}

export interface RelevanceLayer {
  name: string;
  op: string;
  weight: string;
  /** Name of the rule applied. */
  rule: string;
  /** Output: Σ_batch R(W). */
  weightRelevance?: string;
  /** Output: neuron relevance in the requested form. */
  neurons?: string;
  /** Neurons per image (elements of the layer's output). */
  units: number;
  /** Outputs [batch]: Σ R_in (this layer's contribution to its input), Σ R_out. */
  inputSum?: string;
  outputSum?: string;
}

export interface RelevanceGraph {
  model: Model;
  /** The data input. */
  input: string;
  /** The one-hot target input [batch, K]. */
  targetInput: string;
  classes: number;
  layers: RelevanceLayer[];
  /** Output [batch]: Σ of the starting relevance (the target logit), with `conservation`. */
  topSum?: string;
  /** Output: relevance of the model input, with `input`. */
  inputRelevance?: string;
  /** Batch norms folded by the canonizer. */
  folded: FoldedLayer[];
}

/** The relevance graph of `model` (see the module comment). Throws a FlipguardError for an op without an LRP rule on the path. */
export function relevanceGraph(model: Model, opts: RelevanceOptions = {}): RelevanceGraph {
  const comp = opts.composite ?? namedComposite('default');
  const epsilon = opts.epsilon ?? ANALYSIS_DEFAULTS.epsilon;
  const want = { weights: true, neurons: 'none' as const, conservation: false, input: false, ...opts.outputs };
  const canon = opts.canonize === false ? { model, folded: [] } : foldBatchNorm(model);
  const m = upgradeOpset(canon.model);
  const g = m.graph;
  if (g.inputs.length !== 1) throw new FlipguardError(`LRP needs a model with exactly one data input, but it has ${g.inputs.length}; use a single-input classifier.`);
  const input = g.inputs[0].name;
  const made = producers(g);
  let logits = opts.logits ?? g.outputs[0]?.name;
  if (!logits) throw new FlipguardError('The model has no outputs to read logits from; pass opts.logits.');
  const last = made.get(logits);
  if (last && (last.opType === 'Softmax' || last.opType === 'LogSoftmax')) logits = last.inputs[0];
  const sa = analyzeShapes(m, { batch: 2 });
  const shapes = new Map(sa.shapes);
  const types = new Map(sa.types);
  const ls = shapes.get(logits);
  if (!ls || ls.length !== 2) throw new FlipguardError(`The logits "${logits}" must have shape [batch, classes]; got [${(ls ?? []).join(', ')}].`);
  const K = ls[1];

  // values computed from the data input, and the nodes between it and the logits
  const isFloat = (v: string) => isFloatType(types.get(v) ?? DataType.FLOAT);
  const act = new Set([input]);
  for (const n of g.nodes) if (n.inputs.some((i) => act.has(i))) for (const o of n.outputs) if (o && isFloat(o)) act.add(o);
  const toTarget = new Set([logits]);
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (n.outputs.some((o) => toTarget.has(o))) for (const i of n.inputs) if (i) toTarget.add(i);
  }
  const path = g.nodes.filter((n) => n.outputs.some((o) => o && act.has(o) && toTarget.has(o)) && n.inputs.some((i) => act.has(i)));
  const paramNodes = path.filter((n) => PARAMETRIC.has(n.opType));
  if (!paramNodes.length) throw new FlipguardError('The model has no Conv, Gemm or MatMul layer between its input and its logits, so LRP has no weights to score.');
  const reported = new Set(opts.layers ?? paramNodes.map((n) => n.name));
  for (const l of reported) if (!paramNodes.some((n) => n.name === l)) {
    throw new FlipguardError(`No Conv, Gemm or MatMul layer named "${l}" on the path to the logits; the layers are ${paramNodes.map((n) => n.name).join(', ')}.`);
  }

  const nonNeg = new Map<string, boolean>();
  const nonNegative = (v: string): boolean => {
    let r = nonNeg.get(v);
    if (r !== undefined) return r;
    const p = made.get(v);
    if (!p) r = false;
    else if (p.opType === 'Relu') r = true;
    else if (p.opType === 'Clip') r = (sa.values.get(p.inputs[1] ?? '')?.[0] ?? -1) >= 0;
    else if (p.opType === 'Concat') r = p.inputs.every((i) => !act.has(i) || nonNegative(i));
    else if (KEEPS_SIGN.has(p.opType)) r = nonNegative(p.inputs[0]);
    else r = false;
    nonNeg.set(v, r);
    return r;
  };

  const b = new GraphBuilder(g.name, g);
  const e = new Emitter(b, defaultOpset(m));
  const declared = g.inputs[0].shape?.[0];
  const batchDim: Dim = typeof declared === 'number' || typeof declared === 'string' ? declared : 'batch';
  const targetInput = b.fresh('lrp_target');
  b.input(targetInput, [batchDim, K]);
  shapes.set(targetInput, [2, K]);
  e.prefix = 'lrp/start/';
  const top = e.mul(logits, targetInput);

  const contribs = new Map<string, string[]>([[logits, [top]]]);
  const relevanceOf = (v: string): string | undefined => {
    const c = contribs.get(v);
    if (!c || !c.length) return undefined;
    if (c.length > 1) { const prefix = e.prefix; e.prefix = 'lrp/sum/'; const s = e.sum(c); e.prefix = prefix; contribs.set(v, [s]); return s; }
    return c[0];
  };
  const shapeOf = (v: string): number[] => {
    const s = shapes.get(v);
    if (!s) throw new Error(`internal: no static shape for ${v}`);
    return s;
  };
  const ctxFor = (node: Node, gradOutputs: (string | undefined)[], needs: boolean[]): RuleContext => ({
    e, node, gradOutputs, needs, shape: shapeOf,
    value: (v) => sa.values.get(v),
    type: (v) => types.get(v) ?? DataType.FLOAT,
    fail: (problem, fix = 'remove the op from the path or re-export the model') =>
      new FlipguardError(`Cannot propagate relevance through node "${node.name}" (${node.opType}): ${problem}; ${fix}.`),
  });
  const vjp = (node: Node) => {
    const rule = ruleFor(node);
    if (!rule) throw new FlipguardError(`No LRP rule for op ${node.opType} (node "${node.name}"); LRP supports the ops whose record in src/graph/ops/ has an lrp role and a vjp rule.`);
    return rule;
  };
  const stabilised = (z: string, eps: number) => (eps === 0 ? z : e.add(z, e.op('Where', [e.op('GreaterOrEqual', [z, e.scalar(0)]), e.scalar(eps), e.scalar(-eps)])));
  const like = (v: string, as: string) => { shapes.set(v, shapeOf(as)); types.set(v, DataType.FLOAT); return v; };

  const layers: RelevanceLayer[] = [];
  const firstParam = paramNodes[0];
  // which computed values each value is computed from (for gates: the operand computed from the other)
  const ancestors = new Map<string, Set<string>>();
  const ancestorsOf = (v: string): Set<string> => {
    let a = ancestors.get(v);
    if (a) return a;
    a = new Set();
    ancestors.set(v, a);
    const p = made.get(v);
    if (p) for (const i of p.inputs) if (i && act.has(i)) { a.add(i); for (const j of ancestorsOf(i)) a.add(j); }
    return a;
  };
  for (let k = path.length - 1; k >= 0; k--) {
    const n = path[k];
    const rOut = n.outputs.map((o) => (o && act.has(o) ? relevanceOf(o) : undefined));
    // a layer reached only through a gate (e.g. squeeze-excitation convs) gets no relevance: report zeros
    if (rOut[0] === undefined && PARAMETRIC.has(n.opType) && reported.has(n.name)) {
      e.prefix = `lrp/${n.name || n.opType}/`;
      rOut[0] = like(e.zerosLike(n.outputs[0]), n.outputs[0]);
    }
    if (rOut.every((r) => r === undefined)) continue;
    const actIn = n.inputs.map((i) => !!i && act.has(i));
    if (GATE.has(n.opType) && actIn[0] && actIn[1]) {
      // x·g or x/g with a gate g computed from x (sigmoid(x), the squeeze-excitation scale, a
      // normalising denominator): g is held constant, so all relevance flows through x
      const [a, c] = n.inputs;
      const gate = ancestorsOf(c).has(a) ? 1 : n.opType === 'Mul' && ancestorsOf(a).has(c) ? 0 : -1;
      if (gate < 0) {
        throw new FlipguardError(`Node "${n.name}" (${n.opType}) ${n.opType === 'Mul' ? 'multiplies' : 'divides'} two computed values neither of which is computed from the other, which no LRP rule covers; LRP supports products with constants and gates (x·sigmoid(x), squeeze-excitation).`);
      }
      actIn[gate] = false;
    } else if (n.opType === 'Div' && actIn[1]) {
      throw new FlipguardError(`Node "${n.name}" (Div) divides by a computed value that is not computed from its numerator, which no LRP rule covers; LRP supports division by constants and normalising denominators.`);
    }
    e.prefix = `lrp/${n.name || n.opType}/`;
    let rIn: (string | undefined)[] = n.inputs.map(() => undefined);
    if (PARAMETRIC.has(n.opType)) {
      const rule = ruleOf(comp, n, n === firstParam);
      const isReported = reported.has(n.name);
      const needInput = n.inputs[0] !== input || want.input || (isReported && want.conservation);
      const res = parametric(n, rOut[0]!, rule, needInput, isReported && want.weights);
      rIn[0] = res.rIn;
      if (isReported) {
        const layer: RelevanceLayer = { name: n.name, op: n.opType, weight: n.inputs[1], rule: rule.name, units: shapeOf(n.outputs[0]).slice(1).reduce((p, q) => p * q, 1) };
        const out = (v: string, base: string) => { const name = b.fresh(base); b.node('Identity', [v], {}, { name: `lrp/out/${base}`, outputs: [name] }); return name; };
        if (want.weights) layer.weightRelevance = out(res.rW!, `${n.inputs[1]}_relevance`);
        const r = rOut[0]!;
        const rank = shapeOf(n.outputs[0]).length;
        const rest = Array.from({ length: rank - 1 }, (_, i) => i + 1);
        if (want.neurons === 'per-image') layer.neurons = out(r, `${n.name}_neuron_relevance`);
        else if (want.neurons === 'batch-sum') layer.neurons = out(e.reduceSum(r, [0], false), `${n.name}_neuron_relevance`);
        else if (want.neurons === 'class-sum') {
          const abs = e.reshape(e.op('Abs', [r]), [0, -1]);
          layer.neurons = out(e.op('MatMul', [e.transpose(targetInput, [1, 0]), abs]), `${n.name}_class_relevance`);
        }
        if (want.conservation) {
          layer.inputSum = out(e.reduceSum(res.rIn!, Array.from({ length: shapeOf(n.inputs[0]).length - 1 }, (_, i) => i + 1), false), `${n.name}_relevance_in`);
          layer.outputSum = out(e.reduceSum(r, rest, false), `${n.name}_relevance_out`);
        }
        layers.push(layer);
      }
    } else if (PASS.has(n.opType)) {
      rIn[0] = rOut[0];
    } else if (ROUTE.has(n.opType)) {
      rIn = vjp(n).backward(ctxFor(n, rOut, actIn));
    } else if (NORM.has(n.opType)) {
      const s = e.div(rOut[0]!, stabilised(n.outputs[0], epsilon));
      like(s, n.outputs[0]);
      const g = vjp(n).backward(ctxFor(n, [s, ...n.outputs.slice(1).map(() => undefined)], actIn));
      rIn = n.inputs.map((x, i) => (actIn[i] && g[i] ? e.mul(x, g[i]!) : undefined));
    } else {
      throw new FlipguardError(`No LRP rule for op ${n.opType} (node "${n.name}") on the path from the input to the logits; LRP supports the ops whose record in src/graph/ops/ has an lrp role.`);
    }
    rIn.forEach((r, i) => {
      if (!r || !actIn[i]) return;
      const x = n.inputs[i];
      like(r, x);
      const l = contribs.get(x);
      if (l) l.push(r); else contribs.set(x, [r]);
    });
  }

  /** One parametric layer under `rule` (see lrp-rules.ts): input relevance and Σ_batch R(W). */
  function parametric(n: Node, rOut: string, rule: LrpRule, needInput: boolean, needWeights: boolean): { rIn?: string; rW?: string } {
    const [x, w, bias] = n.inputs;
    if (!act.has(x) || act.has(w) || !g.initializers.has(w)) {
      throw new FlipguardError(`Layer "${n.name}" (${n.opType}) must read a computed input first and stored weights second; LRP scores layers with constant weights only.`);
    }
    const nonneg = nonNegative(x);
    const terms = rule.terms.filter((t) => !(nonneg && t.input === 'negative') && !(typeof t.input === 'object' && t.input.fill === 0));
    const modIn = (mod: Modifier): string => {
      if (mod === 'keep' || (mod === 'positive' && nonneg)) return x;
      if (mod === 'positive') return like(e.op('Relu', [x]), x);
      if (mod === 'negative') return like(e.sub(x, e.op('Relu', [x])), x);
      if (mod === 'ones') return like(e.filledLike(x, 1), x);
      return like(e.filledLike(x, mod.fill), x);
    };
    const modW = (mod: Modifier): string => {
      if (mod === 'keep') return w;
      if (mod === 'positive') return like(e.op('Relu', [w]), w);
      if (mod === 'negative') return like(e.sub(w, e.op('Relu', [w])), w);
      if (mod === 'ones') return like(e.filledLike(w, 1), w);
      return like(e.filledLike(w, mod.fill), w);
    };
    const parts = terms.map((t) => ({ t, xi: modIn(t.input), wi: modW(t.weight) }));
    let z: string;
    if (parts.length === 1 && parts[0].t.input === 'keep' && parts[0].t.weight === 'keep' && parts[0].t.sign === 1 && (rule.bias || !bias)) z = n.outputs[0];
    else {
      const zs = parts.map((p, i) => {
        const ins = [p.xi, p.wi];
        if (rule.bias && i === 0 && bias) ins.push(bias);
        return like(e.op(n.opType, ins, n.attributes), n.outputs[0]);
      });
      z = parts[0].t.sign === 1 ? zs[0] : e.neg(zs[0]);
      for (let i = 1; i < zs.length; i++) z = parts[i].t.sign === 1 ? e.add(z, zs[i]) : e.sub(z, zs[i]);
    }
    const s = like(e.div(rOut, stabilised(z, rule.epsilon)), n.outputs[0]);
    const rule0 = vjp(n);
    let rIn: string | undefined;
    let rW: string | undefined;
    const acc = (prev: string | undefined, v: string, sign: 1 | -1) => (prev === undefined ? (sign === 1 ? v : e.neg(v)) : sign === 1 ? e.add(prev, v) : e.sub(prev, v));
    for (const p of parts) {
      const node: Node = { ...n, inputs: [p.xi, p.wi] };
      const [dx, dw] = rule0.backward(ctxFor(node, [s], [needInput, needWeights]));
      if (needInput && dx) {
        const r = p.t.input === 'ones' ? dx : typeof p.t.input === 'object' ? e.scale(dx, p.t.input.fill) : e.mul(p.xi, dx);
        rIn = acc(rIn, r, p.t.sign);
      }
      if (needWeights && dw) {
        const r = p.t.weight === 'ones' ? dw : typeof p.t.weight === 'object' ? e.scale(dw, p.t.weight.fill) : e.mul(p.wi, dw);
        rW = acc(rW, r, p.t.sign);
      }
    }
    if (needInput && rIn === undefined) rIn = e.zerosLike(x);
    if (needWeights && rW === undefined) rW = e.zerosLike(w);
    return { rIn, rW };
  }

  const outputs: ValueInfo[] = [];
  for (const l of layers.reverse()) {
    for (const v of [l.weightRelevance, l.neurons, l.inputSum, l.outputSum]) if (v) outputs.push({ name: v, elemType: DataType.FLOAT });
  }
  let topSum: string | undefined;
  if (want.conservation) {
    e.prefix = 'lrp/out/';
    topSum = b.fresh('lrp_start_sum');
    b.node('ReduceSum', [top, e.ints([1])], { keepdims: { type: 'int', value: 0 } }, { name: 'lrp/out/start_sum', outputs: [topSum] });
    outputs.push({ name: topSum, elemType: DataType.FLOAT });
  }
  let inputRelevance: string | undefined;
  if (want.input) {
    const r = relevanceOf(input) ?? e.zerosLike(input);
    inputRelevance = b.fresh(`${input}_relevance`);
    b.node('Identity', [r], {}, { name: 'lrp/out/input', outputs: [inputRelevance] });
    outputs.push({ name: inputRelevance, elemType: DataType.FLOAT });
  }
  const graph = prune({ ...b.build(), outputs, valueInfo: [] });
  return { model: { ...m, graph }, input, targetInput, classes: K, layers, topSum, inputRelevance, folded: canon.folded };
}
