/**
 * The operator set flipguard understands (shape inference, counting, differentiation, hardening)
 * and the checks that reject a model using anything else, before any work is done on it.
 */
import { FlipguardError } from '../errors.js';
import { opsWhere } from './ops/index.js';
import { defaultOpset, type Graph, type Model, type Node } from './types.js';

/**
 * Ops flipguard's own transforms emit (the hardening stages and voters of src/harden/, interval
 * profiling), also accepted in imported models: comparisons and logic, selection, elementwise math,
 * reductions and broadcasting helpers. Derived from the op registry (records marked `transform`).
 */
export const TRANSFORM_OPS: readonly string[] = Object.freeze(opsWhere((r) => !!r.transform));

/**
 * Default-domain ONNX operators flipguard supports: every op of the registry (graph/ops/) with a
 * shape rule — the layers of image classifiers, the small integer ops exporters put around Flatten
 * and Reshape, and TRANSFORM_OPS (so that a written hardened model loads again).
 */
export const SUPPORTED_OPS: readonly string[] = Object.freeze(opsWhere((r) => !!r.shape));

const SUPPORTED = new Set(SUPPORTED_OPS);

/** Lowest and highest default-domain opset flipguard accepts at all. */
export const OPSET_ACCEPTED = Object.freeze({ min: 7, max: 21 });
/** Default-domain opsets flipguard is tested on (outside this range it works with a warning). */
export const OPSET_TESTED = Object.freeze({ min: 11, max: 18 });

/** Whether `node` is an operator flipguard supports (default ONNX domain, listed in SUPPORTED_OPS). */
export function isSupportedOp(node: Pick<Node, 'opType' | 'domain'>): boolean {
  return (node.domain === '' || node.domain === 'ai.onnx') && SUPPORTED.has(node.opType);
}

/** The FlipguardError for a node whose op flipguard does not support. */
export function unsupportedOpError(node: Pick<Node, 'name' | 'opType' | 'domain'>): FlipguardError {
  const label = node.name ? `Node "${node.name}"` : `A node without a name`;
  const dom = node.domain === '' || node.domain === 'ai.onnx' ? '' : ` from domain "${node.domain}"`;
  return new FlipguardError(
    `${label} uses op "${node.opType}"${dom}, which flipguard does not support; ` +
    `re-export the model using only the supported default-domain ONNX ops: ${SUPPORTED_OPS.join(', ')}.`,
  );
}

/**
 * Checks the model's default-domain opset. Throws a FlipguardError when it is outside
 * OPSET_ACCEPTED (7–21) or missing; returns a warning sentence when it is accepted but outside
 * OPSET_TESTED (11–18), and undefined when it is in the tested range.
 */
export function opsetCheck(model: Model): string | undefined {
  const hasDefault = model.opsetImports.some((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!hasDefault) {
    throw new FlipguardError('The model imports no default ONNX opset; re-export it with an opset between 11 and 18.');
  }
  const v = defaultOpset(model);
  if (v < OPSET_ACCEPTED.min || v > OPSET_ACCEPTED.max) {
    throw new FlipguardError(
      `The model uses ONNX opset ${v}, which flipguard does not support; re-export it with an opset between ${OPSET_TESTED.min} and ${OPSET_TESTED.max}.`,
    );
  }
  if (v < OPSET_TESTED.min || v > OPSET_TESTED.max) {
    return `The model uses ONNX opset ${v}, outside the opsets flipguard is tested on (${OPSET_TESTED.min}–${OPSET_TESTED.max}); results should be right, but re-exporting with opset ${OPSET_TESTED.max} is safer.`;
  }
  return undefined;
}

function firstUnsupported(g: Graph): Node | undefined {
  for (const n of g.nodes) if (!isSupportedOp(n)) return n;
  return undefined;
}

/**
 * Checks that the model's opset is accepted (see `opsetCheck`) and that every node uses a
 * supported op. Throws a FlipguardError naming the first offending node, its op and (for a
 * non-default domain) its domain. Returns the warnings (possibly none) to show the user.
 */
export function checkSupported(model: Model): string[] {
  const warnings: string[] = [];
  const w = opsetCheck(model);
  if (w) warnings.push(w);
  const bad = firstUnsupported(model.graph);
  if (bad) throw unsupportedOpError(bad);
  return warnings;
}
