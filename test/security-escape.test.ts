/**
 * Names from a model file never reach the terminal raw: a model whose node, tensor, input and
 * metadata names hold ESC sequences, C1 controls and bidi overrides is shown by `info`, `inject`
 * and error messages with those characters escaped (tests run without a TTY, so flipguard's own
 * colours are off and any ESC in the output came from the file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, A, makeModel } from '../src/graph/builder.js';
import { encodeModel } from '../src/graph/onnx.js';
import { visible, terminalJson } from '../src/util/text.js';
import { formatTable } from '../src/cli/table.js';
import { textTable } from '../src/analysis/format.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Title-setting OSC, clear-screen CSI, one-byte C1 CSI, a bidi override. */
const EVIL = ['\x1b]0;pwned\x07', '\x1b[2J', '\u009b31m', '\u202e'];
/** Whatever a terminal would interpret rather than show. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A tiny MNIST classifier whose every name carries terminal control sequences. */
function evilModel(dir: string, opType = 'Relu'): string {
  const b = new GraphBuilder(`g${EVIL[0]}`);
  const x = b.input(`in${EVIL[1]}`, ['batch', 1, 28, 28]);
  const w = b.init(`conv${EVIL[0]}.weight`, [2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => ((i * 7) % 5) / 10 - 0.2));
  const c = b.op('Conv', [x, w], { pads: A.is([1, 1, 1, 1]) }, `conv${EVIL[0]}`);
  const r = b.op(opType, [c], {}, `relu${EVIL[2]}`);
  const f = b.op('Flatten', [r], { axis: A.i(1) }, `flat${EVIL[3]}ten`);
  const fw = b.init(`fc${EVIL[1]}.weight`, [10, 2 * 28 * 28], Array.from({ length: 10 * 1568 }, (_, i) => Math.sin(i) * 0.01));
  const fb = b.init(`fc${EVIL[2]}.bias`, [10], new Array(10).fill(0));
  b.node('Gemm', [f, fw, fb], { transB: A.i(1) }, { name: `fc${EVIL[1]}`, outputs: [`logits${EVIL[3]}`] });
  b.output(`logits${EVIL[3]}`, ['batch', 10]);
  const m = { ...makeModel(b.build()), producerName: `evil${EVIL[0]}` };
  const path = join(dir, `model-${opType}.onnx`);
  writeFileSync(path, encodeModel(m));
  return path;
}

test('visible: controls, C1, DEL and bidi become printable escapes; ordinary text is unchanged', () => {
  assert.equal(visible('\x1b[2J'), '\\x1b[2J');
  assert.equal(visible('a\u009bb\u007fc\u202ed\u2066e\nf\tg'), 'a\\x9bb\\x7fc\\u202ed\\u2066e\\x0af\\x09g');
  const plain = 'conv1.weight — résumé ×3 C:\\models\\m.onnx 漢字';
  assert.equal(visible(plain), plain);
  assert.equal(visible(visible('\x1b')), '\\x1b');
  // terminal JSON parses back to the same value and holds no raw control
  const value = { name: `t${EVIL.join('')}`, n: [1, 2] };
  const text = terminalJson(value);
  assert.doesNotMatch(text, RAW_CONTROL);
  assert.deepEqual(JSON.parse(text), value);
  // both table printers escape their cells, and widths count the escaped text
  for (const table of [formatTable, textTable]) {
    const out = table(['name', 'n'], [[`a${EVIL[1]}`, 1], ['bb', 22]]);
    assert.doesNotMatch(out, RAW_CONTROL);
    assert.equal(out.split('\n')[2], 'a\\x1b[2J   1');
    assert.equal(out.split('\n')[3], 'bb        22');
  }
});

test('info, inject and error messages print no raw control characters from the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-escape-'));
  const model = evilModel(dir);

  const info = run('info', model);
  assert.equal(info.code, 0, info.err);
  assert.doesNotMatch(info.out + info.err, RAW_CONTROL);
  // the names are shown, escaped
  assert.ok(info.out.includes('conv\\x1b]0;pwned\\x07'), info.out);
  assert.ok(info.out.includes('logits\\u202e'), info.out);
  assert.ok(info.out.includes('in\\x1b[2J'), info.out);
  assert.ok(info.out.includes('evil\\x1b]0;pwned\\x07'), info.out);

  const dry = run('inject', model, '--ber', '1e-3', '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.doesNotMatch(dry.out + dry.err, RAW_CONTROL);
  assert.ok(dry.out.includes('fc\\u001b[2J.weight'), dry.out);

  const inject = run('inject', model, '--ber', '1e-4', '--trials', '2', '--limit', '64', '--verbose');
  assert.equal(inject.code, 0, inject.err);
  assert.match(inject.err, /BER 0.0001 trial 1/);
  assert.doesNotMatch(inject.out + inject.err, RAW_CONTROL);

  // an unsupported op named from the file: the error quotes the op type and node name, escaped
  const bad = evilModel(dir, `Evil${EVIL[0]}Op`);
  const err = run('info', bad);
  assert.equal(err.code, 2);
  assert.doesNotMatch(err.out + err.err, RAW_CONTROL);
  assert.ok(err.err.includes('Evil\\x1b]0;pwned\\x07Op'), err.err);
  assert.ok(err.err.includes('relu\\x9b31m'), err.err);
  assert.equal(err.err.trimEnd().split('\n').length, 1, err.err);
});
