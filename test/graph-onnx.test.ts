import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { FlipguardError } from '../src/errors.js';
import {
  A, DataType, GraphBuilder, ProtoReader, ProtoWriter, WIRE_LEN, checkSupported, decodeModel, encodeModel, makeModel, readModel,
  type Graph, type Model,
} from '../src/graph/index.js';
import { createSession } from '../src/runtime/session.js';

const root = mkdtempSync(join(tmpdir(), 'flipguard-onnx-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function assertFlip(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected FlipguardError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(n)}`);
    assert.ok(!e.message.includes('\n'), 'message is one line');
    return true;
  });
}

/**
 * Appends the raw field bytes `extra` to the message reached from `msg` by following, at each
 * level, the first length-delimited field with the number in `path` (empty path: `msg` itself).
 */
function appendField(msg: Uint8Array, path: number[], extra: Uint8Array): Uint8Array {
  if (!path.length) {
    const out = new Uint8Array(msg.length + extra.length);
    out.set(msg);
    out.set(extra, msg.length);
    return out;
  }
  const r = new ProtoReader(msg);
  const wr = new ProtoWriter();
  let done = false;
  while (!r.done()) {
    const start = r.pos;
    const { field, wire } = r.tag();
    if (!done && field === path[0] && wire === WIRE_LEN) {
      wr.bytesField(field, appendField(r.bytes().slice(), path.slice(1), extra));
      done = true;
    } else wr.raw(r.skipRaw(start, wire));
  }
  assert.ok(done, `no field ${path[0]} to descend into`);
  return wr.finish();
}

/** An unknown field: number 99, varint 42. */
const UNKNOWN_99 = new ProtoWriter().tag(99, 0).varint(42).finish();

function richModel(): Model {
  const sub = new GraphBuilder('body');
  const si = sub.input('s_in', [2]);
  sub.output(sub.op('Neg', [si]), [2]);

  const b = new GraphBuilder('rich');
  const x = b.input('x', ['batch', 3]);
  const wName = b.init('w', [3, 2], new Float32Array([1, 2, 3, 4, 5, 6]));
  b.init('i64', [3], [-1, 0, 2 ** 40], DataType.INT64);
  b.init('i8', [4], new Int8Array([-128, -1, 0, 127]), DataType.INT8);
  b.init('f16', [2], new Uint16Array([0x3c00, 0xc000]), DataType.FLOAT16);
  b.init('f64', [2], new Float64Array([Math.PI, -1e300]), DataType.DOUBLE);
  b.init('scalar', [], new Float32Array([0.5]));
  const mm = b.op('MatMul', [x, wName], {}, 'mm');
  const custom = b.node('Custom', [mm, '', 'i64'], {
    body: { type: 'graph', value: sub.build({ docString: 'sub graph' }) },
    names: A.s('one'),
    list: { type: 'strings', value: ['a', 'β', ''] },
    table: A.t({ name: 'tbl', dataType: DataType.INT64, dims: [2], data: new BigInt64Array([5n, -6n]) }),
    fs: A.fs([0.25, -1.5]),
    is: A.is([1, -2, 3]),
    f: A.f(2.5),
    i: A.i(-7),
  }, { name: 'custom', domain: 'com.example', outputs: 2 });
  b.output(custom[0], ['batch', 2]);
  b.output(custom[1]);
  const g: Graph = b.build({
    docString: 'graph doc',
    valueInfo: [{ name: mm, elemType: DataType.FLOAT, shape: ['batch', 2], docString: 'mm out' }, { name: 'odd', elemType: DataType.FLOAT, shape: [null, 2] }],
    initializerInputs: [{ name: 'w', elemType: DataType.FLOAT, shape: [3, 2] }],
  });
  g.nodes[0].docString = 'matmul doc';
  g.initializers.get('f64')!.docString = 'doubles';
  const m = makeModel(g, { opset: 17, metadata: [['author', 'me'], ['normalization', '{"mean":[0.5]}']], docString: 'model doc' });
  m.opsetImports.push({ domain: 'com.example', version: 1 });
  m.domain = 'org.flipguard.test';
  m.modelVersion = 3;
  return m;
}

