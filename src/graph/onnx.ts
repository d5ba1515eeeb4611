/**
 * ONNX ModelProto ⇄ Model. Decoding interprets the fields flipguard works with and keeps every
 * other field's raw bytes; encoding writes the interpreted fields back and appends the kept bytes.
 * Tensor values are always written as raw_data (little-endian), whatever storage they came from.
 */
import { closeSync, constants as fsc, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep, win32 } from 'node:path';
import { FlipguardError } from '../errors.js';
import { allocate, elementSize, fromBytes, toBytes } from './dtype.js';
import { MAX_MODEL_BYTES, MODEL_LIMIT_TEXT, formatBytes } from './limits.js';
import { ProtoReader, ProtoWriter, WIRE_LEN, textDecoder, textEncoder } from './protobuf.js';
import { DataType, type Attribute, type Graph, type Model, type Node, type Tensor, type ValueInfo, type Dim } from './types.js';

interface DecodeContext {
  /** Folder that external data paths are relative to. */
  baseDir?: string;
  /** `baseDir` with symlinks resolved (computed on the first external tensor). */
  realBase?: string;
  /** Bytes of tensor values declared so far, checked against MAX_MODEL_BYTES before allocating. */
  bytes: number;
}

/** Opens a file for reading without following a final symlink and without blocking on a FIFO. */
const OPEN_NOFOLLOW = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0);

/**
 * Element count of `dims`, after checking that every dimension is a whole number ≥ 0 and that
 * the tensor's bytes keep the model within MAX_MODEL_BYTES; adds those bytes to `ctx.bytes`.
 * Runs before any of the tensor's values are allocated, so dims like [1e12] cost nothing.
 */
function declaredElements(name: string, dataType: number, dims: number[], ctx: DecodeContext): number {
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new FlipguardError(`Tensor "${name}" has an invalid dimension ${d} in its shape; the file is corrupt — re-export the model.`);
    }
  }
  let n = 1;
  for (const d of dims) n *= d;
  const bytes = n * (elementSize(dataType) || 1);
  ctx.bytes += bytes;
  if (bytes > MAX_MODEL_BYTES || ctx.bytes > MAX_MODEL_BYTES) {
    const total = bytes === ctx.bytes ? '' : `, which takes the model's tensors to ${formatBytes(ctx.bytes)}`;
    throw new FlipguardError(`Tensor "${name}" declares shape [${dims.join(', ')}] (${formatBytes(bytes)})${total}, above ${MODEL_LIMIT_TEXT}; the file is corrupt or the model too large for flipguard.`);
  }
  return n;
}

