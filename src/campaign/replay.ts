/**
 * One evaluation under an explicit fault list (weights and/or neuron outputs): the replay of a
 * trial, or hand-picked faults.
 */
import type { Model } from '../graph/types.js';
import { applyFaults, cleanParameters } from '../faults/inject.js';
import type { FaultList } from '../faults/list.js';
import { predictWithNeuronFaults } from '../faults/neuron.js';
import { fixedBatch, predict, type ImageSet } from '../runtime/evaluate.js';
import { ModelRunner, type RuntimeOptions } from '../runtime/session.js';
import { PatchableModel } from '../runtime/patch.js';

export interface ReplayResult {
  goldenAccuracy: number;
  accuracy: number;
  /** Percentage points. */
  accuracyDrop: number;
  sdcRate: number;
  dueRate: number;
  faults: number;
}

/** Evaluates `model` on `data` with the faults of `list` injected, against the fault-free run. */
export async function evaluateFaultList(model: Model, data: ImageSet, list: FaultList, opts: RuntimeOptions & { batch?: number } = {}): Promise<ReplayResult> {
  const fixed = fixedBatch(model);
  const clean = await ModelRunner.create(model, opts);
  const golden = await predict(clean, data, { batch: opts.batch, fixedBatch: fixed });
  await clean.release();
  let faulty = model;
  if (list.weights.length) {
    const tensors = applyFaults(cleanParameters(model), list.weights);
    const pm = new PatchableModel(model);
    if (!list.neurons.length) {
      const p = await pm.withFaults([], opts, (r) => predict(r, data, { batch: opts.batch, fixedBatch: fixed }), tensors);
      return score(golden.top1, p.top1, data.y, list.weights.length);
    }
    const inits = new Map(model.graph.initializers);
    for (const [n, a] of tensors) inits.set(n, { ...inits.get(n)!, data: a });
    faulty = { ...model, graph: { ...model.graph, initializers: inits } };
  }
  const p = await predictWithNeuronFaults(faulty, data, list.neurons, { ...opts, batch: opts.batch });
  return score(golden.top1, p.top1, data.y, list.weights.length + list.neurons.length);
}

function score(golden: Int32Array, top1: Int32Array, labels: Uint8Array, faults: number): ReplayResult {
  let gc = 0, c = 0, sdc = 0, due = 0;
  for (let i = 0; i < labels.length; i++) {
    if (golden[i] === labels[i]) gc++;
    if (top1[i] < 0) { due++; continue; }
    if (top1[i] === labels[i]) c++;
    if (top1[i] !== golden[i]) sdc++;
  }
  const n = labels.length || 1;
  return { goldenAccuracy: gc / n, accuracy: c / n, accuracyDrop: ((gc - c) / n) * 100, sdcRate: sdc / n, dueRate: due / n, faults };
}