test('ONNX round trip keeps unusual content and unknown fields; re-encoding is stable', () => {
  const original = richModel();
  let bytes = encodeModel(original);
  bytes = appendField(bytes, [], UNKNOWN_99); // ModelProto
  bytes = appendField(bytes, [7, 1], UNKNOWN_99); // first NodeProto
  bytes = appendField(bytes, [7], UNKNOWN_99); // GraphProto
  bytes = appendField(bytes, [7, 5], UNKNOWN_99); // first initializer TensorProto
  const first = decodeModel(bytes);
  assert.deepEqual(first.extra, [UNKNOWN_99]);
  assert.deepEqual(first.graph.nodes[0].extra, [UNKNOWN_99]);
  assert.deepEqual(first.graph.extra, [UNKNOWN_99]);
  assert.deepEqual(first.graph.initializers.get('w')!.extra, [UNKNOWN_99]);

  // apart from the injected fields, the decoded model is the model that was encoded
  const stripped: Model = structuredClone(first);
  delete stripped.extra;
  delete stripped.graph.extra;
  delete stripped.graph.nodes[0].extra;
  delete stripped.graph.initializers.get('w')!.extra;
  assert.deepEqual(stripped, original);

  const again = encodeModel(first);
  const second = decodeModel(again);
  assert.deepEqual(second, first);
  assert.deepEqual(encodeModel(second), again);

  // spot checks of what came through
  assert.deepEqual(first.metadata, [['author', 'me'], ['normalization', '{"mean":[0.5]}']]);
  assert.deepEqual(first.opsetImports, [{ domain: '', version: 17 }, { domain: 'com.example', version: 1 }]);
  const custom = first.graph.nodes[1];
  assert.equal(custom.domain, 'com.example');
  assert.deepEqual(custom.inputs, [first.graph.nodes[0].outputs[0], '', 'i64']);
  assert.deepEqual(custom.attributes.list, { type: 'strings', value: ['a', 'β', ''] });
  assert.equal(custom.attributes.body.type === 'graph' && custom.attributes.body.value.nodes[0].opType, 'Neg');
  assert.deepEqual(Array.from(first.graph.initializers.get('i64')!.data as BigInt64Array), [-1n, 0n, 2n ** 40n]);
  assert.deepEqual(Array.from(first.graph.initializers.get('f64')!.data as Float64Array), [Math.PI, -1e300]);
  assert.deepEqual(first.graph.valueInfo[1].shape, [null, 2]);
});

test('tensors stored in typed fields (float_data, int32_data, int64_data, double_data) decode to the same values', () => {
  const tensor = (name: string, dt: number, dims: number[], fill: (w: ProtoWriter) => void) =>
    new ProtoWriter().messageField(5, (t) => { t.packedInt64Field(1, dims); t.tag(2, 0).varint(dt); t.stringField(8, name); fill(t); }).finish();
  const b = new GraphBuilder('typed');
  b.output(b.op('Relu', [b.input('x', ['N', 2])]));
  let bytes = encodeModel(makeModel(b.build()));
  bytes = appendField(bytes, [7], tensor('f', DataType.FLOAT, [2], (t) => t.packedFloatField(4, [1.5, -2])));
  bytes = appendField(bytes, [7], tensor('i8', DataType.INT8, [3], (t) => { for (const v of [5, 0, 7]) t.tag(5, 0).varint(v); }));
  bytes = appendField(bytes, [7], tensor('i64', DataType.INT64, [2], (t) => { t.tag(7, 0).varint(-3); t.tag(7, 0).varint(2n ** 50n); }));
  bytes = appendField(bytes, [7], tensor('d', DataType.DOUBLE, [1], (t) => { t.tag(10, 1); t.raw(new Uint8Array(new Float64Array([0.1]).buffer)); }));
  const m = decodeModel(bytes);
  const data = (n: string) => Array.from(m.graph.initializers.get(n)!.data as ArrayLike<number | bigint>);
  assert.deepEqual(data('f'), [1.5, -2]);
  assert.deepEqual(data('i8'), [5, 0, 7]);
  assert.deepEqual(data('i64'), [-3n, 2n ** 50n]);
  assert.deepEqual(data('d'), [0.1]);
  const back = decodeModel(encodeModel(m)); // now stored as raw_data
  assert.deepEqual(back, m);
});

test('negative values in int32_data (sign-extended 10-byte varints) decode', () => {
  const b = new GraphBuilder('neg');
  b.output(b.op('Relu', [b.input('x', ['N', 2])]));
  const t = new ProtoWriter().messageField(5, (w) => {
    w.packedInt64Field(1, [3]); w.tag(2, 0).varint(DataType.INT8); w.stringField(8, 'q');
    for (const v of [-5, -128, 7]) w.tag(5, 0).varint(v);
  }).finish();
  const m = decodeModel(appendField(encodeModel(makeModel(b.build())), [7], t));
  assert.deepEqual(Array.from(m.graph.initializers.get('q')!.data as Int8Array), [-5, -128, 7]);
});

test('unknown fields inside a ValueInfoProto survive a round trip', () => {
  const bytes = appendField(encodeModel(richModel()), [7, 11], UNKNOWN_99);
  const again = encodeModel(decodeModel(bytes));
  assert.deepEqual(again.length, bytes.length);
});

