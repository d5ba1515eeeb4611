/**
 * LRP rules as data (Zennit style) and composites that map layers to rules (SPEC §3.2).
 *
 * A rule for a layer z = f(x; W) + b (Conv, Gemm, MatMul, ConvTranspose) is a list of terms of a
 * modified forward pass z' = Σ_t sign_t · f(x'_t; W'_t) (+ b when `bias`), each term naming how
 * its input x'_t and weights W'_t are obtained from x and W, and a stabiliser ε. The one generic
 * engine (compositeOverride below, a per-node override of autodiff's reverse sweep) then computes, with s = R_out / (z' + ε·sign z') (sign 0 = +1),
 *
 *     R_in = Σ_t sign_t · x'_t ⊙ (∂f(x'_t; W'_t)/∂x'_t)ᵀ s          (input relevance)
 *     R(W) = Σ_t sign_t · W'_t ⊙ (∂⟨f(x'_t; W'_t), s⟩/∂W'_t)         (per-weight relevance)
 *
 * both by the op's ordinary vector-Jacobian rule from `autodiff/` (for a conv: a ConvTranspose and a
 * weight-gradient correlation, summed over positions and images). R(W) is the relevance carried by
 * each weight's edges: for the ε-rule exactly SPEC's R(w) = Σ_positions a_i·w·R_j/(z_j + ε·sign z_j).
 *
 * Rules (x⁺ = max(x, 0), x⁻ = min(x, 0)):
 * - ε:        z' = W·x + b.
 * - z⁺ (α1β0): z' = W⁺·x⁺ + W⁻·x⁻ (bias ignored; on non-negative inputs, e.g. after a ReLU, the
 *             second term is zero and skipped).
 * - flat:     z' = 1·1 (every weight and input replaced by 1; bias ignored): relevance spreads
 *             evenly over each output's receptive field.
 * - z^B:      z' = W·x − W⁺·l − W⁻·h for input bounds l ≤ x ≤ h (bias ignored).
 *
 * Conservation (Σ R_in = Σ R_out per layer and image) holds exactly for flat, and up to the
 * stabiliser for ε without bias, z⁺ where z' > 0 and z^B where z' > 0.
 */
import { FlipguardError } from '../errors.js';
import { OP_REGISTRY } from '../graph/ops/index.js';
import type { LrpRole } from '../graph/ops/types.js';
import type { Node } from '../graph/types.js';
import type { NodeOverride, OverrideContext } from '../autodiff/gradient.js';
import { ANALYSIS_DEFAULTS } from './defaults.js';

/** How a term obtains its input or weights from the layer's: unchanged, clamped, all ones, or a constant. */
export type Modifier = 'keep' | 'positive' | 'negative' | 'ones' | { fill: number };

export interface LrpTerm {
  input: Modifier;
  weight: Modifier;
  sign: 1 | -1;
}

export interface LrpRule {
  /** 'epsilon', 'zplus', 'flat', 'zbox' or a user name. */
  name: string;
  terms: readonly LrpTerm[];
  /** Whether the layer's bias is part of z' (it then absorbs relevance). */
  bias: boolean;
  /** Stabiliser ε of s = R/(z' + ε·sign z'). */
  epsilon: number;
}

export type RuleName = 'epsilon' | 'zplus' | 'flat' | 'zbox';
export const RULE_NAMES: readonly RuleName[] = ['epsilon', 'zplus', 'flat', 'zbox'];

function checkEpsilon(epsilon: number): number {
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) throw new FlipguardError(`The LRP stabiliser ε must be a number ≥ 0, got ${String(epsilon)}.`);
  return epsilon;
}

/** ε-rule: z' = W·x + b. */
export function epsilonRule(epsilon: number = ANALYSIS_DEFAULTS.epsilon): LrpRule {
  return { name: 'epsilon', terms: [{ input: 'keep', weight: 'keep', sign: 1 }], bias: true, epsilon: checkEpsilon(epsilon) };
}

/** z⁺ (α1β0): z' = W⁺·x⁺ + W⁻·x⁻, no bias. */
export function zPlusRule(epsilon: number = ANALYSIS_DEFAULTS.epsilon): LrpRule {
  return {
    name: 'zplus',
    terms: [{ input: 'positive', weight: 'positive', sign: 1 }, { input: 'negative', weight: 'negative', sign: 1 }],
    bias: false, epsilon: checkEpsilon(epsilon),
  };
}

/** Flat: z' = 1·1, no bias. */
export function flatRule(epsilon: number = ANALYSIS_DEFAULTS.epsilon): LrpRule {
  return { name: 'flat', terms: [{ input: 'ones', weight: 'ones', sign: 1 }], bias: false, epsilon: checkEpsilon(epsilon) };
}

