/**
 * Bit-exact fault injection into COPIES of parameter arrays. The clean arrays are never written.
 */
import { FlipguardError } from '../errors.js';
import { wordView, WORD_BITS, wordFormat } from '../graph/dtype.js';
import { DataType, type Model, type TensorData } from '../graph/types.js';
import { applyBit } from './bits.js';
import { listParameters } from './params.js';
import type { FaultPlan, WeightFault } from './plan.js';

/**
 * The fault-target initializers of `model` by name (the arrays themselves, not copies): every
 * float32 initializer, and every parameter stored as float16, bfloat16, int8, uint8 or int32
 * (`listParameters`).
 */
export function cleanParameters(model: Model): Map<string, TensorData> {
  const m = new Map<string, TensorData>();
  let other = false;
  for (const [n, t] of model.graph.initializers) {
    if (t.dataType === DataType.FLOAT) m.set(n, t.data);
    else if (wordFormat(t.dataType)) other = true;
  }
  if (other) for (const p of listParameters(model)) m.set(p.name, model.graph.initializers.get(p.name)!.data);
  return m;
}

/** Bits per word of a parameter array (8, 16 or 32). */
function widthOf(data: TensorData): number {
  return data.BYTES_PER_ELEMENT * 8;
}

export interface InjectionResult {
  /** Faulted copies of every tensor named by some fault. */
  tensors: Map<string, TensorData>;
  /**
   * The subset of `tensors` whose stored words actually differ from the clean ones (a flip applied
   * twice, or a stuck-at bit that already had that value, leaves a tensor unchanged).
   */
  changed: Map<string, TensorData>;
  /** Number of stored words that differ from the clean ones. */
  changedWords: number;
}

/**
 * Applies `plan` to copies of the tensors it names and reports which words really changed.
 * Faults are applied in list order: flips XOR (`word ^= 1 << bit`), stuck-at faults force the bit.
 */
export function injectFaults(clean: ReadonlyMap<string, TensorData>, plan: FaultPlan | readonly WeightFault[]): InjectionResult {
  const faults = Array.isArray(plan) ? (plan as readonly WeightFault[]) : (plan as FaultPlan).faults;
  const tensors = new Map<string, TensorData>();
  const touched = new Map<string, Set<number>>();
  for (const f of faults) {
    let copy = tensors.get(f.tensor);
    if (!copy) {
      const src = clean.get(f.tensor);
      if (!src) throw new FlipguardError(`A fault targets tensor "${f.tensor}", which is not a parameter of this model; check the fault list against the model.`);
      copy = src.slice();
      tensors.set(f.tensor, copy);
      touched.set(f.tensor, new Set());
    }
    if (!Number.isInteger(f.index) || f.index < 0 || f.index >= copy.length) {
      throw new FlipguardError(`Fault index ${f.index} is outside tensor "${f.tensor}" (${copy.length} elements); use an index from 0 to ${copy.length - 1}.`);
    }
    const width = widthOf(copy);
    if (!Number.isInteger(f.bit) || f.bit < 0 || f.bit >= width) {
      throw new FlipguardError(`Fault bit ${f.bit} in tensor "${f.tensor}" is outside 0–${width - 1}, the bits of its ${width}-bit words; bits are numbered from 0 (least significant).`);
    }
    if (f.kind !== 'flip' && f.kind !== 'stuck0' && f.kind !== 'stuck1') throw new FlipguardError(`Unknown fault kind "${String(f.kind)}"; use flip, stuck0 or stuck1.`);
    applyBit(copy, f.index, f.bit, f.kind);
    touched.get(f.tensor)!.add(f.index);
  }
  const changed = new Map<string, TensorData>();
  let changedWords = 0;
  for (const [name, idx] of touched) {
    const a = wordView(clean.get(name)!);
    const b = wordView(tensors.get(name)!);
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
export function applyFaults(clean: ReadonlyMap<string, TensorData>, plan: FaultPlan | readonly WeightFault[]): Map<string, TensorData> {
  return injectFaults(clean, plan).tensors;
}
