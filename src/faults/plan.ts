/**
 * Seeded fault plans (SPEC §1). A plan is plain data — a list of (tensor, index, bit, kind) — and a
 * pure function of (campaign seed, model parameter fingerprint, BER, trial) plus the fault-model
 * options (count rule, kind, bit range, target filter). Print it, store it, replay it with
 * `applyFaults`.
 *
 * Count rules, per selected tensor of `numel` stored words and `nbits` selected bits per word (the
 * bit selection resolved for the tensor's format, `resolveBitsFor`: a float16 tensor under the
 * default selection has 16 bits per word, an int8 one 8; BER is per stored bit in every format):
 * - `binomial` (default): every selected (element, bit) position is hit independently with
 *   probability BER, so a tensor receives Binomial(numel × nbits, BER) faults at distinct positions.
 *   Sampled exactly with geometric gaps over the flattened position space of all selected tensors
 *   (cost O(number of faults), no normal approximation).
 * - `floor` (paper A): exactly floor(BER × numel × nbits) faults per tensor, positions drawn
 *   uniformly over (element, bit) WITH replacement. A position drawn twice is listed twice; for
 *   flips the second flip restores the bit (net no change), which is what the rule implies.
 *   A product within 1e-9 (relative) of an integer counts as that integer, so a BER written in
 *   decimal (1e-4 × 50 000 × 32) gives the intended 160, not 159.
 * - `fixed`: exactly `faults` faults in total, at distinct positions drawn uniformly over all
 *   selected (element, bit) positions (BER only seeds the draw).
 *
 * Kinds: `flip` (word ^= 1 << bit), `stuck0` / `stuck1` (the bit forced to 0 / 1 for the trial).
 * Bits are numbered from the stored word's LSB (faults/bits.ts): float32 0–22 mantissa, 23–30
 * exponent, 31 sign; float16 0–9, 10–14, 15; bfloat16 0–6, 7–14, 15; int8 7 = sign.
 * A float32-only model draws exactly the plans it drew before other formats were supported.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { FlipguardError } from '../errors.js';
import type { Model } from '../graph/types.js';
import { Rng } from '../util/rng.js';
import { resolveBits, resolveBitsFor, type BitRange } from './bits.js';
import { parameterFingerprint } from './fingerprint.js';
import type { ParameterInfo } from './params.js';
import { bernoulliPositions, positionsWithoutReplacement, positionsWithReplacement } from './sample.js';
import { selectTargets, type TargetFilter } from './targets.js';

export type FaultKind = 'flip' | 'stuck0' | 'stuck1';
export const FAULT_KINDS: readonly FaultKind[] = ['flip', 'stuck0', 'stuck1'];
export type CountMode = 'binomial' | 'floor' | 'fixed';
export const COUNT_MODES: readonly CountMode[] = ['binomial', 'floor', 'fixed'];

/** One fault in a stored parameter word: element `index` (flat, row-major) of `tensor`, bit `bit`. */
export interface WeightFault {
  tensor: string;
  index: number;
  bit: number;
  kind: FaultKind;
}

/** How faults are drawn (everything but seed, BER and trial). */
export interface FaultModelOptions {
  /** Count rule; default `binomial`. */
  count?: CountMode;
  /** Number of faults for `count: 'fixed'`. */
  faults?: number;
  /** Fault kind; default `flip`. */
  kind?: FaultKind;
  /**
   * Bits that can be hit; default every bit of each word. `[lo, hi]` inclusive, `{list}`, "23-30",
   * "exponent"… Names mean that field of each tensor's format; numbers are kept where the word has them.
   */
  bits?: BitRange | string;
  /** Which parameter tensors can be hit; default every float32 initializer. */
  targets?: TargetFilter;
}

export interface FaultPlan {
  /** The derived per-trial seed (what `Rng` was seeded with). */
  seed: number;
  /** The campaign seed it came from. */
  campaignSeed: number;
  /** Parameter fingerprint of the model (SHA-256 hex). */
  fingerprint: string;
  /** Bit error rate: probability per stored bit, in [0, 1]. */
  ber: number;
  trial: number;
  count: CountMode;
  kind: FaultKind;
  faults: WeightFault[];
}

