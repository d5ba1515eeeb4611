/**
 * flipguard's one seeded random generator: xoshiro128** (Blackman & Vigna) with its 128-bit state
 * filled from a 32-bit seed by splitmix32. All arithmetic is 32-bit integer math (`Math.imul`,
 * `>>>`), so a given seed yields the same stream on every machine and Node version.
 *
 * Streams for independent purposes should come from `Rng.derive(...)` (a hash of descriptive parts,
 * e.g. `Rng.derive(seed, 'faults', modelFingerprint, ber, trial)`), never from consuming one
 * generator in an order-dependent way.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** One splitmix32 step: advances `state` by the golden-ratio increment and returns a mixed word. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** UTF-8 FNV-1a (32-bit) of a string. */
function fnv1a32(text: string): number {
  const bytes = new TextEncoder().encode(text);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < -2147483648 || seed >= TWO_POW_32) {
    throw new RangeError(`Rng seed ${seed} is not a 32-bit integer; pass an integer in [-2^31, 2^32).`);
  }
  return seed >>> 0;
}

/** Seeded pseudo-random generator (xoshiro128**, 2^128 − 1 period). Not for cryptography. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Second Box–Muller variate kept for the next `normal()` call. */
  private spare: number | undefined = undefined;

  /**
   * @param seed a 32-bit integer (negative int32 values are taken modulo 2^32). The 128-bit state
   * is four successive splitmix32 outputs from `seed`.
   */
  constructor(seed: number) {
    const st = { s: checkSeed(seed) };
    this.s0 = splitmix32(st);
    this.s1 = splitmix32(st);
    this.s2 = splitmix32(st);
    this.s3 = splitmix32(st);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // unreachable in practice
  }

  /** A generator with the raw xoshiro128** state `[s0, s1, s2, s3]` (uint32 each, not all zero). */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v >>> 0) as [number, number, number, number];
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) throw new RangeError('xoshiro128** state must not be all zero.');
    return r;
  }

  /**
   * Hashes `parts` into a 32-bit seed, deterministically on every machine: FNV-1a over the UTF-8
   * of `JSON.stringify(parts)` (so the number 1 and the string "1" differ), then a splitmix32
   * finaliser. Numbers must be finite.
   */
  static derive(...parts: (number | string)[]): number {
    for (const p of parts) {
      if (typeof p === 'number' && !Number.isFinite(p)) {
        throw new RangeError(`Rng.derive got non-finite number ${p}; pass finite numbers or strings.`);
      }
    }
    return splitmix32({ s: fnv1a32(JSON.stringify(parts)) });
  }

  /** `new Rng(Rng.derive(...parts))`. */
  static fromParts(...parts: (number | string)[]): Rng {
    return new Rng(Rng.derive(...parts));
  }

  /** An independent copy with the same state (both produce the same stream from here). */
  clone(): Rng {
    const r = Rng.fromState([this.s0, this.s1, this.s2, this.s3]);
    r.spare = this.spare;
    return r;
  }

  /** Next uniform 32-bit unsigned integer in [0, 2^32). */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ s1) >>> 0;
    this.s1 = (s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits (two `nextU32` calls). */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /**
   * Unbiased uniform integer in [0, n) for an integer 1 ≤ n ≤ 2^53 (rejection sampling: one
   * `nextU32` per try when n ≤ 2^32, two otherwise).
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53) {
      throw new RangeError(`Rng.int(n) needs an integer 1 <= n <= 2^53, got ${n}.`);
    }
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n); // accept x < limit: a multiple of n values
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const x = (this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6);
      if (x < limit) return x % n;
    }
  }

  /** Standard normal variate (mean 0, std 1), Box–Muller; consumes two `next()` per pair. */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const a = 2 * Math.PI * u2;
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  /** Fisher–Yates shuffle of `a` in place (arrays or typed arrays); returns `a`. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}