/** z^B with input bounds low ≤ x ≤ high: z' = W·x − W⁺·low − W⁻·high, no bias. */
export function zBoxRule(low: number = ANALYSIS_DEFAULTS.zBoxLow, high: number = ANALYSIS_DEFAULTS.zBoxHigh, epsilon: number = ANALYSIS_DEFAULTS.epsilon): LrpRule {
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high)) throw new FlipguardError(`The z^B bounds must be finite numbers with low ≤ high, got [${low}, ${high}].`);
  return {
    name: 'zbox',
    terms: [{ input: 'keep', weight: 'keep', sign: 1 }, { input: { fill: low }, weight: 'positive', sign: -1 }, { input: { fill: high }, weight: 'negative', sign: -1 }],
    bias: false, epsilon: checkEpsilon(epsilon),
  };
}

export interface RuleSettings {
  epsilon?: number;
  /** z^B bounds (default [0, 1], MNIST pixels). */
  low?: number;
  high?: number;
}

/** The rule called `name` with the given settings. */
export function ruleByName(name: RuleName | string, s: RuleSettings = {}): LrpRule {
  switch (name) {
    case 'epsilon': return epsilonRule(s.epsilon);
    case 'zplus': return zPlusRule(s.epsilon);
    case 'flat': return flatRule(s.epsilon);
    case 'zbox': return zBoxRule(s.low, s.high, s.epsilon);
    default: throw new FlipguardError(`Unknown LRP rule "${name}"; use ${RULE_NAMES.join(', ')}.`);
  }
}

/**
 * A composite: the rule of each parametric layer by position (first layer of the network, conv, dense),
 * with per-layer overrides by layer label (graph/layers.ts; relevanceGraph names unnamed nodes by their labels).
 */
export interface Composite {
  name: string;
  first: LrpRule;
  conv: LrpRule;
  dense: LrpRule;
  /** Rules for layers by label, taking precedence over the position rules. */
  layers?: Record<string, LrpRule>;
}

export type CompositeName = 'default' | 'epsilon';
export const COMPOSITE_NAMES: readonly CompositeName[] = ['default', 'epsilon'];

/**
 * Named composites (SPEC §3.2): `default` = flat on the first layer (or `first`), z⁺ on conv
 * layers, ε on dense layers; `epsilon` = ε everywhere (unless `first` is given).
 */
export function composite(name: CompositeName | string = 'default', s: RuleSettings & { first?: RuleName } = {}): Composite {
  if (name === 'default') {
    return { name, first: ruleByName(s.first ?? 'flat', s), conv: zPlusRule(s.epsilon), dense: epsilonRule(s.epsilon) };
  }
  if (name === 'epsilon') {
    return { name, first: ruleByName(s.first ?? 'epsilon', s), conv: epsilonRule(s.epsilon), dense: epsilonRule(s.epsilon) };
  }
  throw new FlipguardError(`Unknown LRP composite "${name}"; use ${COMPOSITE_NAMES.join(' or ')}.`);
}

/** The rule a composite assigns to a parametric node (Conv/ConvTranspose are conv, Gemm/MatMul dense). */
export function ruleOf(c: Composite, node: Node, isFirst: boolean): LrpRule {
  const named = c.layers?.[node.name];
  if (named) return named;
  if (isFirst) return c.first;
  return node.opType === 'Conv' || node.opType === 'ConvTranspose' ? c.conv : c.dense;
}

/** A node's LRP role, from its op's registry record (graph/ops/<Op>.ts, field `lrp`); undefined: relevance cannot cross it. */
export function lrpRole(node: Pick<Node, 'opType' | 'domain'>): LrpRole | undefined {
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  return OP_REGISTRY.get(node.opType)?.lrp;
}

/** What flowed back through one parametric layer: its output relevance, input relevance and Σ_batch R(W) (when wanted). */
export interface LayerRelevance {
  node: Node;
  rule: LrpRule;
  rOut: string;
  rIn?: string;
  rW?: string;
}

/** What the composite's node rules read of the (canonized) model and hand back to the caller. */
export interface CompositeHooks {
  composite: Composite;
  /** Stabiliser of the ε-rule of 'norm' and 'gate' ops. */
  epsilon: number;
  /** The first parametric layer on the path (it gets the composite's `first` rule). */
  first: () => Node;
  /** The node computing a value (undefined for inputs and initializers). */
  producer(value: string): Node | undefined;
  /** Whether a value is a stored tensor (an initializer). */
  stored(value: string): boolean;
  /** Which relevances of a parametric layer are wanted: of its input, of its weights. */
  wants(node: Node): { input: boolean; weights: boolean };
  /** Receives every parametric layer the sweep reaches, with its context (emit outputs there). */
  layer(l: LayerRelevance, ctx: OverrideContext): void;
}

