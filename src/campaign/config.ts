/**
 * A campaign's configuration header (what its records depend on) and the image limit it applies:
 * shared by the single-process runner (run.ts) and queue workers (queue.ts).
 */
import { FlipguardError, opt } from '../errors.js';
import type { Model } from '../graph/types.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { NAMED_BIT_RANGES, type BitRange } from '../faults/bits.js';
import { dataFingerprint, modelFingerprint } from '../faults/fingerprint.js';
import type { FaultPlanner } from '../faults/plan.js';
import { normalizeFilter, type TargetFilter } from '../faults/targets.js';
import type { CampaignConfig } from './records.js';

/** Limits an image set to its first `limit` images (a view, no copy). */
export function limitImages(data: ImageSet, limit: number | undefined): ImageSet {
  if (limit === undefined) return data;
  if (!Number.isInteger(limit) || limit < 1) throw new FlipguardError(`The ${opt('limit')} must be a whole number ≥ 1, got ${limit}.`);
  if (limit >= data.count) return data;
  const per = data.shape.reduce((a, b) => a * b, 1);
  return { ...data, x: data.x.subarray(0, limit * per), y: data.y.subarray(0, limit), count: limit };
}

/** The configuration header fields of a campaign (what its records depend on). */
export function campaignConfig(model: Model, data: ImageSet, planner: FaultPlanner, opts: { limit?: number; seed: number; targets?: TargetFilter; bits?: BitRange | string }): CampaignConfig {
  const field = typeof opts.bits === 'string' && opts.bits.trim().toLowerCase() in NAMED_BIT_RANGES ? opts.bits.trim().toLowerCase() : undefined;
  const bitField = field && planner.targets.some((t) => t.format !== 'float32') ? { bitField: field } : {};
  return {
    model: modelFingerprint(model),
    params: planner.fingerprint,
    data: { name: data.name, count: data.count, fingerprint: dataFingerprint(data) },
    limit: opts.limit ?? null,
    seed: opts.seed,
    count: planner.count,
    faults: planner.count === 'fixed' ? planner.fixedFaults : null,
    kind: planner.kind,
    bits: [...planner.bits],
    ...bitField,
    targets: normalizeFilter(opts.targets),
  };
}
