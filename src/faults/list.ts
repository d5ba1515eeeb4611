/**
 * Explicit fault lists in JSON, for replaying a plan or injecting hand-picked faults.
 *
 * Accepted shapes (`kind` defaults to "flip"):
 * - an array of weight faults: `[{"tensor": "conv1.weight", "index": 3, "bit": 30, "kind": "flip"}]`
 * - an object `{"faults": [...weight faults], "neurons": [...neuron faults]}` — a saved FaultPlan
 *   has this shape, so `planFaults` output can be written with JSON.stringify and read back here.
 * Neuron faults: `{"value": "relu1_out", "index": 5, "kind": "stuck0"}` or `{…, "kind": "flip", "bit": 31}`.
 * Bits: numbered from the stored word's LSB (faults/bits.ts): float32 0–22 mantissa, 23–30 exponent,
 * 31 sign; float16/bfloat16 words have bits 0–15, int8/uint8 0–7.
 */
import { readFileSync } from 'node:fs';
import { FlipguardError } from '../errors.js';
import type { Model } from '../graph/types.js';
import { cleanParameters } from './inject.js';
import type { NeuronFault } from './neuron.js';
import { FAULT_KINDS, type FaultKind, type WeightFault } from './plan.js';

export interface FaultList {
  weights: WeightFault[];
  neurons: NeuronFault[];
}

function bad(source: string, what: string): never {
  throw new FlipguardError(`Fault list ${source} ${what}; see the fault-list format in the documentation (tensor, index, bit, kind).`);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Parses and validates a fault list (against `model` when given). */
export function parseFaultList(text: string, source = 'the fault list', model?: Model): FaultList {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    bad(source, `is not valid JSON (${(e as Error).message})`);
  }
  let rawWeights: unknown = [];
  let rawNeurons: unknown = [];
  if (Array.isArray(json)) rawWeights = json;
  else if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (o.faults === undefined && o.neurons === undefined) bad(source, 'has neither a "faults" nor a "neurons" array');
    rawWeights = o.faults ?? [];
    rawNeurons = o.neurons ?? [];
  } else bad(source, 'is neither an array nor an object');
  if (!Array.isArray(rawWeights)) bad(source, 'has a "faults" entry that is not an array');
  if (!Array.isArray(rawNeurons)) bad(source, 'has a "neurons" entry that is not an array');
  const clean = model ? cleanParameters(model) : undefined;
  const weights: WeightFault[] = rawWeights.map((f: unknown, i: number) => {
    if (!f || typeof f !== 'object') bad(source, `entry ${i} is not an object`);
    const o = f as Record<string, unknown>;
    if (typeof o.tensor !== 'string') bad(source, `entry ${i} has no "tensor" name`);
    if (!isInt(o.index) || o.index < 0) bad(source, `entry ${i} has index ${JSON.stringify(o.index)}, not a whole number ≥ 0`);
    if (!isInt(o.bit) || o.bit < 0 || o.bit > 31) bad(source, `entry ${i} has bit ${JSON.stringify(o.bit)}, outside 0–31`);
    const kind = (o.kind ?? 'flip') as FaultKind;
    if (!FAULT_KINDS.includes(kind)) bad(source, `entry ${i} has kind ${JSON.stringify(o.kind)}, not one of ${FAULT_KINDS.join(', ')}`);
    if (clean) {
      const t = clean.get(o.tensor);
      if (!t) bad(source, `entry ${i} names tensor "${o.tensor}", which is not a parameter of the model`);
      if (o.index >= t.length) bad(source, `entry ${i} has index ${o.index}, outside tensor "${o.tensor}" (${t.length} elements)`);
      if (o.bit >= t.BYTES_PER_ELEMENT * 8) bad(source, `entry ${i} has bit ${o.bit}, outside the ${t.BYTES_PER_ELEMENT * 8}-bit words of tensor "${o.tensor}"`);
    }
    return { tensor: o.tensor, index: o.index, bit: o.bit, kind };
  });
  const neurons: NeuronFault[] = rawNeurons.map((f: unknown, i: number) => {
    if (!f || typeof f !== 'object') bad(source, `neuron entry ${i} is not an object`);
    const o = f as Record<string, unknown>;
    if (typeof o.value !== 'string') bad(source, `neuron entry ${i} has no "value" name`);
    if (!isInt(o.index) || o.index < 0) bad(source, `neuron entry ${i} has index ${JSON.stringify(o.index)}, not a whole number ≥ 0`);
    const kind = o.kind ?? 'stuck0';
    if (kind !== 'stuck0' && kind !== 'flip') bad(source, `neuron entry ${i} has kind ${JSON.stringify(kind)}, not stuck0 or flip`);
    if (kind === 'flip' && (!isInt(o.bit) || o.bit < 0 || o.bit > 31)) bad(source, `neuron entry ${i} has bit ${JSON.stringify(o.bit)}, outside 0–31`);
    return kind === 'flip' ? { value: o.value, index: o.index, kind, bit: o.bit as number } : { value: o.value, index: o.index, kind };
  });
  return { weights, neurons };
}

/** Reads a fault list file (see the file comment), validating it against `model` when given. */
export function readFaultList(path: string, model?: Model): FaultList {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FlipguardError(`Fault list "${path}" cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path and its permissions.`);
  }
  return parseFaultList(text, `"${path}"`, model);
}
