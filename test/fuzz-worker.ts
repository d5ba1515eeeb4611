/**
 * The fuzzer's worker thread (see fuzz.test.ts): makes seeded mutants of the shipped models and
 * tries to load each, posting the outcome of every mutant. Does nothing on the main thread, so the
 * test runner may load it as a file without effect.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, encodeModel, locateInitializers } from '../src/graph/onnx.js';
import { checkSupported } from '../src/graph/ops.js';
import { modelInfo } from '../src/graph/info.js';
import { FlipguardError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { repoRoot } from './security-helpers.js';

/** Shipped models and how often each is mutated (AlexNet is 21 MB: decoding it costs ~0.4 s). */
export const MODELS: [string, number][] = [['lenet5-mnist.onnx', 0.44], ['resnet20-mnist.onnx', 0.42], ['vgg11-mnist.onnx', 0.12], ['alexnet-mnist.onnx', 0.02]];

export type Outcome = { index: number; model: string; mutation: string; result: 'loaded' | 'refused' | 'crashed'; message?: string; ms: number; bytes?: Uint8Array };

/** Byte ranges of the file that are protobuf structure (everything except initializer raw_data). */
function structureRanges(bytes: Uint8Array): [number, number][] {
  const data = [...locateInitializers(bytes).values()].sort((a, b) => a.offset - b.offset);
  const out: [number, number][] = [];
  let at = 0;
  for (const { offset, length } of data) { if (offset > at) out.push([at, offset]); at = Math.max(at, offset + length); }
  if (at < bytes.length) out.push([at, bytes.length]);
  return out;
}

/** A position in the structure (90%) or anywhere (10%). */
function position(rng: Rng, bytes: Uint8Array, ranges: [number, number][]): number {
  if (rng.next() < 0.1) return rng.int(bytes.length);
  const total = ranges.reduce((s, [a, b]) => s + b - a, 0);
  let k = rng.int(total);
  for (const [a, b] of ranges) { if (k < b - a) return a + k; k -= b - a; }
  return rng.int(bytes.length);
}

