/**
 * Bit-exact fault injection into COPIES of parameter arrays. The clean arrays are never written.
 */
import { FlipguardError } from '../errors.js';
import { DataType, type Model } from '../graph/types.js';
import type { FaultPlan, WeightFault } from './plan.js';
import { storedWordTensors } from '../harden/common.js';

/**
 * The float32 initializers of `model` by name (the arrays themselves, not copies), and the int32
 * stored words of a tmr-bits model as Float32Array views of the same bytes (a fault edits bits,
 * never values, so the 32-bit words are handled alike).
 */
export function cleanParameters(model: Model): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  const words = storedWordTensors(model);
  for (const [n, t] of model.graph.initializers) {
    if (t.dataType === DataType.FLOAT) m.set(n, t.data as Float32Array);
    else if (words.has(n)) m.set(n, new Float32Array(t.data.buffer, t.data.byteOffset, t.data.length));
  }
  return m;
}

export interface InjectionResult {
  /** Faulted copies of every tensor named by some fault. */
  tensors: Map<string, Float32Array>;
  /**
   * The subset of `tensors` whose stored words actually differ from the clean ones (a flip applied
   * twice, or a stuck-at bit that already had that value, leaves a tensor unchanged).
   */
  changed: Map<string, Float32Array>;
  /** Number of stored words that differ from the clean ones. */
  changedWords: number;
}

/**
 * Applies `plan` to copies of the tensors it names and reports which words really changed.
 * Faults are applied in list order: flips XOR (`u32 ^= 1 << bit`), stuck-at faults force the bit.
 */
export function injectFaults(clean: ReadonlyMap<string, Float32Array>, plan: FaultPlan | readonly WeightFault[]): InjectionResult {
  const faults = Array.isArray(plan) ? (plan as readonly WeightFault[]) : (plan as FaultPlan).faults;
  const words = new Map<string, Uint32Array>();
  const tensors = new Map<string, Float32Array>();
  const touched = new Map<string, Set<number>>();
  for (const f of faults) {
    let u = words.get(f.tensor);
    if (!u) {
      const src = clean.get(f.tensor);
      if (!src) throw new FlipguardError(`A fault targets tensor "${f.tensor}", which is not a float32 parameter of this model; check the fault list against the model.`);
      const copy = new Float32Array(src);
      tensors.set(f.tensor, copy);
      u = new Uint32Array(copy.buffer, copy.byteOffset, copy.length);
      words.set(f.tensor, u);
      touched.set(f.tensor, new Set());
    }
    if (!Number.isInteger(f.index) || f.index < 0 || f.index >= u.length) {
      throw new FlipguardError(`Fault index ${f.index} is outside tensor "${f.tensor}" (${u.length} elements); use an index from 0 to ${u.length - 1}.`);
    }
    if (!Number.isInteger(f.bit) || f.bit < 0 || f.bit > 31) {
      throw new FlipguardError(`Fault bit ${f.bit} in tensor "${f.tensor}" is outside 0–31; bits are numbered 0 (mantissa LSB) to 31 (sign).`);
    }
    const mask = (1 << f.bit) >>> 0;
    if (f.kind === 'flip') u[f.index] = (u[f.index] ^ mask) >>> 0;
    else if (f.kind === 'stuck1') u[f.index] = (u[f.index] | mask) >>> 0;
    else if (f.kind === 'stuck0') u[f.index] = (u[f.index] & ~mask) >>> 0;
    else throw new FlipguardError(`Unknown fault kind "${String(f.kind)}"; use flip, stuck0 or stuck1.`);
    touched.get(f.tensor)!.add(f.index);
  }
  const changed = new Map<string, Float32Array>();
  let changedWords = 0;
  for (const [name, idx] of touched) {
    const src = clean.get(name)!;
    const a = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const b = words.get(name)!;
    let n = 0;
    for (const i of idx) if (a[i] !== b[i]) n++;
    if (n) { changed.set(name, tensors.get(name)!); changedWords += n; }
  }
  return { tensors, changed, changedWords };
}

/**
 * Returns faulted copies of exactly the tensors `plan` names (every other tensor is absent: use the
 * clean one). `clean` is never mutated.
 */
export function applyFaults(clean: ReadonlyMap<string, Float32Array>, plan: FaultPlan | readonly WeightFault[]): Map<string, Float32Array> {
  return injectFaults(clean, plan).tensors;
}
