/**
 * LRP rules as data (Zennit style) and composites that map layers to rules (SPEC §3.2).
 *
 * A rule for a layer z = f(x; W) + b (Conv, Gemm, MatMul, ConvTranspose) is a list of terms of a
 * modified forward pass z' = Σ_t sign_t · f(x'_t; W'_t) (+ b when `bias`), each term naming how
 * its input x'_t and weights W'_t are obtained from x and W, and a stabiliser ε. The one generic
 * engine (relevance.ts) then computes, with s = R_out / (z' + ε·sign z') (sign 0 = +1),
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
import type { Node } from '../graph/types.js';
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
 * with per-layer overrides by node name.
 */
export interface Composite {
  name: string;
  first: LrpRule;
  conv: LrpRule;
  dense: LrpRule;
  /** Rules for named nodes, taking precedence over the position rules. */
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