/** A varint encoding of `v` (up to 2^53). */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) { out.push((v % 128) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
  return out;
}

const splice = (b: Uint8Array, at: number, remove: number, insert: ArrayLike<number>) => {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
};

/** One mutant of `bytes` and a description that replays it. */
function mutate(rng: Rng, bytes: Uint8Array, ranges: [number, number][]): { bytes: Uint8Array; mutation: string } {
  const kind = rng.int(11);
  if (kind >= 8) return semantic(rng, bytes);
  switch (kind) {
    case 0: { // flip 1–8 single bits
      const out = bytes.slice();
      const flips: string[] = [];
      for (let k = 1 + rng.int(8); k > 0; k--) { const at = position(rng, bytes, ranges); const bit = rng.int(8); out[at] ^= 1 << bit; flips.push(`${at}.${bit}`); }
      return { bytes: out, mutation: `bit flips at ${flips.join(',')}` };
    }
    case 1: { // truncate
      const at = rng.next() < 0.5 ? position(rng, bytes, ranges) : rng.int(bytes.length);
      return { bytes: bytes.subarray(0, at), mutation: `truncated to ${at} bytes` };
    }
    case 2: { // insert random bytes
      const at = position(rng, bytes, ranges);
      const ins = Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      return { bytes: splice(bytes, at, 0, ins), mutation: `inserted ${ins.length} bytes at ${at}` };
    }
    case 3: { // delete a few bytes
      const at = position(rng, bytes, ranges);
      const n = 1 + rng.int(16);
      return { bytes: splice(bytes, at, Math.min(n, bytes.length - at), []), mutation: `deleted ${n} bytes at ${at}` };
    }
    case 4: { // overwrite with a huge or odd varint (a length or a count)
      const at = position(rng, bytes, ranges);
      const values = [2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1, 0, 127, bytes.length, 2 ** 28];
      const v = varint(values[rng.int(values.length)]);
      return { bytes: splice(bytes, at, 1, v), mutation: `varint ${v.join(',')} at ${at}` };
    }
    case 5: { // an over-long varint (11 continuation bytes)
      const at = position(rng, bytes, ranges);
      return { bytes: splice(bytes, at, 1, new Array(11).fill(0xff)), mutation: `over-long varint at ${at}` };
    }
    case 6: { // duplicate a structural range (repeated fields, nested messages)
      const at = position(rng, bytes, ranges);
      const n = 1 + rng.int(64);
      return { bytes: splice(bytes, at, 0, bytes.subarray(at, Math.min(bytes.length, at + n))), mutation: `duplicated ${n} bytes at ${at}` };
    }
    default: { // blow up one tensor's declared shape
      const m = decodeModel(bytes);
      const names = [...m.graph.initializers.keys()];
      const name = names[rng.int(names.length)];
      const t = m.graph.initializers.get(name)!;
      const shapes = [[1e12], [2 ** 31, 2 ** 31], [-1, ...t.dims], [...t.dims, 0], [t.dims.reduce((a, d) => a * d, 1) + 1], [3, 2 ** 40]];
      const dims = shapes[rng.int(shapes.length)];
      m.graph.initializers.set(name, { ...t, dims });
      return { bytes: encodeModel(m), mutation: `dims of ${name} → [${dims.join(',')}]` };
    }
  }
}

/**
 * A mutant that still parses but means something odd: an attribute set to a huge, zero or
 * negative value, an op type swapped, node inputs rewired, an initializer dropped or retyped, a
 * graph input's dims changed. These reach shape inference and counting rather than the parser.
 */
function semantic(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; mutation: string } {
  const m = decodeModel(bytes);
  const g = m.graph;
  const node = g.nodes[rng.int(g.nodes.length)];
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const odd = [0, -1, -7, 1, 3, 2 ** 31, 1e12, 2 ** 53];
  let mutation: string;
  switch (rng.int(6)) {
    case 0: {
      const names = Object.keys(node.attributes);
      const name = names.length ? pick(names) : pick(['axis', 'group', 'kernel_shape', 'pads', 'strides', 'perm']);
      const a = node.attributes[name];
      const len = a && (a.type === 'ints' || a.type === 'floats') ? a.value.length : 1 + rng.int(4);
      const value = rng.next() < 0.5 ? { type: 'int' as const, value: pick(odd) } : { type: 'ints' as const, value: Array.from({ length: rng.next() < 0.8 ? len : rng.int(6) }, () => pick(odd)) };
      node.attributes[name] = value;
      mutation = `attribute ${name} of ${node.name} → ${JSON.stringify(value.value)}`;
      break;
    }
    case 1: {
      const op = pick(['Conv', 'Gemm', 'MatMul', 'Relu', 'MaxPool', 'Flatten', 'Add', 'BatchNormalization', 'Reshape', 'Concat', 'GlobalAveragePool', 'Transpose', 'Softmax']);
      mutation = `op of ${node.name} ${node.opType} → ${op}`;
      node.opType = op;
      break;
    }
    case 2: {
      const values = [...g.initializers.keys(), ...g.nodes.flatMap((n) => n.outputs), ...g.inputs.map((v) => v.name)];
      const k = rng.int(node.inputs.length + 1);
      const v = pick(values);
      if (k === node.inputs.length) node.inputs.push(v); else node.inputs[k] = v;
      mutation = `input ${k} of ${node.name} → ${v}`;
      break;
    }
    case 3: {
      const name = pick([...g.initializers.keys()]);
      const t = g.initializers.get(name)!;
      if (rng.next() < 0.5) { g.initializers.delete(name); mutation = `initializer ${name} dropped`; }
      else {
        const dt = pick([0, 2, 6, 7, 8, 10, 11, 16, 99]);
        const data = dt === 8 || dt === 0 || dt === 99 ? new Uint8Array(0) : t.data;
        g.initializers.set(name, { ...t, dataType: dt, data });
        mutation = `initializer ${name} retyped to ${dt}`;
      }
      break;
    }
    case 4: {
      const input = g.inputs[0];
      const shape = (input.shape ?? []).map((d) => (rng.next() < 0.5 ? pick([0, -1, 1, 2 ** 31, 'n', null]) : d));
      if (rng.next() < 0.3) shape.pop();
      g.inputs[0] = { ...input, shape };
      mutation = `graph input shape → ${JSON.stringify(shape)}`;
      break;
    }
    default: {
      const i = rng.int(g.nodes.length), j = rng.int(g.nodes.length);
      [g.nodes[i], g.nodes[j]] = [g.nodes[j], g.nodes[i]];
      mutation = `nodes ${i} and ${j} swapped`;
    }
  }
  return { bytes: encodeModel(m), mutation };
}

/** Loads `bytes` as `flipguard info` would: decode (external data from an empty folder), check ops, shapes and counts. */
function tryLoad(bytes: Uint8Array, path: string): { result: Outcome['result']; message?: string } {
  try {
    const model = decodeModel(bytes, path);
    checkSupported(model);
    modelInfo(model);
    return { result: 'loaded' };
  } catch (e) {
    if (e instanceof FlipguardError) return { result: 'refused', message: e.message };
    return { result: 'crashed', message: String((e as Error).stack ?? e) };
  }
}

function fuzzWorker(): void {
  const { seed, count, folder } = workerData as { seed: number; count: number; folder: string };
  const rng = new Rng(seed);
  const sources = MODELS.map(([file]) => {
    const bytes = new Uint8Array(readFileSync(join(repoRoot, 'models', file)));
    return { file, bytes, ranges: structureRanges(bytes) };
  });
  let keep = 4;
  for (let index = 0; index < count; index++) {
    let u = rng.next(), which = 0;
    while (which < MODELS.length - 1 && u >= MODELS[which][1]) { u -= MODELS[which][1]; which++; }
    const src = sources[which];
    const { bytes, mutation } = mutate(rng, src.bytes, src.ranges);
    parentPort!.postMessage({ started: index, model: src.file, mutation });
    const t0 = performance.now();
    const r = tryLoad(bytes, join(folder, 'mutant.onnx'));
    const out: Outcome = { index, model: src.file, mutation, ...r, ms: performance.now() - t0 };
    // a few small refused mutants go back to the test thread for the CLI check
    if (r.result === 'refused' && bytes.length < 400_000 && keep > 0) { out.bytes = bytes; keep--; }
    parentPort!.postMessage(out);
  }
  parentPort!.postMessage({ done: true });
}

if (!isMainThread) fuzzWorker();