/** Throws a FlipguardError unless `ber` is a number in [0, 1]. */
export function checkBer(ber: unknown): asserts ber is number {
  if (typeof ber !== 'number' || !Number.isFinite(ber) || ber < 0 || ber > 1) {
    throw new FlipguardError(`BER ${String(ber)} is not a probability in [0, 1]; give a bit error rate such as 1e-6.`);
  }
}

/** Throws a FlipguardError unless `seed` is a 32-bit integer. */
export function checkSeed(seed: unknown): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < -2147483648 || seed >= 4294967296) {
    throw new FlipguardError(`Seed ${String(seed)} is not a 32-bit integer; give a whole number such as 1.`);
  }
}

function checkTrial(trial: unknown): asserts trial is number {
  if (typeof trial !== 'number' || !Number.isInteger(trial) || trial < 0) {
    throw new FlipguardError(`Trial ${String(trial)} is not a trial number; give a whole number ≥ 0.`);
  }
}

/** floor(x) where x within 1e-9 (relative) below an integer counts as that integer. */
export function floorCount(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x))) return r;
  return Math.floor(x);
}

/** The seed a trial's generator starts from: a hash of (campaign seed, fingerprint, BER, trial). */
export function trialSeed(seed: number, fingerprint: string, ber: number, trial: number): number {
  return Rng.derive(seed, 'faults', fingerprint, ber, trial);
}

/**
 * Draws plans for one model and fault model; construct once per campaign (it resolves targets and
 * hashes the parameters), then call `plan` per (seed, BER, trial).
 */
export class FaultPlanner {
  /** Targeted tensors with at least one selectable bit in their format. */
  readonly targets: readonly ParameterInfo[];
  /** The bit selection as float32 bit positions (what a campaign header records). */
  readonly bits: readonly number[];
  /** Selected bits of each target's words (same order as `targets`). */
  readonly targetBits: readonly (readonly number[])[];
  /** Selected (element, bit) positions over all targets: Σ numel × targetBits[i].length. */
  readonly totalBits: number;
  readonly fingerprint: string;
  readonly count: CountMode;
  readonly kind: FaultKind;
  readonly fixedFaults: number;
  private readonly offsets: number[];