function decodeTensor(r: ProtoReader, ctx: DecodeContext): Tensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let docString: string | undefined;
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const int32s: number[] = [];
  const int64s: bigint[] = [];
  const doubles: number[] = [];
  const uint64s: bigint[] = [];
  const external: [string, string][] = [];
  let dataLocation = 0;
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const start = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1: r.repeatedVarint(wire, dims); break;
      case 2: dataType = r.varint(); break;
      case 4:
        if (wire === WIRE_LEN) { const s = r.sub(); while (!s.done()) floats.push(s.float()); } else floats.push(r.float());
        break;
      case 5: {
        const tmp: number[] = [];
        r.repeatedVarint(wire, tmp, true);
        for (const v of tmp) int32s.push(v | 0);
        break;
      }
      case 7:
        if (wire === WIRE_LEN) { const s = r.sub(); while (!s.done()) int64s.push(BigInt.asIntN(64, s.varintBig())); } else int64s.push(BigInt.asIntN(64, r.varintBig()));
        break;
      case 8: name = r.string(); break;
      case 9: raw = r.bytes(); break;
      case 10:
        if (wire === WIRE_LEN) { const s = r.sub(); while (!s.done()) doubles.push(s.double()); } else doubles.push(r.double());
        break;
      case 11:
        if (wire === WIRE_LEN) { const s = r.sub(); while (!s.done()) uint64s.push(s.varintBig()); } else uint64s.push(r.varintBig());
        break;
      case 12: docString = r.string(); break;
      case 13: {
        const s = r.sub();
        let k = '', v = '';
        while (!s.done()) {
          const t = s.tag();
          if (t.field === 1) k = s.string(); else if (t.field === 2) v = s.string(); else s.skipRaw(s.pos, t.wire);
        }
        external.push([k, v]);
        break;
      }
      case 14: dataLocation = r.varint(); break;
      default: extra.push(r.skipRaw(start, wire));
    }
  }
  const n = declaredElements(name, dataType, dims, ctx);
  let data;
  if (dataLocation === 1) {
    data = readExternal(name, dataType, n, external, ctx);
  } else if (raw !== undefined) {
    const size = elementSize(dataType);
    if (size > 0 && raw.length !== n * size) {
      throw new FlipguardError(`Tensor "${name}" holds ${raw.length} bytes of values but its shape [${dims.join(', ')}] needs ${n * size}; the file is corrupt — re-export the model.`);
    }
    data = fromBytes(dataType, raw);
  } else if (dataType === DataType.STRING) {
    data = new Uint8Array(0); // string tensors: values stay in `extra`
  } else {
    const src: ArrayLike<number | bigint> =
      dataType === DataType.FLOAT ? floats
        : dataType === DataType.DOUBLE ? doubles
          : dataType === DataType.INT64 ? int64s
            : dataType === DataType.UINT64 || dataType === DataType.UINT32 ? uint64s
              : int32s;
    if (src.length !== n && !(src.length === 0 && n === 0)) {
      throw new FlipguardError(`Tensor "${name}" holds ${src.length} values but its shape [${dims.join(', ')}] needs ${n}; the file is corrupt — re-export the model.`);
    }
    data = allocate(dataType, n);
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) (data as BigInt64Array)[i] = BigInt(v);
      else (data as Float32Array)[i] = Number(v);
    }
  }
  if (dataType !== DataType.STRING && data.length !== n) {
    throw new FlipguardError(`Tensor "${name}" holds ${data.length} values but its shape [${dims.join(', ')}] needs ${n}; the file is corrupt — re-export the model.`);
  }
  const t: Tensor = { name, dataType, dims, data };
  if (docString !== undefined) t.docString = docString;
  if (extra.length) t.extra = extra;
  return t;
}

/**
 * Reads an external tensor's bytes. The model file is untrusted, so `location` may name only a
 * regular file inside the model's own folder after symlinks are resolved; absolute paths, `..`
 * escapes, symlinks leading out, FIFOs and devices are refused before anything is opened (opening
 * a FIFO would block). Offset and length must lie inside the file and match the declared shape.
 * Refusals name the tensor and the reason, never the size or content of a file outside the folder.
 */
