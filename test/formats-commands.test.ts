/**
 * Number formats (issue 15): every command on the float32, float16 (Cast-around and native),
 * bfloat16, int8 (QDQ) and int8 QOperator versions of the bundled LeNet-5 (made by `convert` and
 * `quantize` here, the QOperator one by a test helper): info, evaluate, inject, rank and report
 * work on each, harden on the native float16 and the QOperator one; prune and train refuse the 16-bit and int8 models in one sentence that
 * names the fix, and write nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, writeModel } from '../src/graph/onnx.js';
import { qoperatorFromQdq } from './helpers/quantized.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const bundled = fileURLToPath(new URL('../../models/lenet5-mnist.onnx', import.meta.url));
function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const T = ['--threads', '1'];
function ok(...args: string[]): string {
  const r = run(...args);
  assert.equal(r.code, 0, `flipguard ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('every command on the float32, float16, native float16, bfloat16, int8 and int8 QOperator LeNet-5', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-formats-cmd-'));
  const file = (f: string) => join(dir, `lenet.${f}.onnx`);
  ok('convert', bundled, '--to', 'float16', '--out', file('float16'));
  ok('convert', bundled, '--to', 'float16', '--native', '--out', file('float16-native'));
  ok('convert', bundled, '--to', 'bfloat16', '--out', file('bfloat16'));
  ok('quantize', bundled, '--data', 'mnist', '--images', '200', '--out', file('int8'), ...T);
  // the QOperator form of the int8 model (QLinearConv kernels, integer MaxPool), as onnxruntime's QOperator quantizer writes convs
  writeModel(file('qoperator'), qoperatorFromQdq(readModel(file('int8'))));
  const models: Record<string, string> = { float32: bundled, float16: file('float16'), 'float16-native': file('float16-native'), bfloat16: file('bfloat16'), int8: file('int8'), qoperator: file('qoperator') };
  // stored bits of the weights: 61,706 parameters × 32 / 16 / 16; int8 also stores scales, zero points, int32 biases
  const rankShapes: Record<string, [string, number][]> = {};
  for (const [format, model] of Object.entries(models)) {
    const info = ok('info', model);
    assert.match(info, new RegExp(`stored parameters by format: .*${format === 'qoperator' ? 'int8' : format.replace('-native', '')} `), `${format}: info`);
    assert.match(info, format === 'qoperator' ? /conv1 +QLinearConv[\s\S]*fc3 +Gemm/ : /conv1 +Conv[\s\S]*fc3 +Gemm/, `${format}: info lists the layers`);

    const ev = ok('evaluate', model, '--data', 'mnist', '--limit', '300', ...T);
    const acc = Number(/(\d+\.\d+)%/.exec(ev)?.[1]);
    assert.ok(acc >= 95, `${format}: evaluate accuracy ${acc}`);

    const records = join(dir, `${format}.jsonl`);
    ok('inject', model, '--ber', '1e-3', '--trials', '2', '--limit', '100', '--seed', '5', '--out', records, '--quiet', ...T);
    const lines = readFileSync(records, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const trials = lines.filter((l) => 'trial' in l);
    assert.equal(trials.length, 2, `${format}: two trial records`);
    assert.ok(trials.every((t) => (t.faults as number) > 0), `${format}: faults in every trial at BER 1e-3`);

    const scores = join(dir, `${format}.scores.json`);
    ok('rank', model, '--data', 'mnist', '--method', 'vulnerability', '--images', '16', '--json', scores, '--quiet', ...T);
    const s = JSON.parse(readFileSync(scores, 'utf8')) as { layers: { name: string; scores: number[] }[] };
    rankShapes[format] = s.layers.map((l) => [l.name, l.scores.length]);
    assert.ok(s.layers.every((l) => l.scores.every(Number.isFinite)), `${format}: finite scores`);

    const report = join(dir, `report-${format}`);
    ok('report', records, scores, '--out', report, '--quiet');
    const r = JSON.parse(readFileSync(join(report, 'report.json'), 'utf8')) as { campaigns: unknown[]; scores: unknown[] };
    assert.equal(r.campaigns.length, 1, `${format}: report holds the campaign`);
    assert.equal(r.scores.length, 1, `${format}: report holds the scores`);
    assert.ok(existsSync(join(report, 'report.html')));

    if (format === 'float16-native') {
      // harden keeps the model native: float16 input, copies and logits; validated bit for bit before writing
      const hardened = join(dir, 'h.native.onnx');
      const out = ok('harden', model, '--method', 'tmr-channels', '--ratio', '0.25', '--scores', scores, '--data', 'mnist', '--limit', '50', '--out', hardened, '--quiet', ...T);
      assert.match(out, /tmr-channels.* at ratio 0.25[\s\S]*fault-free agreement +50\/50/);
      const ev2 = ok('evaluate', hardened, '--data', 'mnist', '--limit', '300', ...T);
      assert.equal(/(\d+\.\d+)%/.exec(ev2)?.[1], /(\d+\.\d+)%/.exec(ev)?.[1], 'hardened: the same accuracy');
    }
    if (format === 'qoperator') {
      // harden writes the QDQ form, whose fault-free logits are the QOperator model's (checked at the default level)
      const out = ok('harden', model, '--method', 'tmr-weights', '--ratio', '0.05', '--rank', 'magnitude', '--data', 'mnist', '--limit', '100', '--out', join(dir, 'qop.hardened.onnx'), ...T);
      assert.match(out, /QOperator kernels written in QDQ form/);
      assert.match(out, /fault-free agreement +100\/100/);
      assert.ok(readModel(join(dir, 'qop.hardened.onnx')).graph.nodes.some((n) => n.opType === 'DequantizeLinear'));
    }
    if (format === 'float32') continue;
    // prune and train change float32 parameters: refused in one sentence naming the fix, nothing written
    for (const args of [['prune', model, '--data', 'mnist', '--rank', 'l1', '--conv', '0.2', '--fc', '0.2', '--limit', '100', '--out', join(dir, 'p.onnx'), ...T],
      ['train', '--from', model, '--data', 'mnist', '--epochs', '1', '--limit', '100', '--out', join(dir, 't.onnx'), ...T]]) {
      const x = run(...args);
      assert.equal(x.code, 2, `${format} ${args[0]}: ${x.err}`);
      assert.match(x.err, new RegExp(`flipguard ${args[0]} changes float32 parameters, but this model stores them as .*; ${args[0]} the float32 model, then convert or quantize the result`));
      assert.equal(x.err.trim().split('\n').length, 1, x.err);
      assert.ok(!existsSync(join(dir, 'p.onnx')) && !existsSync(join(dir, 't.onnx')), `${format} ${args[0]} wrote nothing`);
    }
  }
  for (const f of ['float16', 'float16-native', 'bfloat16', 'int8', 'qoperator']) assert.deepEqual(rankShapes[f], rankShapes.float32, `${f}: the same layers and units as float32`);
  rmSync(dir, { recursive: true, force: true });
});

test('report reads inject --formats --json into its Number formats section, and refuses a damaged comparison in one sentence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-formats-report-'));
  const json = join(dir, 'lenet.formats.json');
  ok('inject', bundled, '--formats', 'float32,int8', '--ber', '1e-3', '--trials', '2', '--limit', '100', '--json', json, '--quiet', ...T);
  const file = JSON.parse(readFileSync(json, 'utf8')) as { formats: { format: string; bits: number; summary: { bers: { ber: number; meanDrop: number }[] } }[] };
  ok('report', json, '--out', join(dir, 'r'), '--quiet');
  const r = JSON.parse(readFileSync(join(dir, 'r', 'report.json'), 'utf8')) as { formats: { format: string; variant: string; bits: number; rows: { ber: number; meanDrop: number }[] }[] };
  assert.deepEqual(r.formats.map((f) => [f.format, f.variant, f.bits]), file.formats.map((f) => [f.format, 'none', f.bits]));
  assert.deepEqual(r.formats.map((f) => f.rows[0].meanDrop), file.formats.map((f) => f.summary.bers[0].meanDrop));
  const csv = readFileSync(join(dir, 'r', 'formats.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(readFileSync(join(dir, 'r', 'report.html'), 'utf8'), /<section id="formats"><h2>Number formats<\/h2>/);
  // the same format twice: one sentence naming the field
  const bad = join(dir, 'bad.formats.json');
  writeFileSync(bad, JSON.stringify({ ...file, formats: [file.formats[0], file.formats[0]] }));
  const x = run('report', bad, '--out', join(dir, 'r2'));
  assert.equal(x.code, 2);
  assert.match(x.err, /looks like a per-format comparison but its formats\[1\] repeats format float32/);
  assert.equal(x.err.trim().split('\n').length, 1);
  assert.ok(!existsSync(join(dir, 'r2', 'report.html')));
  rmSync(dir, { recursive: true, force: true });
});
