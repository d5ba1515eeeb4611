/**
 * Vector-Jacobian rules, looked up by op type. Each op's rule lives in its registry record
 * (graph/ops/<Op>.ts, field `vjp`); this module adds the lookup the reverse sweep uses and an
 * override map for rules registered at run time (e.g. by a user experimenting with an op).
 *
 * A rule receives the forward node, the names of the gradients of its outputs and the static
 * shapes, and emits ONNX nodes (via an `Emitter`) that compute the gradients of the inputs it is
 * asked for. It never computes tensor values itself. A gradient has the shape of the value it
 * belongs to; "no gradient" is `undefined` (the caller treats it as zero and adds nothing).
 */
import { OP_REGISTRY, NON_DIFFERENTIABLE, type GradRule, type RuleContext } from '../graph/ops/index.js';
import type { Node } from '../graph/types.js';

export { NON_DIFFERENTIABLE, type GradRule, type RuleContext };

const OVERRIDES = new Map<string, GradRule>();

/** Registers a rule for a default-domain op type, replacing the registry's (a later registration replaces an earlier one). */
export function registerRule(opType: string, rule: GradRule): void {
  OVERRIDES.set(opType, rule);
}

/** The rule for a node, or undefined (only default-domain ops have rules). */
export function ruleFor(node: Pick<Node, 'opType' | 'domain'>): GradRule | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  return OVERRIDES.get(node.opType) ?? OP_REGISTRY.get(node.opType)?.vjp;
}

/** Op types with a rule, sorted. */
export function registeredOps(): string[] {
  const ops = new Set(OVERRIDES.keys());
  for (const r of OP_REGISTRY.values()) if (r.vjp) ops.add(r.opType);
  return [...ops].sort();
}

/** Input positions a rule differentiates for `node`. */
export function differentiableSlots(rule: GradRule, node: Node): number[] {
  return rule.differentiableInputs ? rule.differentiableInputs(node) : node.inputs.map((_, i) => i);
}

/** Whether a rule marks its op as never differentiable. */
export function isNonDifferentiable(rule: GradRule, node: Node): boolean {
  return differentiableSlots(rule, node).length === 0;
}