  constructor(model: Model, opts: FaultModelOptions = {}, fingerprint?: string) {
    this.count = opts.count ?? 'binomial';
    if (!COUNT_MODES.includes(this.count)) throw new FlipguardError(`Unknown fault count rule "${String(this.count)}"; use ${COUNT_MODES.join(', ')}.`);
    this.kind = opts.kind ?? 'flip';
    if (!FAULT_KINDS.includes(this.kind)) throw new FlipguardError(`Unknown fault kind "${String(this.kind)}"; use ${FAULT_KINDS.join(', ')}.`);
    this.bits = resolveBits(opts.bits);
    const selected = selectTargets(model, opts.targets);
    const perTarget = selected.map((t) => resolveBitsFor(opts.bits, t.format));
    this.targets = selected.filter((_, i) => perTarget[i].length > 0);
    this.targetBits = perTarget.filter((b) => b.length > 0);
    if (this.targets.length === 0) {
      const formats = [...new Set(selected.map((t) => t.format))].join(', ');
      throw new FlipguardError(`The bit selection ${JSON.stringify(opts.bits)} holds no bit of the targeted tensors' words (${formats}); choose bits that exist in those formats (e.g. all, sign, 0-7).`);
    }
    this.offsets = [];
    let total = 0;
    this.targets.forEach((t, i) => { this.offsets.push(total); total += t.numel * this.targetBits[i].length; });
    this.totalBits = total;
    this.fixedFaults = 0;
    if (this.count === 'fixed') {
      const k = opts.faults;
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 0) throw new FlipguardError(`The fixed fault count ${String(k)} is not a whole number ≥ 0; pass faults: N with count 'fixed'.`);
      if (k > total) throw new FlipguardError(`${k} faults do not fit in the ${total} selected bit positions; ask for at most ${total} or widen the targets.`);
      this.fixedFaults = k;
    } else if (opts.faults !== undefined) {
      throw new FlipguardError(`A fault count (faults: ${opts.faults}) only applies to count 'fixed', not '${this.count}'; drop it or use count 'fixed'.`);
    }
    this.fingerprint = fingerprint ?? parameterFingerprint(model);
  }

  /** Expected number of faults per trial at `ber` (exact for floor and fixed). */
  expectedFaults(ber: number): number {
    checkBer(ber);
    if (this.count === 'fixed') return this.fixedFaults;
    if (this.count === 'floor') return this.targets.reduce((s, t, i) => s + floorCount(ber * t.numel * this.targetBits[i].length), 0);
    return ber * this.totalBits;
  }

  /** Maps a flat position over all selected (element, bit) positions to a fault. */
  private at(pos: number): WeightFault {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (this.offsets[mid] <= pos) lo = mid; else hi = mid - 1; }
    const local = pos - this.offsets[lo];
    const bits = this.targetBits[lo];
    const nb = bits.length;
    return { tensor: this.targets[lo].name, index: Math.floor(local / nb), bit: bits[local % nb], kind: this.kind };
  }

  /** The plan of one trial. Pure: the same arguments give the same plan on every machine. */
  plan(seed: number, ber: number, trial: number): FaultPlan {
    checkSeed(seed);
    checkBer(ber);
    checkTrial(trial);
    const s = trialSeed(seed, this.fingerprint, ber, trial);
    const rng = new Rng(s);
    let faults: WeightFault[];
    if (this.count === 'binomial') {
      faults = bernoulliPositions(rng, this.totalBits, ber).map((p) => this.at(p));
    } else if (this.count === 'fixed') {
      faults = positionsWithoutReplacement(rng, this.totalBits, this.fixedFaults).map((p) => this.at(p));
    } else {
      faults = [];
      this.targets.forEach((t, i) => {
        const space = t.numel * this.targetBits[i].length;
        const k = floorCount(ber * space);
        for (const p of positionsWithReplacement(rng, space, k)) faults.push(this.at(this.offsets[i] + p));
      });
    }
    return { seed: s, campaignSeed: seed, fingerprint: this.fingerprint, ber, trial, count: this.count, kind: this.kind, faults };
  }
}

const BIG_ENDIAN = endianness() === 'BE';

/** The bytes of `a` in little-endian order on every machine. */
function littleEndian(a: Float64Array): Buffer {
  const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return BIG_ENDIAN ? Buffer.from(b).swap64() : b;
}

/** Hex digits kept of the SHA-256 in `planDigest` (64 bits: a chance collision is ~1e-19 per pair). */
const DIGEST_HEX = 16;

/**
 * A short digest of a plan's faults: the first 16 hex digits of SHA-256 over, per target tensor in
 * code-unit order of names, the name, a NUL, the fault count (float64 LE) and the sorted keys
 * (index × 32 + bit) × 3 + kind (flip 0, stuck0 1, stuck1 2) as float64 LE. It identifies the multiset
 * of faults a trial injected (order-free, since faults of one trial commute), so a campaign record
 * can be checked against the plan regenerated from its seed without rerunning the trial. Numeric
 * keys keep it cheap: ~17,000 faults digest in a few milliseconds.
 */
export function planDigest(faults: readonly WeightFault[]): string {
  const byTensor = new Map<string, number[]>();
  for (const f of faults) {
    const key = (f.index * 32 + f.bit) * 3 + FAULT_KINDS.indexOf(f.kind);
    const l = byTensor.get(f.tensor);
    if (l) l.push(key); else byTensor.set(f.tensor, [key]);
  }
  const h = createHash('sha256');
  for (const name of [...byTensor.keys()].sort()) {
    const keys = Float64Array.from(byTensor.get(name)!).sort();
    h.update(`${name}\0`);
    h.update(littleEndian(Float64Array.of(keys.length)));
    h.update(littleEndian(keys));
  }
  return h.digest('hex').slice(0, DIGEST_HEX);
}

/** One trial's plan: `new FaultPlanner(model, opts).plan(seed, ber, trial)`. */
export function planFaults(model: Model, opts: FaultModelOptions & { seed: number; ber: number; trial?: number }): FaultPlan {
  checkBer(opts.ber);
  checkSeed(opts.seed);
  return new FaultPlanner(model, opts).plan(opts.seed, opts.ber, opts.trial ?? 0);
}