function smallNet(): Model {
  const b = new GraphBuilder('net');
  const x = b.input('x', ['N', 4]);
  const h = b.op('MatMul', [x, b.init('W', [4, 3], new Float32Array(12).map((_, i) => i / 10 - 0.5))]);
  b.output(b.op('Add', [h, b.init('bias', [3], new Float32Array([1, 2, 3]))]));
  return makeModel(b.build());
}

test('a truncated file, a PNG, text and an empty file are FlipguardErrors, never crashes', () => {
  const bytes = encodeModel(smallNet());
  const path = join(root, 'half.onnx');
  writeFileSync(path, bytes.subarray(0, bytes.length >> 1));
  assertFlip(() => readModel(path), path, 'not a valid ONNX model');
  // every cut either decodes (a valid protobuf prefix) or fails with a FlipguardError
  for (let k = 0; k < bytes.length; k += 3) {
    try { decodeModel(bytes.subarray(0, k)); } catch (e) { assert.ok(e instanceof FlipguardError, `cut at ${k}: ${String(e)}`); }
  }
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  writeFileSync(join(root, 'image.onnx'), png);
  assertFlip(() => readModel(join(root, 'image.onnx')), 'image.onnx', 'not a valid ONNX model');
  writeFileSync(join(root, 'notes.onnx'), 'This is a text file, not a model.\n');
  assertFlip(() => readModel(join(root, 'notes.onnx')), 'notes.onnx', 'not a valid ONNX model');
  writeFileSync(join(root, 'empty.onnx'), new Uint8Array(0));
  assertFlip(() => readModel(join(root, 'empty.onnx')), 'empty.onnx');
  assertFlip(() => readModel(join(root, 'missing.onnx')), 'missing.onnx', 'does not exist');
});

/** The model bytes with initializer W moved to `location` at `offset` (external data). */
function withExternalW(location: string, offset: number): { bytes: Uint8Array; w: Float32Array } {
  const m = smallNet();
  const w = m.graph.initializers.get('W')!.data as Float32Array;
  const initializers = new Map(m.graph.initializers);
  initializers.delete('W');
  let bytes = encodeModel({ ...m, graph: { ...m.graph, initializers } });
  const entry = (k: string, v: string) => (t: ProtoWriter) => t.messageField(13, (e) => { e.stringField(1, k); e.stringField(2, v); });
  const tensor = new ProtoWriter().messageField(5, (t) => {
    t.packedInt64Field(1, [4, 3]);
    t.tag(2, 0).varint(DataType.FLOAT);
    t.stringField(8, 'W');
    entry('location', location)(t);
    entry('offset', String(offset))(t);
    entry('length', String(w.byteLength))(t);
    t.tag(14, 0).varint(1); // data_location = EXTERNAL
  }).finish();
  bytes = appendField(bytes, [7], tensor);
  return { bytes, w };
}

test('external data: values are read from the file beside the model; the model runs', async () => {
  const dir = mkdtempSync(join(root, 'ext-'));
  const { bytes, w } = withExternalW('weights.bin', 16);
  const file = new Uint8Array(16 + w.byteLength + 5).fill(0xee);
  file.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), 16);
  writeFileSync(join(dir, 'weights.bin'), file);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const m = readModel(join(dir, 'model.onnx'));
  assert.deepEqual(checkSupported(m), []);
  const t = m.graph.initializers.get('W')!;
  assert.deepEqual(t.dims, [4, 3]);
  assert.deepEqual(t.data, w);

  const session = await createSession(m);
  const x = new Float32Array([1, -1, 0.5, 2]);
  const out = await session.run({ x: new ort.Tensor('float32', x, [1, 4]) });
  const y = out[m.graph.outputs[0].name].data as Float32Array;
  for (let j = 0; j < 3; j++) {
    let s = j + 1;
    for (let i = 0; i < 4; i++) s += x[i] * w[i * 3 + j];
    assert.ok(Math.abs(y[j] - s) < 1e-5, `output ${j}: ${y[j]} vs ${s}`);
  }
  await session.release();

  // from memory there is no folder to read the file from
  assertFlip(() => decodeModel(bytes), '"W"', 'weights.bin', 'from a path');
  // too short a file
  writeFileSync(join(dir, 'weights.bin'), file.subarray(0, 30));
  assertFlip(() => readModel(join(dir, 'model.onnx')), 'weights.bin', 'shorter');
  // a missing file
  unlinkSync(join(dir, 'weights.bin'));
  assertFlip(() => readModel(join(dir, 'model.onnx')), '"W"', 'weights.bin', 'does not exist');
});
