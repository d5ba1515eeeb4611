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
  const unsupported = tinyModelFile(dir, 'Round');
  const cases: [string[], RegExp][] = [
    [['info', truncated], /truncated\.onnx.*not a valid ONNX model/],
    [['info', text], /notes\.onnx.*not a valid ONNX model/],
    [['info', join(dir, 'missing.onnx')], /missing\.onnx" does not exist/],
    [['info', unsupported], /"Round"/],
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

test('inject runs a seeded campaign, writes records and the summary JSON, resumes, and refuses bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const model = tinyModelFile(dir);
  const out = join(dir, 'run.jsonl');
  const json = join(dir, 'summary.json');
  const args = ['inject', model, '--ber', '1e-4,1e-3', '--trials', '4', '--limit', '100', '--seed', '5', '--out', out, '--quiet'];
  const r = run(...args, '--json', json);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /BER/);
  const s = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(s.bers.length, 2);
  for (const k of ['ber', 'trials', 'meanDrop', 'stdDrop', 'ci95', 'meanSdc', 'meanDue', 'trialsPerSecond']) assert.ok(k in s.bers[0], k);
  assert.ok(typeof s.golden.accuracy === 'number');
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1 + 8);
  const rec = JSON.parse(lines[1]);
  for (const k of ['ber', 'trial', 'seed', 'faults', 'accuracy', 'accuracyDrop', 'sdcRate', 'dueRate', 'millis']) assert.ok(k in rec, k);
  // re-running into the same file runs nothing new and gives the same summary
  const json2 = join(dir, 'summary2.json');
  const again = run(...args, '--json', json2);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /0 trials run, 8 resumed/);
  const s2 = JSON.parse(readFileSync(json2, 'utf8'));
  assert.deepEqual(s2.bers.map((b: { meanDrop: number }) => b.meanDrop), s.bers.map((b: { meanDrop: number }) => b.meanDrop));
  // the same file with another configuration is refused and left as it was
  const before = readFileSync(out, 'utf8');
  const other = run('inject', model, '--ber', '1e-4', '--trials', '4', '--limit', '100', '--seed', '6', '--out', out, '--quiet');
  assert.equal(other.code, 2);
  assert.equal(readFileSync(out, 'utf8'), before);
  for (const [extra, re] of [
    [['--ber', '2'], /BER|bit error rate/i],
    [['--ber', 'abc'], /--ber must be a comma-separated list of numbers/],
    [['--ber', '1e-3', '--bits', '23-40'], /0.?31/],
    [['--ber', '1e-3', '--targets', 'ConvTranspose'], /select|match|no parameter/i],
    [['--ber', '1e-3', '--fault-list', join(dir, 'nofile.json')], /nofile\.json/],
    [['--ber', '1e-3', '--shard', '3'], /--shard must look like i\/n/],
  ] as [string[], RegExp][]) {
    const e = run('inject', model, '--limit', '10', '--quiet', ...extra);
    assert.equal(e.code, 2, `${extra.join(' ')}: ${e.err}`);
    assert.match(e.err, re, extra.join(' '));
    assert.equal(e.err.trim().split('\n').length, 1, e.err);
  }
});

test('inject --dry-run prints the replayable plan; --fault-list replays it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const model = tinyModelFile(dir);
  const r = run('inject', model, '--ber', '1e-3', '--seed', '9', '--dry-run');
  assert.equal(r.code, 0, r.err);
  const plan = JSON.parse(r.out.trim().split('\n')[0]);
  assert.equal(plan.ber, 1e-3);
  assert.ok(plan.faults.length > 0);
  for (const f of plan.faults) assert.ok(f.bit >= 0 && f.bit <= 31 && typeof f.tensor === 'string');
  assert.deepEqual(JSON.parse(run('inject', model, '--ber', '1e-3', '--seed', '9', '--dry-run').out.trim().split('\n')[0]), plan);
  const list = join(dir, 'plan.json');
  writeFileSync(list, JSON.stringify(plan));
  const json = join(dir, 'replay.json');
  const rr = run('inject', model, '--fault-list', list, '--limit', '50', '--json', json, '--quiet');
  assert.equal(rr.code, 0, rr.err);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).faults, plan.faults.length);
});

test('inject with one trial per BER says the interval needs two trials instead of printing NaN', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  const r = run('inject', tinyModelFile(dir), '--ber', '1e-3', '--trials', '1', '--limit', '50', '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /n\/a \(1 trial\)/);
  assert.doesNotMatch(r.out, /NaN/);
});
