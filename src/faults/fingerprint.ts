/**
 * Content fingerprints (SHA-256, hex) that tie fault plans and campaign files to the exact model
 * and data they were made for. Float bytes are hashed as stored in memory (little-endian).
 */
import { createHash, type Hash } from 'node:crypto';
import { DataType, type Attribute, type Graph, type Model, type Tensor, type ValueInfo } from '../graph/types.js';
import type { ImageSet } from '../runtime/evaluate.js';

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function hashTensor(h: Hash, t: Tensor): void {
  h.update(`${t.name}\0${t.dataType}\0${t.dims.join(',')}\0`);
  if (ArrayBuffer.isView(t.data)) h.update(bytesOf(t.data));
  h.update('\0');
}

/** Types whose initializers hold parameters of the other word formats (float16, bfloat16, int8, uint8). */
const OTHER_FORMATS: ReadonlySet<number> = new Set([DataType.FLOAT16, DataType.BFLOAT16, DataType.INT8, DataType.UINT8]);

/**
 * SHA-256 over the names, shapes and bytes of every float32 initializer in file order: what a fault
 * plan depends on. Two models with identical parameters get the same plans. A model that also
 * stores float16, bfloat16, int8 or uint8 initializers has those hashed after a marker, and then
 * its int32 ones too (quantized biases); a float32-only model hashes as it always did.
 */
export function parameterFingerprint(model: Model): string {
  const h = createHash('sha256');
  h.update('flipguard-params-v1\0');
  const inits = [...model.graph.initializers.values()];
  for (const t of inits) if (t.dataType === DataType.FLOAT) hashTensor(h, t);
  if (inits.some((t) => OTHER_FORMATS.has(t.dataType))) {
    h.update('flipguard-params-formats\0');
    for (const t of inits) if (OTHER_FORMATS.has(t.dataType) || t.dataType === DataType.INT32) hashTensor(h, t);
  }
  return h.digest('hex');
}

function canonicalAttr(a: Attribute): unknown {
  switch (a.type) {
    case 'tensor': { const h = createHash('sha256'); hashTensor(h, a.value); return ['tensor', h.digest('hex')]; }
    case 'graph': { const h = createHash('sha256'); structure(a.value, h); return ['graph', h.digest('hex')]; }
    case 'raw': return ['raw', createHash('sha256').update(a.value).digest('hex')];
    // ONNX stores float attributes as float32: hash them as float32 so a round trip agrees
    case 'float': return ['float', Math.fround(a.value)];
    case 'floats': return ['floats', a.value.map((v) => Math.fround(v))];
    default: return [a.type, a.value];
  }
}

function canonicalValue(v: ValueInfo): unknown {
  return [v.name, v.elemType ?? null, v.shape ?? null];
}

/** Hashes what a graph computes, in a form that survives an ONNX write/read round trip. */
function structure(g: Graph, h: Hash): void {
  const nodes = g.nodes.map((n) => [
    n.opType, n.domain || '', n.inputs, n.outputs,
    Object.keys(n.attributes).sort().map((k) => [k, canonicalAttr(n.attributes[k])]),
  ]);
  h.update(JSON.stringify({ nodes, inputs: g.inputs.map(canonicalValue), outputs: g.outputs.map(canonicalValue) }));
  for (const t of g.initializers.values()) hashTensor(h, t);
}

/**
 * SHA-256 over the model's computation: opsets, nodes (ops, wiring, attributes), inputs, outputs
 * and every initializer's bytes. Node names, doc strings, producer and metadata are left out.
 */
export function modelFingerprint(model: Model): string {
  const h = createHash('sha256');
  h.update('flipguard-model-v1\0');
  h.update(JSON.stringify(model.opsetImports));
  structure(model.graph, h);
  return h.digest('hex');
}

/** SHA-256 over an image set's shape, pixels and labels. */
export function dataFingerprint(data: ImageSet): string {
  const h = createHash('sha256');
  h.update(`flipguard-data-v1\0${data.count}\0${data.shape.join(',')}\0${data.classes}\0`);
  const per = data.shape.reduce((a, b) => a * b, 1);
  h.update(bytesOf(data.x.subarray(0, data.count * per)));
  h.update(bytesOf(data.y.subarray(0, data.count)));
  return h.digest('hex');
}
