import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GraphBuilder, A, makeModel } from '../src/graph/builder.js';
import { encodeModel } from '../src/graph/onnx.js';
import { commands } from '../src/cli/commands/index.js';
import { readScores } from '../src/analysis/scores.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');

/**
 * Runs `flipguard rank …` in a child process: through the real CLI when the command is registered,
 * otherwise through a stand-in for main.ts with the same convention (a FlipguardError is exit code 2
 * and one line on stderr).
 */
function rankCli(...args: string[]): { code: number; out: string; err: string } {
  const registered = commands.some((c) => c.name === 'rank');
  const url = (p: string) => JSON.stringify(pathToFileURL(join(here, '..', 'src', p)).href);
  const standIn = `
    import { rankCommand } from ${url('cli/commands/rank.js')};
    import { parseOptions } from ${url('cli/args.js')};
    import { commonOptions } from ${url('cli/command.js')};
    import { FlipguardError } from ${url('errors.js')};
    try {
      await rankCommand.run(parseOptions('rank', process.argv.slice(1), { ...rankCommand.options, ...commonOptions }, rankCommand.usage));
    } catch (e) {
      if (!(e instanceof FlipguardError)) throw e;
      process.stderr.write('flipguard: ' + e.message + '\\n');
      process.exitCode = 2;
    }`;
  const argv = registered ? [cli, 'rank', ...args] : ['--input-type=module', '-e', standIn, ...args];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A tiny MNIST classifier (conv 1→2, relu, dense 1568→10). */
function tinyModelFile(dir: string): string {
  const b = new GraphBuilder('tiny');
  const x = b.input('input', ['batch', 1, 28, 28]);
  const w = b.init('conv.weight', [2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => ((i * 7) % 5) / 10 - 0.2));
  const c = b.op('Conv', [x, w], { pads: A.is([1, 1, 1, 1]) }, 'conv');
  const r = b.op('Relu', [c], {}, 'relu');
  const f = b.op('Flatten', [r], { axis: A.i(1) }, 'flatten');
  const fw = b.init('fc.weight', [10, 2 * 28 * 28], Array.from({ length: 10 * 1568 }, (_, i) => Math.sin(i) * 0.01));
  const fb = b.init('fc.bias', [10], new Array(10).fill(0));
  b.node('Gemm', [f, fw, fb], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 10]);
  const path = join(dir, 'tiny.onnx');
  writeFileSync(path, encodeModel(makeModel(b.build())));
  return path;
}

/** A FlipguardError message is one sentence: one line, ending in a full stop. */
function oneSentence(err: string): void {
  const lines = err.trim().split('\n');
  assert.equal(lines.length, 1, err);
  assert.match(lines[0], /^flipguard: .+\.$/);
}

test('rank --json writes exactly {method, layers: [{name, op, unit, scores}]} (+ info)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-rank-'));
  const model = tinyModelFile(dir);
  const json = join(dir, 'l1.json');
  const r = rankCli(model, '--data', 'mnist', '--method', 'l1', '--json', json, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /conv\s+Conv\s+2 channels/);
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  assert.deepEqual(Object.keys(doc), ['method', 'layers']);
  assert.equal(doc.method, 'l1');
  assert.deepEqual(doc.layers.map((l: Record<string, unknown>) => Object.keys(l)), [['name', 'op', 'unit', 'scores'], ['name', 'op', 'unit', 'scores']]);
  assert.deepEqual(doc.layers.map((l: { name: string; unit: string; scores: number[] }) => [l.name, l.unit, l.scores.length]), [['conv', 'channel', 2], ['fc', 'neuron', 10]]);
  assert.equal(readScores(json).layers.length, 2, 'readScores reads it back');

  const vj = join(dir, 'v.json');
  const v = rankCli(model, '--data', 'mnist', '--method', 'vulnerability', '--images', '8', '--json', vj, '--quiet');
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, /heavy tail/);
  const vd = JSON.parse(readFileSync(vj, 'utf8'));
  assert.deepEqual(Object.keys(vd), ['method', 'layers', 'info']);
  assert.equal(vd.info.images, 8);
  assert.ok(vd.info.effectiveImages >= 1 && vd.info.effectiveImages <= 8);
});

test('rank --compare prints the correlation table and writes the comparison JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-rank-'));
  const model = tinyModelFile(dir);
  const json = join(dir, 'compare.json');
  const r = rankCli(model, '--data', 'mnist', '--compare', '--layer', 'conv', '--ber', '1e-3', '--faults', '1', '--bits', '30', '--trials', '2',
    '--methods', 'l1,random,vulnerability', '--images', '8', '--eval-limit', '40', '--json', json, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Spearman/);
  const c = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(c.layer, 'conv');
  assert.equal(c.ber, 1e-3);
  assert.equal(c.groundTruth.length, 2);
  assert.deepEqual(c.rows.map((x: { method: string }) => x.method), ['l1', 'random', 'vulnerability']);
  for (const row of c.rows) for (const k of ['spearman', 'kendall']) assert.ok(row[k] >= -1 && row[k] <= 1);
});

test('rank: a bad method, an unknown layer or a misplaced flag stop with exit code 2 and one sentence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-rank-'));
  const model = tinyModelFile(dir);
  const bad = rankCli(model, '--data', 'mnist', '--method', 'bogus');
  assert.equal(bad.code, 2);
  oneSentence(bad.err);
  assert.match(bad.err, /--method must be one of vulnerability, lrp/);
  const layer = rankCli(model, '--data', 'mnist', '--compare', '--layer', 'conv9', '--ber', '1e-3', '--methods', 'l1');
  assert.equal(layer.code, 2);
  oneSentence(layer.err);
  assert.match(layer.err, /No conv or dense layer named "conv9"; the model's layers are conv, fc\./);
  const noBer = rankCli(model, '--data', 'mnist', '--compare', '--layer', 'conv');
  assert.equal(noBer.code, 2);
  oneSentence(noBer.err);
  const stray = rankCli(model, '--data', 'mnist', '--layer', 'conv');
  assert.equal(stray.code, 2);
  assert.match(stray.err, /only applies to "flipguard rank --compare"/);
  const unit = rankCli(model, '--data', 'mnist', '--method', 'vulnerability', '--unit', 'weight', '--quiet');
  assert.equal(unit.code, 2);
  oneSentence(unit.err);
});
