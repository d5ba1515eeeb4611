/**
 * A minimal protobuf wire-format reader and writer. ONNX files are protobuf; we decode only the
 * fields flipguard interprets and keep every other field as its raw bytes, so writing a model back
 * reproduces what we did not understand.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class ProtoReader {
  pos: number;
  readonly end: number;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array, start = 0, end = buf.length) {
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  /** Reads a varint as a bigint (exact for all 64-bit values). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new RangeError('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 70n) throw new RangeError('varint too long');
    }
  }
  /** Reads a varint as a JS number; values above 2^53 lose precision (fine for sizes and enums). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new RangeError('varint too long');
  }
  /** int64 as a signed number (two's complement). */
  int64(): number {
    const v = this.varintBig();
    return Number(BigInt.asIntN(64, v));
  }
  tag(): { field: number; wire: number } {
    const t = this.varint();
    return { field: Math.floor(t / 8), wire: t & 7 };
  }
  bytes(): Uint8Array {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new RangeError('truncated length-delimited field');
    this.pos += len;
    return this.buf.subarray(start, start + len);
  }
  /** A sub-reader over the next length-delimited field. */
  sub(): ProtoReader {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new RangeError('truncated message');
    this.pos += len;
    return new ProtoReader(this.buf, start, start + len);
  }
  string(): string {
    return textDecoder.decode(this.bytes());
  }
  float(): number {
    if (this.pos + 4 > this.end) throw new RangeError('truncated float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  double(): number {
    if (this.pos + 8 > this.end) throw new RangeError('truncated double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** Skips a field's value and returns the raw bytes of the whole field (tag included). */
  skipRaw(tagStart: number, wire: number): Uint8Array {
    switch (wire) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_I64: this.pos += 8; break;
      case WIRE_LEN: { const len = this.varint(); this.pos += len; break; }
      case WIRE_I32: this.pos += 4; break;
      default: throw new RangeError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new RangeError('truncated field');
    return this.buf.slice(tagStart, this.pos);
  }
  /** Reads repeated varints, packed or not (call after reading the tag). */
  repeatedVarint(wire: number, out: number[], signed64 = true): void {
    if (wire === WIRE_LEN) {
      const r = this.sub();
      while (!r.done()) out.push(signed64 ? r.int64() : r.varint());
    } else out.push(signed64 ? this.int64() : this.varint());
  }
}

export const textDecoder = new TextDecoder('utf-8');
export const textEncoder = new TextEncoder();

/** Growable byte buffer writer. */
export class ProtoWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }
  varint(v: number | bigint): this {
    let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
    this.ensure(10);
    if (typeof x === 'bigint') {
      while (x >= 0x80n) {
        this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
        x >>= 7n;
      }
      this.buf[this.len++] = Number(x);
    } else {
      while (x >= 0x80) {
        this.buf[this.len++] = (x % 128) | 0x80;
        x = Math.floor(x / 128);
      }
      this.buf[this.len++] = x;
    }
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  /** int64 field (skips nothing: proto3 default handling is the caller's choice). */
  int64Field(field: number, v: number): this {
    const big = Number.isSafeInteger(v) ? BigInt(v) : v >= 9.2e18 ? 2n ** 63n - 1n : v <= -9.2e18 ? -(2n ** 63n) : BigInt(Math.trunc(v));
    return this.tag(field, WIRE_VARINT).varint(big);
  }
  bytesField(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN).varint(b.length);
    return this.raw(b);
  }
  stringField(field: number, s: string): this {
    return this.bytesField(field, textEncoder.encode(s));
  }
  floatField(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }
  messageField(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytesField(field, inner.finish());
  }
  packedInt64Field(field: number, values: number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) {
      const big = Number.isSafeInteger(v) ? BigInt(v) : v > 0 ? 2n ** 63n - 1n : -(2n ** 63n);
      inner.varint(big);
    }
    return this.bytesField(field, inner.finish());
  }
  packedFloatField(field: number, values: number[]): this {
    const f = new Float32Array(values);
    return this.bytesField(field, new Uint8Array(f.buffer));
  }
}
