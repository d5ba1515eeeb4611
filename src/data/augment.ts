/**
 * Training-time augmentation: random translations (zero fill) and, for natural images, horizontal
 * flips. Seeded, so a training run is reproducible. Pure data movement (copies with offsets).
 */
import { Rng } from '../util/rng.js';

export interface AugmentOptions {
  /** Largest shift in pixels along each axis (uniform in [-shift, shift]); 0 = none. */
  shift?: number;
  /** Mirror left–right with probability 1/2 (not for digits). */
  hflip?: boolean;
}

/** Returns an augmented copy of a batch `x` of `n` images of shape [C, H, W]. */
export function augmentBatch(x: Float32Array, n: number, shape: readonly number[], opts: AugmentOptions, rng: Rng): Float32Array {
  const [C, H, W] = shape;
  const s = opts.shift ?? 0;
  if (s === 0 && !opts.hflip) return x;
  const out = new Float32Array(n * C * H * W);
  for (let i = 0; i < n; i++) {
    const dy = s ? rng.int(2 * s + 1) - s : 0;
    const dx = s ? rng.int(2 * s + 1) - s : 0;
    const flip = opts.hflip ? rng.int(2) === 1 : false;
    for (let c = 0; c < C; c++) {
      const base = (i * C + c) * H * W;
      for (let y = 0; y < H; y++) {
        const sy = y - dy;
        if (sy < 0 || sy >= H) continue;
        for (let xx = 0; xx < W; xx++) {
          let sx = xx - dx;
          if (sx < 0 || sx >= W) continue;
          if (flip) sx = W - 1 - sx;
          out[base + y * W + xx] = x[base + sy * W + sx];
        }
      }
    }
  }
  return out;
}
