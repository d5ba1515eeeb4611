/**
 * Model files are untrusted. External data may come only from regular files inside the model's
 * own folder; every other place a hostile model can point at (an absolute path, `..`, a symlink
 * leading out, a device, a FIFO) and every inconsistent offset, length or shape is refused with one
 * sentence and exit code 2, without opening the target and without revealing anything about a file
 * outside the folder. Declared sizes are checked before anything is allocated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, makeModel } from '../src/graph/builder.js';
import { decodeModel, encodeModel, readModel } from '../src/graph/onnx.js';
import { ProtoWriter } from '../src/graph/protobuf.js';
import { DataType, type Model, type Tensor } from '../src/graph/types.js';
import { refusal, runCli, runPool } from './security-helpers.js';

/** An outside file whose size (7777 bytes) and content must never show up in any message. */
const SECRET_SIZE = 7777;
const SECRET_TEXT = 'TOP-SECRET-';

/**
 * y = x·W + b with W [4, 3] float32 stored externally under the given entries (location, offset,
 * length…), `dims` overriding W's declared shape. Written as `model.onnx` in `dir`.
 */
function externalModel(dir: string, entries: Record<string, string>, dims: number[] = [4, 3]): string {
  const b = new GraphBuilder('ext');
  const x = b.input('x', ['batch', 4]);
  const bias = b.init('b', [3], [1, 2, 3]);
  const xw = b.op('MatMul', [x, 'W'], {}, 'matmul');
  b.node('Add', [xw, bias], {}, { name: 'add', outputs: ['y'] });
  b.output('y', ['batch', 3]);
  const m: Model = makeModel(b.build());
  // the external-data fields go in as kept raw fields: key/value entries (13) and data_location (14)
  const extra = Object.entries(entries).map(([k, v]) => new ProtoWriter().messageField(13, (e) => { e.stringField(1, k); e.stringField(2, v); }).finish());
  extra.push(new ProtoWriter().tag(14, 0).varint(1).finish());
  const w: Tensor = { name: 'W', dataType: DataType.FLOAT, dims, data: new Float32Array(0), extra };
  m.graph.initializers.set('W', w);
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(m));
  return path;
}

/** W's 48 bytes: 0, 1, …, 11 as float32. */
const W_VALUES = Float32Array.from({ length: 12 }, (_, i) => i);
const wBytes = (pad = 0) => {
  const out = new Uint8Array(pad + 48);
  out.set(new Uint8Array(W_VALUES.buffer), pad);
  return out;
};

/** A fresh root with `model/` (the model's folder) and `outside/secret.bin` beside it. */
function layout() {
  const root = mkdtempSync(join(tmpdir(), 'fg-hostile-'));
  const dir = join(root, 'model');
  mkdirSync(dir);
  mkdirSync(join(root, 'outside'));
  const secret = join(root, 'outside', 'secret.bin');
  writeFileSync(secret, SECRET_TEXT.repeat(Math.ceil(SECRET_SIZE / SECRET_TEXT.length)).slice(0, SECRET_SIZE));
  return { root, dir, secret };
}

/** One sentence, names tensor W, says why, and leaks nothing about the outside file. */
function assertSentence(message: string, reason: RegExp): void {
  assert.equal(message.trim().split('\n').length, 1, message);
  assert.match(message, /Tensor "W"/, message);
  assert.match(message, reason, message);
  assert.ok(!message.includes(String(SECRET_SIZE)) && !message.includes('7,777') && !message.includes('7.6 KiB'), `size leaked: ${message}`);
  assert.ok(!message.includes(SECRET_TEXT), `content leaked: ${message}`);
}

test('external data inside the folder is read; a symlink within the folder and a symlinked folder are fine', () => {
  const { root, dir } = layout();
  writeFileSync(join(dir, 'w.bin'), wBytes(8));
  const path = externalModel(dir, { location: 'w.bin', offset: '8', length: '48' });
  assert.deepEqual(readModel(path).graph.initializers.get('W')!.data, W_VALUES);
  // no length: the declared shape decides how many bytes are read
  externalModel(dir, { location: 'w.bin', offset: '8' });
  assert.deepEqual(readModel(path).graph.initializers.get('W')!.data, W_VALUES);
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'real.bin'), wBytes());
  symlinkSync(join('data', 'real.bin'), join(dir, 'alias.bin'));
  externalModel(dir, { location: 'alias.bin' });
  assert.deepEqual(readModel(path).graph.initializers.get('W')!.data, W_VALUES);
  externalModel(dir, { location: 'data/../data/real.bin' });
  assert.deepEqual(readModel(path).graph.initializers.get('W')!.data, W_VALUES);
  symlinkSync(dir, join(root, 'linked-model'));
  assert.deepEqual(readModel(join(root, 'linked-model', 'model.onnx')).graph.initializers.get('W')!.data, W_VALUES);
});