/**
 * The composite as a node override of autodiff's reverse sweep (buildGradient): relevance flows
 * back like a gradient, through each node by the rule its registry LRP role (graph/ops/types.ts
 * LrpRole) and the composite choose:
 * - 'linear' (Conv, ConvTranspose, Gemm, MatMul): the composite's rule for the layer (terms above);
 * - 'pass': relevance passes unchanged to the first input;
 * - 'route': the op's own vector-Jacobian rule (each output element's relevance to the input element
 *   it came from; MaxPool: the maximum);
 * - 'norm': the ε-rule of the op itself, R_k = x_k ⊙ VJP_k(R/(z + ε·sign z)) — proportional sharing;
 *   a constant operand (a bias) absorbs its share;
 * - 'gate' (Mul, Div): as 'norm'; when both operands are computed, the one computed from the other
 *   (sigmoid(x) in SiLU, the squeeze-excitation scale, a normalising denominator) is a gate held
 *   constant, so all relevance flows through the other operand and layers reached only through
 *   gates get no relevance.
 * An op without a role that relevance reaches is an error naming it.
 */
export function compositeOverride(h: CompositeHooks): NodeOverride {
  const nonNeg = new Map<string, boolean>();
  /** Whether a value is ≥ 0 by construction (after a ReLU, through sign-keeping ops). */
  const nonNegative = (c: OverrideContext, v: string): boolean => {
    let r = nonNeg.get(v);
    if (r !== undefined) return r;
    const p = h.producer(v);
    if (!p) r = false;
    else if (p.opType === 'Relu') r = true;
    else if (p.opType === 'Clip') r = (c.value(p.inputs[1] ?? '')?.[0] ?? -1) >= 0;
    else if (p.opType === 'Concat') r = p.inputs.every((i) => !c.live(i) || nonNegative(c, i));
    else if (OP_REGISTRY.get(p.opType)?.keepsSign) r = nonNegative(c, p.inputs[0]);
    else r = false;
    nonNeg.set(v, r);
    return r;
  };
  // which computed values each value is computed from (for gates: the operand computed from the other)
  const ancestors = new Map<string, Set<string>>();
  const ancestorsOf = (c: OverrideContext, v: string): Set<string> => {
    let a = ancestors.get(v);
    if (a) return a;
    a = new Set();
    ancestors.set(v, a);
    const p = h.producer(v);
    if (p) for (const i of p.inputs) if (i && c.live(i)) { a.add(i); for (const j of ancestorsOf(c, i)) a.add(j); }
    return a;
  };
  const stabilised = (c: OverrideContext, z: string, eps: number) => {
    const e = c.e;
    return eps === 0 ? z : e.add(z, e.op('Where', [e.op('GreaterOrEqual', [z, e.scalar(0)]), e.scalar(eps), e.scalar(-eps)]));
  };
  const like = (c: OverrideContext, v: string, as: string) => c.declare(v, c.shape(as));

  /** One parametric layer under `rule` (the terms above): input relevance and Σ_batch R(W). */
  const linear = (c: OverrideContext, rOut: string, rule: LrpRule, want: { input: boolean; weights: boolean }): { rIn?: string; rW?: string } => {
    const { e, node: n } = c;
    const [x, w, bias] = n.inputs;
    if (!c.live(x) || c.live(w) || !h.stored(w)) {
      throw new FlipguardError(`Layer "${n.name}" (${n.opType}) must read a computed input first and stored weights second; LRP scores layers with constant weights only.`);
    }
    const nonneg = nonNegative(c, x);
    const terms = rule.terms.filter((t) => !(nonneg && t.input === 'negative') && !(typeof t.input === 'object' && t.input.fill === 0));
    const modified = (v: string, mod: Modifier, keepIfPositive: boolean): string => {
      if (mod === 'keep' || (mod === 'positive' && keepIfPositive)) return v;
      if (mod === 'positive') return like(c, e.op('Relu', [v]), v);
      if (mod === 'negative') return like(c, e.sub(v, e.op('Relu', [v])), v);
      return like(c, e.filledLike(v, mod === 'ones' ? 1 : mod.fill), v);
    };
    const parts = terms.map((t) => ({ t, xi: modified(x, t.input, nonneg), wi: modified(w, t.weight, false) }));
    let z: string;
    if (parts.length === 1 && parts[0].t.input === 'keep' && parts[0].t.weight === 'keep' && parts[0].t.sign === 1 && (rule.bias || !bias)) z = n.outputs[0];
    else {
      const zs = parts.map((p, i) => {
        const ins = [p.xi, p.wi];
        if (rule.bias && i === 0 && bias) ins.push(bias);
        return like(c, e.op(n.opType, ins, n.attributes), n.outputs[0]);
      });
      z = parts[0].t.sign === 1 ? zs[0] : e.neg(zs[0]);
      for (let i = 1; i < zs.length; i++) z = parts[i].t.sign === 1 ? e.add(z, zs[i]) : e.sub(z, zs[i]);
    }
    const s = like(c, e.div(rOut, stabilised(c, z, rule.epsilon)), n.outputs[0]);
    let rIn: string | undefined;
    let rW: string | undefined;
    const acc = (prev: string | undefined, v: string, sign: 1 | -1) => (prev === undefined ? (sign === 1 ? v : e.neg(v)) : sign === 1 ? e.add(prev, v) : e.sub(prev, v));
    const times = (mod: Modifier, v: string, d: string) => (mod === 'ones' ? d : typeof mod === 'object' ? e.scale(d, mod.fill) : e.mul(v, d));
    for (const p of parts) {
      const [dx, dw] = c.rule!.backward({ ...c, node: { ...n, inputs: [p.xi, p.wi] }, gradOutputs: [s], needs: [want.input, want.weights] });
      if (want.input && dx) rIn = acc(rIn, times(p.t.input, p.xi, dx), p.t.sign);
      if (want.weights && dw) rW = acc(rW, times(p.t.weight, p.wi, dw), p.t.sign);
    }
    if (want.input && rIn === undefined) rIn = e.zerosLike(x);
    if (want.weights && rW === undefined) rW = e.zerosLike(w);
    return { rIn, rW };
  };

  const noRule = (n: Node) =>
    new FlipguardError(`No LRP rule for op ${n.opType} (node "${n.name}") on the path from the input to the logits; LRP supports the ops whose record in src/graph/ops/ has an lrp role and a vjp rule.`);
  return {
    // a node without a role (or rule) is an error only when relevance reaches it: a gate's branch
    // (e.g. the Pow and Sqrt of a normalising denominator) gets none
    requireRules: false,
    backward(c0) {
      const n = c0.node;
      const role = lrpRole(n);
      if (!role || !c0.rule) throw noRule(n);
      const c: OverrideContext = {
        ...c0,
        fail: (problem, fix = 'remove the op from the path or re-export the model') =>
          new FlipguardError(`Cannot propagate relevance through node "${n.name}" (${n.opType}): ${problem}; ${fix}.`),
      };
      const e = c.e;
      const rule0 = c0.rule;
      const rOut = c.gradOutputs;
      const none = n.inputs.map((): string | undefined => undefined);
      if (role === 'linear') {
        const rule = ruleOf(h.composite, n, n === h.first());
        const want = h.wants(n);
        const res = linear(c, rOut[0]!, rule, want);
        h.layer({ node: n, rule, rOut: rOut[0]!, ...res }, c);
        return [res.rIn, ...none.slice(1)];
      }
      if (role === 'pass') return [rOut[0], ...none.slice(1)];
      const actIn = [...c.needs];
      if (role === 'gate' && actIn[0] && actIn[1]) {
        // x·g or x/g with a gate g computed from x: g is held constant, so all relevance flows through x
        const [a, b] = n.inputs;
        const gate = ancestorsOf(c, b).has(a) ? 1 : n.opType === 'Mul' && ancestorsOf(c, a).has(b) ? 0 : -1;
        if (gate < 0) {
          throw new FlipguardError(`Node "${n.name}" (${n.opType}) ${n.opType === 'Mul' ? 'multiplies' : 'divides'} two computed values neither of which is computed from the other, which no LRP rule covers; LRP supports products with constants and gates (x·sigmoid(x), squeeze-excitation).`);
        }
        actIn[gate] = false;
      } else if (n.opType === 'Div' && actIn[1]) {
        throw new FlipguardError(`Node "${n.name}" (Div) divides by a computed value that is not computed from its numerator, which no LRP rule covers; LRP supports division by constants and normalising denominators.`);
      }
      if (role === 'route') return rule0.backward({ ...c, needs: actIn });
      // 'norm' and 'gate': the ε-rule of the op itself
      const s = like(c, e.div(rOut[0]!, stabilised(c, n.outputs[0], h.epsilon)), n.outputs[0]);
      const g = rule0.backward({ ...c, gradOutputs: [s, ...n.outputs.slice(1).map(() => undefined)], needs: actIn });
      return n.inputs.map((x, i) => (actIn[i] && g[i] ? like(c, e.mul(x, g[i]!), x) : undefined));
    },
  };
}
