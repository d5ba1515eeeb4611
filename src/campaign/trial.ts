/**
 * One campaign trial: the seeded fault plan of (BER, trial), injected into copies of the clean
 * parameters, evaluated, and turned into a record. The single-process runner and queue workers both
 * call `runTrial`, so a record does not depend on where its trial ran (apart from `millis`).
 */
import { injectFaults } from '../faults/inject.js';
import type { TensorData } from '../graph/types.js';
import { planDigest, type FaultPlanner } from '../faults/plan.js';
import type { TrialEngine, TrialOutcome } from './engine.js';
import type { TrialRecord } from './records.js';

export interface TrialContext {
  engine: TrialEngine;
  planner: FaultPlanner;
  /** Clean parameters by name (`cleanParameters(model)`); never modified. */
  clean: ReadonlyMap<string, TensorData>;
  /** Campaign seed. */
  seed: number;
}

/** Runs trial `trial` at bit error rate `ber` and returns its record and evaluation path. */
export async function runTrial(ctx: TrialContext, ber: number, trial: number): Promise<{ record: TrialRecord; path: TrialOutcome['path'] }> {
  const t0 = performance.now();
  const plan = ctx.planner.plan(ctx.seed, ber, trial);
  const inj = injectFaults(ctx.clean, plan);
  const o = await ctx.engine.evaluate(inj.tensors, inj.changed);
  const millis = performance.now() - t0;
  const golden = ctx.engine.golden;
  const n = golden.count;
  const record: TrialRecord = {
    ber, trial, seed: plan.seed, faults: plan.faults.length, plan: planDigest(plan.faults),
    accuracy: o.correct / n,
    accuracyDrop: ((golden.correct - o.correct) * 100) / n,
    sdcRate: o.sdc / n,
    dueRate: o.due / n,
    millis: Math.round(millis * 1000) / 1000,
  };
  return { record, path: o.path };
}