function readExternal(name: string, dataType: number, n: number, entries: [string, string][], ctx: DecodeContext) {
  const get = (k: string) => entries.find(([key]) => key === k)?.[1];
  const location = get('location');
  const refuse = (why: string, fix = 'keep external data files in the model\'s folder and name them by a relative path') =>
    new FlipguardError(`Tensor "${name}" keeps its values in the external file "${location}", which ${why}; ${fix}.`);
  if (!location) throw new FlipguardError(`Tensor "${name}" is stored externally but names no file; re-export the model with its weights.`);
  if (!ctx.baseDir) throw new FlipguardError(`Tensor "${name}" keeps its values in the external file "${location}"; load the model from a path so the folder beside it can be read.`);
  if (location.includes('\0')) throw refuse('contains a NUL character');
  if (isAbsolute(location) || win32.isAbsolute(location)) throw refuse('is an absolute path; flipguard reads external data only from inside the model\'s folder');
  const path = resolve(ctx.baseDir, location);
  const lexical = relative(resolve(ctx.baseDir), path);
  if (lexical === '' || lexical === '..' || lexical.startsWith(`..${sep}`) || isAbsolute(lexical)) {
    throw refuse('leads out of the model\'s folder; flipguard reads external data only from inside it');
  }
  let real: string;
  try {
    ctx.realBase ??= realpathSync(ctx.baseDir);
    real = realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw refuse('does not exist in the model\'s folder', 'put the model\'s external data file beside the model');
    throw refuse(`cannot be read (${code ?? (e as Error).message})`, 'check the file\'s permissions');
  }
  const inside = relative(ctx.realBase, real);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw refuse('is a symbolic link leading out of the model\'s folder; flipguard reads external data only from inside it');
  }
  const st = statSync(real);
  if (!st.isFile()) throw refuse(`is ${kindOf(st)}, not a regular file`, 'replace it with the data file the model was exported with');
  const size = elementSize(dataType);
  if (size === 0) throw new FlipguardError(`Tensor "${name}" has data type ${dataType}, which cannot be stored externally; re-export the model.`);
  const offset = byteCount(get('offset'), 0);
  const want = n * size;
  const length = byteCount(get('length'), want);
  if (offset === undefined || length === undefined) throw refuse('has an offset or length that is not a whole number of bytes', 're-export the model');
  if (length !== want) throw refuse(`is given a length of ${length} bytes while its declared shape needs ${want}`, 're-export the model');
  if (offset + length > st.size) throw refuse(`is shorter (${st.size} bytes) than offset ${offset} + length ${length} needs; the data file is truncated or belongs to another export`, 'copy the complete data file beside the model');
  const data = allocate(dataType, n);
  const out = toBytes(data);
  let fd: number;
  try {
    fd = openSync(real, OPEN_NOFOLLOW);
  } catch (e) {
    throw refuse(`cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the file\'s permissions');
  }
  try {
    // the file may have been swapped between stat and open: insist it is still the same regular file
    const now = fstatSync(fd);
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw refuse('changed while it was being read', 'try again when nothing is writing the model\'s folder');
    let got = 0;
    while (got < length) {
      const k = readSync(fd, out, got, length - got, offset + got);
      if (k === 0) throw refuse('ended before the tensor\'s bytes did', 'copy the complete data file beside the model');
      got += k;
    }
  } finally {
    closeSync(fd);
  }
  return data;
}

/** A decimal byte count from an external-data entry, `dflt` when absent, undefined when malformed. */
function byteCount(text: string | undefined, dflt: number): number | undefined {
  if (text === undefined) return dflt;
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const v = Number(text);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** What kind of special file `st` describes, for messages. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

function decodeTypeShape(r: ProtoReader): { elemType?: number; shape?: Dim[]; rawType?: Uint8Array } {
  // TypeProto: field 1 = tensor_type (TypeProto.Tensor: 1 elem_type, 2 shape)
  const whole = r.buf.slice(r.pos, r.end);
  let tensor: ProtoReader | undefined;
  let other = false;
  while (!r.done()) {
    const t = r.tag();
    if (t.field === 1 && t.wire === WIRE_LEN) tensor = r.sub();
    else { other = true; r.skipRaw(r.pos, t.wire); }
  }
  if (!tensor || other) return { rawType: whole };
  let elemType: number | undefined;
  let shape: Dim[] | undefined;
  let tensorOther = false;
  while (!tensor.done()) {
    const t = tensor.tag();
    if (t.field === 1) elemType = tensor.varint();
    else if (t.field === 2 && t.wire === WIRE_LEN) {
      shape = [];
      const s = tensor.sub();
      while (!s.done()) {
        const dt = s.tag();
        if (dt.field === 1 && dt.wire === WIRE_LEN) {
          const d = s.sub();
          let dim: Dim = null;
          while (!d.done()) {
            const x = d.tag();
            if (x.field === 1) dim = d.int64();
            else if (x.field === 2) dim = d.string();
            else { d.skipRaw(d.pos, x.wire); tensorOther = true; }
          }
          shape.push(dim);
        } else { s.skipRaw(s.pos, dt.wire); tensorOther = true; }
      }
    } else { tensor.skipRaw(tensor.pos, t.wire); tensorOther = true; }
  }
  if (tensorOther) return { elemType, shape, rawType: whole };
  return { elemType, shape };
}

function decodeValueInfo(r: ProtoReader): ValueInfo {
  const v: ValueInfo = { name: '' };
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const start = r.pos;
    const t = r.tag();
    if (t.field === 1) v.name = r.string();
    else if (t.field === 2) Object.assign(v, decodeTypeShape(r.sub()));
    else if (t.field === 3) v.docString = r.string();
    else extra.push(r.skipRaw(start, t.wire));
  }
  if (extra.length) v.extra = extra;
  return v;
}

function decodeAttribute(r: ProtoReader, ctx: DecodeContext): [string, Attribute] {
  const whole = r.buf.slice(r.pos, r.end);
  let name = '';
  let type = 0;
  let f = 0, i = 0, s: Uint8Array | undefined, tensor: Tensor | undefined, graph: Graph | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  let unusual = false;
  while (!r.done()) {
    const t = r.tag();
    switch (t.field) {
      case 1: name = r.string(); break;
      case 20: type = r.varint(); break;
      case 2: f = r.float(); break;
      case 3: i = r.int64(); break;
      case 4: s = r.bytes(); break;
      case 5: tensor = decodeTensor(r.sub(), ctx); break;
      case 6: graph = decodeGraph(r.sub(), ctx); break;
      case 7:
        if (t.wire === WIRE_LEN) { const sr = r.sub(); while (!sr.done()) floats.push(sr.float()); } else floats.push(r.float());
        break;
      case 8: r.repeatedVarint(t.wire, ints); break;
      case 9: strings.push(textDecoder.decode(r.bytes())); break;
      default: unusual = true; r.skipRaw(r.pos, t.wire);
    }
  }
  if (unusual) return [name, { type: 'raw', value: whole }];
  switch (type) {
    case 1: return [name, { type: 'float', value: f }];
    case 2: return [name, { type: 'int', value: i }];
    case 3: return [name, { type: 'string', value: textDecoder.decode(s ?? new Uint8Array(0)) }];
    case 4: if (tensor) return [name, { type: 'tensor', value: tensor }]; break;
    case 5: if (graph) return [name, { type: 'graph', value: graph }]; break;
    case 6: return [name, { type: 'floats', value: floats }];
    case 7: return [name, { type: 'ints', value: ints }];
    case 8: return [name, { type: 'strings', value: strings }];
  }
  return [name, { type: 'raw', value: whole }];
}

function decodeNode(r: ProtoReader, ctx: DecodeContext): Node {
  const node: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const start = r.pos;
    const t = r.tag();
    switch (t.field) {
      case 1: node.inputs.push(r.string()); break;
      case 2: node.outputs.push(r.string()); break;
      case 3: node.name = r.string(); break;
      case 4: node.opType = r.string(); break;
      case 7: node.domain = r.string(); break;
      case 5: { const [k, a] = decodeAttribute(r.sub(), ctx); node.attributes[k] = a; break; }
      case 6: node.docString = r.string(); break;
      default: extra.push(r.skipRaw(start, t.wire));
    }
  }
  if (node.domain === 'ai.onnx') node.domain = '';
  if (extra.length) node.extra = extra;
  return node;
}

function decodeGraph(r: ProtoReader, ctx: DecodeContext): Graph {
  const g: Graph = { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [], valueInfo: [] };
  const extra: Uint8Array[] = [];
  const allInputs: ValueInfo[] = [];
  while (!r.done()) {
    const start = r.pos;
    const t = r.tag();
    switch (t.field) {
      case 1: g.nodes.push(decodeNode(r.sub(), ctx)); break;
      case 2: g.name = r.string(); break;
      case 5: { const tensor = decodeTensor(r.sub(), ctx); g.initializers.set(tensor.name, tensor); break; }
      case 10: g.docString = r.string(); break;
      case 11: allInputs.push(decodeValueInfo(r.sub())); break;
      case 12: g.outputs.push(decodeValueInfo(r.sub())); break;
      case 13: g.valueInfo.push(decodeValueInfo(r.sub())); break;
      default: extra.push(r.skipRaw(start, t.wire));
    }
  }
  const initInputs: ValueInfo[] = [];
  for (const v of allInputs) (g.initializers.has(v.name) ? initInputs : g.inputs).push(v);
  if (initInputs.length) g.initializerInputs = initInputs;
  if (extra.length) g.extra = extra;
  return g;
}

/**
 * Decodes ONNX bytes. `path` (the model file's path) lets external data be read from its folder
 * and names the file in errors.
 */
export function decodeModel(bytes: Uint8Array, path = 'the model'): Model {
  const ctx: DecodeContext = { baseDir: path === 'the model' ? undefined : dirname(path), bytes: 0 };
  const m: Model = {
    irVersion: 0, opsetImports: [], producerName: '', producerVersion: '', domain: '', modelVersion: 0,
    docString: '', metadata: [], graph: undefined as unknown as Graph,
  };
  const extra: Uint8Array[] = [];
  try {
    const r = new ProtoReader(bytes);
    while (!r.done()) {
      const start = r.pos;
      const t = r.tag();
      switch (t.field) {
        case 1: m.irVersion = r.int64(); break;
        case 2: m.producerName = r.string(); break;
        case 3: m.producerVersion = r.string(); break;
        case 4: m.domain = r.string(); break;
        case 5: m.modelVersion = r.int64(); break;
        case 6: m.docString = r.string(); break;
        case 7: m.graph = decodeGraph(r.sub(), ctx); break;
        case 8: {
          const s = r.sub();
          const o = { domain: '', version: 0 };
          while (!s.done()) {
            const x = s.tag();
            if (x.field === 1) o.domain = s.string(); else if (x.field === 2) o.version = s.int64(); else s.skipRaw(s.pos, x.wire);
          }
          m.opsetImports.push(o);
          break;
        }
        case 14: {
          const s = r.sub();
          let k = '', v = '';
          while (!s.done()) {
            const x = s.tag();
            if (x.field === 1) k = s.string(); else if (x.field === 2) v = s.string(); else s.skipRaw(s.pos, x.wire);
          }
          m.metadata.push([k, v]);
          break;
        }
        default: extra.push(r.skipRaw(start, t.wire));
      }
    }
  } catch (e) {
    if (e instanceof FlipguardError) throw e;
    throw new FlipguardError(`${path} is not a valid ONNX model (${(e as Error).message}); check that the file is complete and was exported as ONNX.`);
  }
  if (!m.graph || m.irVersion <= 0 || m.graph.nodes.length === 0 || m.opsetImports.length === 0) {
    throw new FlipguardError(`${path} is not a valid ONNX model (no ${!m.graph || m.graph.nodes.length === 0 ? 'graph' : m.irVersion <= 0 ? 'IR version' : 'opset import'} found); check that the file is complete and was exported as ONNX.`);
  }
  if (extra.length) m.extra = extra;
  return m;
}

/**
 * Reads an ONNX file (and any external data files inside its folder). The path must be a regular
 * file (checked before opening: a FIFO would block, a device never end) of at most
 * MAX_MODEL_BYTES, the most one protobuf message can hold.
 */
export function readModel(path: string): Model {
  if (!existsSync(path)) throw new FlipguardError(`Model file "${path}" does not exist; check the path.`);
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new FlipguardError(`Model file "${path}" is ${kindOf(st)}, not a regular file; pass the path of an .onnx file.`);
    if (st.size > MAX_MODEL_BYTES) throw new FlipguardError(`Model file "${path}" is ${formatBytes(st.size)}, above ${MODEL_LIMIT_TEXT} (an ONNX file holds at most 2 GiB); pass an .onnx model file.`);
    const fd = openSync(path, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
    try {
      // swapped for something else since the stat: refuse rather than read it
      if (!fstatSync(fd).isFile()) throw new FlipguardError(`Model file "${path}" changed into a special file while being opened; pass the path of an .onnx file.`);
      bytes = new Uint8Array(readFileSync(fd));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof FlipguardError) throw e;
    throw new FlipguardError(`Model file "${path}" cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path and its permissions.`);
  }
  return decodeModel(bytes, path);
}

// ───────────────────────────── encoding ─────────────────────────────

function encodeTensor(w: ProtoWriter, t: Tensor): void {
  if (t.dims.length) w.packedInt64Field(1, t.dims);
  w.tag(2, 0).varint(t.dataType);
  if (t.name) w.stringField(8, t.name);
  if (t.dataType !== DataType.STRING) w.bytesField(9, toBytes(t.data));
  if (t.docString !== undefined) w.stringField(12, t.docString);
  for (const e of t.extra ?? []) w.raw(e);
}

function encodeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.stringField(1, v.name);
  if (v.rawType) w.bytesField(2, v.rawType);
  else if (v.elemType !== undefined || v.shape) {
    w.messageField(2, (tw) => tw.messageField(1, (tt) => {
      if (v.elemType !== undefined) tt.tag(1, 0).varint(v.elemType);
      if (v.shape) {
        tt.messageField(2, (sw) => {
          for (const d of v.shape!) {
            sw.messageField(1, (dw) => {
              if (typeof d === 'number') dw.int64Field(1, d);
              else if (typeof d === 'string') dw.stringField(2, d);
            });
          }
        });
      }
    }));
  }
  if (v.docString !== undefined) w.stringField(3, v.docString);
  for (const e of v.extra ?? []) w.raw(e);
}

const ATTR_CODES: Record<string, number> = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8 };

function encodeAttribute(w: ProtoWriter, name: string, a: Attribute): void {
  if (a.type === 'raw') { w.raw(a.value); return; }
  w.stringField(1, name);
  switch (a.type) {
    case 'float': w.floatField(2, a.value); break;
    case 'int': w.int64Field(3, a.value); break;
    case 'string': w.bytesField(4, textEncoder.encode(a.value)); break;
    case 'tensor': w.messageField(5, (tw) => encodeTensor(tw, a.value)); break;
    case 'graph': w.messageField(6, (gw) => encodeGraph(gw, a.value)); break;
    case 'floats': for (const f of a.value) w.floatField(7, f); break;
    case 'ints': for (const i of a.value) w.int64Field(8, i); break;
    case 'strings': for (const s of a.value) w.stringField(9, s); break;
  }
  w.tag(20, 0).varint(ATTR_CODES[a.type]);
}

function encodeNode(w: ProtoWriter, n: Node): void {
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  if (n.name) w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [k, a] of Object.entries(n.attributes)) w.messageField(5, (aw) => encodeAttribute(aw, k, a));
  if (n.docString !== undefined) w.stringField(6, n.docString);
  if (n.domain) w.stringField(7, n.domain);
  for (const e of n.extra ?? []) w.raw(e);
}

function encodeGraph(w: ProtoWriter, g: Graph): void {
  for (const n of g.nodes) w.messageField(1, (nw) => encodeNode(nw, n));
  if (g.name) w.stringField(2, g.name);
  for (const t of g.initializers.values()) w.messageField(5, (tw) => encodeTensor(tw, t));
  if (g.docString !== undefined) w.stringField(10, g.docString);
  for (const v of g.inputs) w.messageField(11, (vw) => encodeValueInfo(vw, v));
  for (const v of g.initializerInputs ?? []) if (g.initializers.has(v.name)) w.messageField(11, (vw) => encodeValueInfo(vw, v));
  for (const v of g.outputs) w.messageField(12, (vw) => encodeValueInfo(vw, v));
  for (const v of g.valueInfo) w.messageField(13, (vw) => encodeValueInfo(vw, v));
  for (const e of g.extra ?? []) w.raw(e);
}

/** Writes a Model to an ONNX file (tensor values inline). */
export function writeModel(path: string, m: Model): void {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, encodeModel(m));
    renameSync(tmp, path);
  } catch (e) {
    throw new FlipguardError(`Cannot write the model to "${path}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path.`);
  }
}

