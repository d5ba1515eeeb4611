/**
 * Limits with numbers: a zoo model is sized by a dry run before anything is built (refused above
 * 2 GiB with the estimate), and a gzipped data file is inflated only up to the length its IDX
 * header promises, so a decompression bomb is stopped early with bounded memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildModel } from '../src/models/index.js';
import { loadIdx } from '../src/data/idx.js';
import { cli, refusal, repoRoot } from './security-helpers.js';

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('zoo: a model above 2 GiB is refused from a dry run, with its estimated size, before any weight is drawn', () => {
  const t0 = performance.now();
  const before = process.memoryUsage().arrayBuffers;
  // LeNet-5 at width 1000 on MNIST: conv 6000@5×5, conv 16000@5×5×6000, fc 120000 × (16000·5·5) …
  const m = refusal(() => buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10, width: 1000 }));
  assert.equal(m, 'lenet5 at width 1000 on 1×28×28 input would have 60,481,216,010 parameters (225.3 GiB), above flipguard\'s limit of 2.0 GiB (537 M float32 parameters) per model; lower the width multiplier (option "width") or the input size.');
  assert.match(refusal(() => buildModel('vgg16', { inputShape: [3, 32, 32], classes: 10, width: 8 })), /vgg16 at width 8 on 3×32×32 input would have 2,149,894,666 parameters \(8\.0 GiB\)/);
  // a huge input grows LeNet's first dense layer
  assert.match(refusal(() => buildModel('lenet5', { inputShape: [1, 20000, 20000], classes: 10 })), /would have [\d,]+ parameters \(\d+\.\d GiB\), above/);
  assert.match(refusal(() => buildModel('alexnet', { inputShape: [3, 32, 32], classes: 10, width: 1e300 })), /more than 10\^21 parameters \(unboundedly many bytes\)/);
  assert.ok(performance.now() - t0 < 5000, 'refused without building');
  assert.ok(process.memoryUsage().arrayBuffers - before < 50e6, 'no weights were allocated');
  // ordinary sizes still build
  const small = buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 });
  assert.equal(small.graph.initializers.size, 10);
});

test('train --arch lenet5 --width 1000 is refused with the estimate, exit 2, nothing written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-limits-'));
  const out = join(dir, 'big.onnx');
  const r = run('train', '--arch', 'lenet5', '--width', '1000', '--epochs', '1', '--limit', '64', '--out', out, '--quiet');
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
  assert.match(r.err, /^flipguard: lenet5 at width 1000 on 1×28×28 input would have 60,481,216,010 parameters \(225\.3 GiB\), above flipguard's limit of 2\.0 GiB .* lower the width multiplier \(--width\) or the input size\.$/m);
  assert.equal(existsSync(out), false);
});

/** An IDX images file n×rows×cols with pixel value i % 256 at byte i. */
function idxImages(n: number, rows: number, cols: number): Uint8Array {
  const b = new Uint8Array(16 + n * rows * cols);
  const v = new DataView(b.buffer);
  v.setUint32(0, 2051);
  v.setUint32(4, n);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 16; i < b.length; i++) b[i] = i % 256;
  return b;
}

function idxLabels(labels: number[]): Uint8Array {
  const b = new Uint8Array(8 + labels.length);
  new DataView(b.buffer).setUint32(0, 2049);
  new DataView(b.buffer).setUint32(4, labels.length);
  b.set(labels, 8);
  return b;
}

/**
 * A gzip file of ~1.6 MB that inflates to 1.6 GB: the honest 3-image IDX file as its first gzip
 * member, then 100 members of 16 MiB of zeros each (gunzip concatenates members).
 */
const zerosMember = (() => { let z: Uint8Array | undefined; return () => (z ??= gzipSync(new Uint8Array(16 << 20), { level: 9 })); })();

function bomb(): Uint8Array {
  const zeros = zerosMember();
  const head = gzipSync(idxImages(3, 2, 2));
  const out = new Uint8Array(head.length + 100 * zeros.length);
  out.set(head, 0);
  for (let i = 0; i < 100; i++) out.set(zeros, head.length + i * zeros.length);
  return out;
}

test('gzip bomb: inflation stops as soon as it passes the length the IDX header promises', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bomb-'));
  const b = bomb();
  assert.ok(b.length < 2e6, `bomb is ${b.length} bytes`);
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), b);
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxLabels([1, 2, 3]));
  const before = process.memoryUsage();
  const t0 = performance.now();
  const m = refusal(() => loadIdx(dir));
  const seconds = (performance.now() - t0) / 1000;
  const after = process.memoryUsage();
  assert.match(m, /t10k-images-idx3-ubyte\.gz inflates to more than the 28 bytes its header promises/);
  assert.match(m, /inflation was stopped there — download it again or store it uncompressed as t10k-images-idx3-ubyte\.$/);
  // inflating all 1.6 GB takes seconds and gigabytes; stopping at 28 bytes takes neither
  assert.ok(seconds < 1, `took ${seconds} s`);
  assert.ok(after.arrayBuffers - before.arrayBuffers < 64e6, `arrayBuffers grew by ${(after.arrayBuffers - before.arrayBuffers) / 1e6} MB`);
  assert.ok(after.rss - before.rss < 256e6, `rss grew by ${(after.rss - before.rss) / 1e6} MB`);

  // the same file without the bomb loads, so the cap is exactly the promise
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxImages(3, 2, 2)));
  assert.equal(loadIdx(dir).count, 3);

  // a header promising more than 2 GiB is refused before inflating anything beyond it
  const huge = idxImages(1, 1, 1);
  new DataView(huge.buffer).setUint32(4, 100_000_000);
  new DataView(huge.buffer).setUint32(8, 100);
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(huge));
  assert.match(refusal(() => loadIdx(dir)), /declares 100000000×100×1 values \(10000000016 bytes\), above flipguard's limit of 2147483648 bytes per data file/);

  // zeros from the first byte: the header probe inflates a few KiB, sees magic 0 and stops
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), Buffer.concat(Array.from({ length: 20 }, zerosMember)));
  const t1 = performance.now();
  assert.match(refusal(() => loadIdx(dir)), /magic number 0, not 2051/);
  assert.ok(performance.now() - t1 < 1000);
});

test('gzip bomb through the CLI: exit 2 and one sentence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bomb-cli-'));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), bomb());
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxLabels([1, 2, 3]));
  const r = run('evaluate', join(repoRoot, 'models', 'lenet5-mnist.onnx'), '--data', 'idx', '--data-dir', dir, '--quiet');
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
  assert.match(r.err, /^flipguard: Data file .*t10k-images-idx3-ubyte\.gz inflates to more than the 28 bytes its header promises/);
});
