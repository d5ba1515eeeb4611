import type { ImageSet } from '../runtime/evaluate.js';
import { Rng } from '../util/rng.js';

/** Seeded uniform images in [0, 1) (timing does not depend on pixel values). */
export function randomImages(count: number, shape: readonly number[], classes: number, seed = 0): ImageSet {
  const rng = new Rng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = new Uint8Array(count).map((_, i) => i % classes);
  return { name: 'random images', x, y, shape, count, classes };
}

