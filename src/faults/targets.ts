/**
 * Choosing which parameter tensors receive faults: filters by tensor name (glob or regex), the op
 * type and layer of the consuming node, and role.
 */
import { FlipguardError } from '../errors.js';
import type { WordFormat } from '../graph/dtype.js';
import type { Model } from '../graph/types.js';
import { listParameters, type ParameterInfo, type ParameterRole } from './params.js';

/**
 * Which tensors to target. Each given field must match (AND across fields; OR within a list).
 * Patterns: a string `/…/flags` is a regular expression, anything else a glob where `*` matches any
 * run of characters and `?` one character (the whole name must match).
 */
export interface TargetFilter {
  /** Tensor name patterns to include. */
  names?: string | readonly string[];
  /** Tensor name patterns to leave out. */
  exclude?: string | readonly string[];
  /** Op types of the consuming node, exact (e.g. "Conv", "Gemm", "BatchNormalization"). */
  ops?: string | readonly string[];
  /**
   * Layers: a number is the index among parameter-holding nodes in graph order (0 = first); a
   * string is a pattern on the consuming node's name.
   */
  layers?: number | string | readonly (number | string)[];
  /** Roles (weight, bias, bn_scale, bn_bias, bn_mean, bn_var, scale, zero_point, other). */
  roles?: ParameterRole | readonly ParameterRole[];
  /** Stored formats (float32, float16, bfloat16, int8, uint8, int32). */
  formats?: WordFormat | readonly WordFormat[];
}

function asList<T>(v: T | readonly T[] | undefined): readonly T[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v as readonly T[]) : [v as T];
}

/** Compiles a glob or `/regex/flags` pattern into a whole-string matcher. */
export function compilePattern(pattern: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (m) {
    try {
      return new RegExp(m[1], m[2]);
    } catch (e) {
      throw new FlipguardError(`The pattern ${pattern} is not a valid regular expression (${(e as Error).message}); fix it or use a glob such as "conv*".`);
    }
  }
  const src = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${src}$`);
}

function describe(filter: TargetFilter): string {
  return JSON.stringify(filter);
}

/** Normalises a filter into a stable JSON-friendly form (for configuration headers). */
export function normalizeFilter(filter: TargetFilter | undefined): Record<string, (string | number)[]> {
  const out: Record<string, (string | number)[]> = {};
  if (!filter) return out;
  for (const key of ['names', 'exclude', 'ops', 'layers', 'roles', 'formats'] as const) {
    const l = asList<string | number>(filter[key] as never);
    if (l && l.length) out[key] = [...l];
  }
  return out;
}

/**
 * The parameter tensors (every stored format) of `model` that `filter` selects, in file order. Throws a
 * FlipguardError when the filter selects nothing or holds an invalid pattern.
 */
export function selectTargets(model: Model, filter: TargetFilter = {}): ParameterInfo[] {
  const all = listParameters(model);
  if (all.length === 0) throw new FlipguardError('The model stores no parameter tensors (float32, float16, bfloat16, int8, uint8 or quantized int32), so there is nothing to inject faults into; check the model file.');
  const names = asList(filter.names)?.map(compilePattern);
  const exclude = asList(filter.exclude)?.map(compilePattern);
  const ops = asList(filter.ops);
  const roles = asList(filter.roles);
  const formats = asList(filter.formats);
  const layers = asList(filter.layers)?.map((l) => {
    if (typeof l === 'number') {
      if (!Number.isInteger(l) || l < 0) throw new FlipguardError(`Layer ${l} is not a layer index; give a whole number ≥ 0 or a node-name pattern.`);
      return l;
    }
    return compilePattern(l);
  });
  const picked = all.filter((p) => {
    if (names && !names.some((r) => r.test(p.name))) return false;
    if (exclude && exclude.some((r) => r.test(p.name))) return false;
    if (ops && !ops.includes(p.opType)) return false;
    if (roles && !roles.includes(p.role)) return false;
    if (formats && !formats.includes(p.format)) return false;
    if (layers && !layers.some((l) => (typeof l === 'number' ? l === p.layer : l.test(p.node)))) return false;
    return true;
  });
  if (picked.length === 0) {
    const sample = all.slice(0, 6).map((p) => `${p.name} (${p.format}, ${p.opType || 'unused'}, layer ${p.layer})`).join(', ');
    throw new FlipguardError(`The target filter ${describe(filter)} selects no parameter tensor; loosen it (the model has ${all.length} tensors, e.g. ${sample}).`);
  }
  return picked;
}