/**
 * Where each initializer's raw_data lies in encoded model bytes: byte offset and length. Lets a
 * caller flip bits of stored parameters directly in the bytes (see runtime/patch.ts).
 */
export function locateInitializers(bytes: Uint8Array): Map<string, { offset: number; length: number }> {
  const out = new Map<string, { offset: number; length: number }>();
  const r = new ProtoReader(bytes);
  while (!r.done()) {
    const start = r.pos;
    const t = r.tag();
    if (t.field !== 7 || t.wire !== WIRE_LEN) { r.skipRaw(start, t.wire); continue; }
    const g = r.sub();
    while (!g.done()) {
      const gs = g.pos;
      const gt = g.tag();
      if (gt.field !== 5 || gt.wire !== WIRE_LEN) { g.skipRaw(gs, gt.wire); continue; }
      const tr = g.sub();
      let name = '';
      let loc: { offset: number; length: number } | undefined;
      while (!tr.done()) {
        const ts = tr.pos;
        const tt = tr.tag();
        if (tt.field === 8) name = tr.string();
        else if (tt.field === 9) { const len = tr.varint(); loc = { offset: tr.pos, length: len }; tr.pos += len; }
        else tr.skipRaw(ts, tt.wire);
      }
      if (loc) out.set(name, loc);
    }
  }
  return out;
}

/** Encodes a Model as ONNX bytes (tensor values inline as raw_data). */
export function encodeModel(m: Model): Uint8Array {
  const w = new ProtoWriter();
  w.int64Field(1, m.irVersion);
  if (m.producerName) w.stringField(2, m.producerName);
  if (m.producerVersion) w.stringField(3, m.producerVersion);
  if (m.domain) w.stringField(4, m.domain);
  if (m.modelVersion) w.int64Field(5, m.modelVersion);
  if (m.docString) w.stringField(6, m.docString);
  w.messageField(7, (gw) => encodeGraph(gw, m.graph));
  for (const o of m.opsetImports) w.messageField(8, (ow) => { if (o.domain) ow.stringField(1, o.domain); ow.int64Field(2, o.version); });
  for (const [k, v] of m.metadata) w.messageField(14, (mw) => { mw.stringField(1, k); mw.stringField(2, v); });
  for (const e of m.extra ?? []) w.raw(e);
  return w.finish();
}

