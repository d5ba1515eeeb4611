/**
 * Small data sets in the public CIFAR-10 binary format, made in a test: each record is one label
 * byte and 3072 pixel bytes (R, G, B planes of 32×32); train = data_batch_1..5.bin, test =
 * test_batch.bin.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PIXELS = 3072;

/** One record per image of `x` ([n, 3, 32, 32] floats, mapped from about [−2, 2] to bytes). */
function records(x: Float32Array, labels: ArrayLike<number>, which: number[]): Buffer {
  const out = Buffer.alloc(which.length * (1 + PIXELS));
  which.forEach((i, r) => {
    const at = r * (1 + PIXELS);
    out[at] = labels[i];
    for (let k = 0; k < PIXELS; k++) out[at + 1 + k] = Math.max(0, Math.min(255, Math.round((x[i * PIXELS + k] * 0.25 + 0.5) * 255)));
  });
  return out;
}

/**
 * A new temporary directory holding a CIFAR-10 binary set made of the n images of `x` (labels
 * `labels`, 0–9): every image in test_batch.bin, and the images spread over the five train files
 * (image i in data_batch_{i mod 5 + 1}; with fewer than 5 images they are reused so that no
 * file is empty). Writes into `into` when given (replacing its files). Returns the directory.
 */
export function cifar10Dir(x: Float32Array, labels: ArrayLike<number>, into?: string): string {
  const n = labels.length;
  const dir = into ?? mkdtempSync(join(tmpdir(), 'fg-cifar-'));
  const train = Array.from({ length: Math.max(5, n) }, (_, i) => i % n);
  for (let f = 0; f < 5; f++) writeFileSync(join(dir, `data_batch_${f + 1}.bin`), records(x, labels, train.filter((_, i) => i % 5 === f)));
  writeFileSync(join(dir, 'test_batch.bin'), records(x, labels, Array.from({ length: n }, (_, i) => i)));
  return dir;
}