test('hostile external data is refused with one sentence naming the tensor, never leaking the outside file', async () => {
  const { root, secret } = layout();
  const fifo = (at: string) => { spawnSync('mkfifo', [at]); assert.ok(existsSync(at), 'mkfifo is needed for this test'); };
  // every case has its own folder root/<name>/ beside root/outside/; `setup` adds files to it
  // `cli`: also run `flipguard info` on it as a subprocess (a representative subset, to keep the suite fast)
  const cases: { name: string; entries: Record<string, string>; dims?: number[]; setup?: (dir: string) => void; reason: RegExp; cli?: true }[] = [
    { name: 'absolute', entries: { location: secret }, reason: /absolute path/, cli: true },
    { name: 'dotdot', entries: { location: '../outside/secret.bin' }, reason: /leads out of the model's folder/, cli: true },
    { name: 'dotdot-deep', entries: { location: 'a/../../outside/secret.bin' }, reason: /leads out of the model's folder/ },
    { name: 'folder-itself', entries: { location: '.' }, reason: /leads out of the model's folder/ },
    { name: 'symlink-out', entries: { location: 'link.bin' }, setup: (d) => symlinkSync(secret, join(d, 'link.bin')), reason: /symbolic link leading out/, cli: true },
    { name: 'symlinked-folder-out', entries: { location: 'sub/secret.bin' }, setup: (d) => symlinkSync(join(root, 'outside'), join(d, 'sub')), reason: /symbolic link leading out/ },
    { name: 'dev-zero', entries: { location: '/dev/zero' }, reason: /absolute path/ },
    { name: 'symlink-dev-zero', entries: { location: 'zero.bin' }, setup: (d) => symlinkSync('/dev/zero', join(d, 'zero.bin')), reason: /symbolic link leading out/, cli: true },
    { name: 'fifo', entries: { location: 'pipe.bin' }, setup: (d) => fifo(join(d, 'pipe.bin')), reason: /is a FIFO \(named pipe\), not a regular file/, cli: true },
    { name: 'folder', entries: { location: 'data' }, setup: (d) => mkdirSync(join(d, 'data')), reason: /is a folder, not a regular file/ },
    { name: 'missing', entries: { location: 'nope.bin' }, reason: /does not exist in the model's folder/ },
    { name: 'offset-out-of-range', entries: { location: 'w.bin', offset: '1000000' }, reason: /is shorter \(48 bytes\) than offset 1000000 \+ length 48/, cli: true },
    { name: 'length-mismatch', entries: { location: 'w.bin', length: '40' }, reason: /length of 40 bytes while its declared shape needs 48/, cli: true },
    { name: 'length-beyond', entries: { location: 'w.bin', offset: '40', length: '48' }, reason: /is shorter \(48 bytes\)/ },
    { name: 'negative-offset', entries: { location: 'w.bin', offset: '-8' }, reason: /not a whole number of bytes/ },
    { name: 'hex-offset', entries: { location: 'w.bin', offset: '0x10' }, reason: /not a whole number of bytes/ },
    { name: 'dims-blown-up', entries: { location: 'w.bin' }, dims: [1e12, 3], reason: /declares shape \[1000000000000, 3\] \(10\.9 TiB\).*above flipguard's limit of 2\.0 GiB/ },
    { name: 'negative-dim', entries: { location: 'w.bin' }, dims: [-4, 3], reason: /invalid dimension -4/ },
    { name: 'no-location', entries: { offset: '0' }, reason: /names no file/ },
  ];
  const cliRuns: (() => Promise<void>)[] = [];
  for (const c of cases) {
    const dir = join(root, c.name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'w.bin'), wBytes());
    c.setup?.(dir);
    const path = externalModel(dir, c.entries, c.dims);
    assertSentence(refusal(() => readModel(path)), c.reason);
    if (c.cli) cliRuns.push(() => runCli(['info', path]).then((r) => {
      assert.equal(r.code, 2, `${c.name}: ${r.err}`);
      assert.equal(r.out, '');
      const lines = r.err.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${c.name}: ${r.err}`);
      assert.ok(lines[0].startsWith('flipguard: Tensor "W"'), `${c.name}: ${r.err}`);
      assertSentence(lines[0], c.reason);
    }));
  }
  assert.equal(cliRuns.length, 7);
  await runPool(cliRuns);
});

test('harden refuses a model pointing outside its folder and writes nothing', async () => {
  const { root, secret } = layout();
  const dir = join(root, 'm');
  mkdirSync(dir);
  const path = externalModel(dir, { location: '../outside/secret.bin', length: '48' });
  const out = join(dir, 'hardened.onnx');
  const r = await runCli(['harden', path, '--method', 'tmr-weights', '--ratio', '0.5', '--out', out, '--quiet']);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^flipguard: Tensor "W" keeps its values in the external file "\.\.\/outside\/secret\.bin", which leads out/);
  assert.equal(existsSync(out), false);
  assert.ok(existsSync(secret));
});

test('a model path that is a FIFO, a device or a folder is refused up front, without blocking', async () => {
  const { root } = layout();
  const pipe = join(root, 'model.onnx');
  spawnSync('mkfifo', [pipe]);
  const runs = await runPool([() => runCli(['info', pipe]), () => runCli(['evaluate', '/dev/zero', '--limit', '10']), () => runCli(['info', root])]);
  const kinds = [/is a FIFO \(named pipe\), not a regular file/, /is a device, not a regular file/, /is a folder, not a regular file/];
  runs.forEach((r, i) => {
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
    assert.match(r.err, /^flipguard: Model file "/);
    assert.match(r.err, kinds[i]);
    assert.match(r.err, /pass the path of an \.onnx file\.$/m);
  });
});

test('declared sizes are checked before allocation: huge dims and oversized totals are refused quickly', () => {
  const b = new GraphBuilder('big');
  const x = b.input('x', ['batch', 4]);
  b.node('Relu', [x], {}, { name: 'relu', outputs: ['y'] });
  b.output('y', ['batch', 4]);
  const base = makeModel(b.build());
  const withTensor = (t: Tensor) => {
    const m: Model = { ...base, graph: { ...base.graph, initializers: new Map([[t.name, t]]) } };
    return encodeModel(m);
  };
  // a shape promising 4 TB with 8 bytes of raw data: refused by the size check, not by a failed allocation
  const t0 = performance.now();
  const huge = withTensor({ name: 'H', dataType: DataType.FLOAT, dims: [1e12], data: new Float32Array(2) });
  assert.match(refusal(() => decodeModel(huge)), /Tensor "H" declares shape \[1000000000000\] \(3\.6 TiB\), above flipguard's limit of 2\.0 GiB/);
  // raw data shorter than the shape says
  const short = withTensor({ name: 'S', dataType: DataType.FLOAT, dims: [1000], data: new Float32Array(2) });
  assert.match(refusal(() => decodeModel(short)), /Tensor "S" holds 8 bytes of values but its shape \[1000\] needs 4000/);
  // typed values (float_data) fewer than the shape needs: refused before the array is allocated
  const typed = new ProtoWriter().messageField(5, (t) => {
    t.packedInt64Field(1, [100_000_000]);
    t.tag(2, 0).varint(DataType.FLOAT);
    t.stringField(8, 'F');
    t.packedFloatField(4, [1, 2, 3]);
  }).finish();
  const typedModel = withTensor({ name: 'T', dataType: DataType.FLOAT, dims: [1], data: new Float32Array(1) });
  const spliced = spliceIntoGraph(typedModel, typed);
  const before = process.memoryUsage().arrayBuffers;
  assert.match(refusal(() => decodeModel(spliced)), /Tensor "F" holds 3 values but its shape \[100000000\] needs 100000000/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 100e6, 'no 400 MB array was allocated');
  assert.ok(performance.now() - t0 < 5000);
});

/** `model` bytes with `fields` (tagged GraphProto fields) added to its graph as kept raw fields. */
function spliceIntoGraph(model: Uint8Array, fields: Uint8Array): Uint8Array {
  const m = decodeModel(model);
  return encodeModel({ ...m, graph: { ...m.graph, extra: [...(m.graph.extra ?? []), fields] } });
}
