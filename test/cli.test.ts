import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, A, makeModel } from '../src/graph/builder.js';
import { encodeModel } from '../src/graph/onnx.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A tiny MNIST classifier whose weights make it predict from pixel sums (deterministic). */
function tinyModelFile(dir: string, op?: string): string {
  const b = new GraphBuilder('tiny');
  const x = b.input('input', ['batch', 1, 28, 28]);
  const w = b.init('conv.weight', [2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => ((i * 7) % 5) / 10 - 0.2));
  const c = b.op('Conv', [x, w], { pads: A.is([1, 1, 1, 1]) }, 'conv');
  const r = b.op(op ?? 'Relu', [c], {}, 'relu');
  const f = b.op('Flatten', [r], { axis: A.i(1) }, 'flatten');
  const fw = b.init('fc.weight', [10, 2 * 28 * 28], Array.from({ length: 10 * 1568 }, (_, i) => Math.sin(i) * 0.01));
  const fb = b.init('fc.bias', [10], new Array(10).fill(0));
  b.node('Gemm', [f, fw, fb], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 10]);
  const path = join(dir, op ? `bad-${op}.onnx` : 'tiny.onnx');
  writeFileSync(path, encodeModel(makeModel(b.build())));
  return path;
}

test('info prints layers and writes JSON with parameter and MAC totals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const model = tinyModelFile(dir);
  const json = join(dir, 'info.json');
  const r = run('info', model, '--json', json);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /conv/);
  const info = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(info.parameters, 18 + 10 * 1568 + 10);
  assert.equal(info.macs, 2 * 28 * 28 * 9 + 1568 * 10);
  assert.deepEqual(info.layers.map((l: { name: string }) => l.name), ['conv', 'fc']);
});

test('evaluate prints accuracy and writes the documented JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const model = tinyModelFile(dir);
  const json = join(dir, 'eval.json');
  const r = run('evaluate', model, '--data', 'mnist', '--limit', '300', '--batch', '64', '--json', json, '--quiet');
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(readFileSync(json, 'utf8'));
  assert.deepEqual(Object.keys(e), ['accuracy', 'correct', 'total', 'imagesPerSecond']);
  assert.equal(e.total, 300);
  assert.equal(e.accuracy, e.correct / 300);
  assert.ok(e.imagesPerSecond > 0);
  // batch size does not change the result
  const json2 = join(dir, 'eval2.json');
  assert.equal(run('evaluate', model, '--limit', '300', '--batch', '7', '--json', json2, '--quiet').code, 0);
  assert.equal(JSON.parse(readFileSync(json2, 'utf8')).correct, e.correct);
});

test('bad input gives one sentence and exit code 2, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const model = tinyModelFile(dir);
  const bytes = readFileSync(model);
  const truncated = join(dir, 'truncated.onnx');
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const text = join(dir, 'notes.onnx');
  writeFileSync(text, 'hello, this is not a model\n');
  const unsupported = tinyModelFile(dir, 'Erf');
  const cases: [string[], RegExp][] = [
    [['info', truncated], /truncated\.onnx.*not a valid ONNX model/],
    [['info', text], /notes\.onnx.*not a valid ONNX model/],
    [['info', join(dir, 'missing.onnx')], /missing\.onnx" does not exist/],
    [['info', unsupported], /"Erf"/],
    [['evaluate', model, '--bogus'], /Unknown option --bogus/],
    [['evaluate', model, '--data', 'cifar10'], /data-dir|folder/i],
    [['evaluate', model, '--data', 'cifar10', '--data-dir', join(dir, 'nowhere')], /nowhere/],
    [['evaluate', model, '--limit', 'ten'], /--limit must be a whole number/],
    [['evaluate', model, '--data', 'idx', '--data-dir', dir], /idx|ubyte/i],
    [['frobnicate'], /Unknown command "frobnicate"/],
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
  }
  assert.ok(existsSync(model));
});

test('data whose image shape does not fit the model is refused clearly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  // a CIFAR-shaped model evaluated on MNIST
  const b = new GraphBuilder('cifarish');
  const x = b.input('input', ['batch', 3, 32, 32]);
  const f = b.op('Flatten', [x], { axis: A.i(1) });
  const w = b.init('fc.weight', [10, 3072], new Float32Array(30720));
  b.node('Gemm', [f, w], { transB: A.i(1) }, { outputs: ['logits'] });
  b.output('logits', ['batch', 10]);
  const path = join(dir, 'cifar.onnx');
  writeFileSync(path, encodeModel(makeModel(b.build())));
  const r = run('evaluate', path, '--limit', '10');
  assert.equal(r.code, 2);
  assert.match(r.err, /expects images of shape \[3, 32, 32\].*\[1, 28, 28\]/);
});
