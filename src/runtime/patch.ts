/**
 * Faulty copies of a model without re-encoding it: the model is encoded once, and a trial flips
 * the stored bits directly in those bytes, creates an onnxruntime session from them, and flips
 * them back (a flip is its own inverse; other edits are restored from a saved copy).
 *
 * Why not feed parameters as graph inputs? bench/RESULTS.md ("parameter swapping"): with weights
 * as inputs onnxruntime cannot pre-pack convolution weights or fuse batch norm, and a VGG-style
 * MNIST trial was 2.3–3.7× slower per pass, while building a session from bytes costs a few milliseconds.
 */
import type ort from 'onnxruntime-node';
import { encodeModel, locateInitializers } from '../graph/onnx.js';
import type { Model, TensorData } from '../graph/types.js';
import { ModelRunner, type RuntimeOptions } from './session.js';

/** One stored bit of a parameter: tensor name, flat element index, bit (0 = mantissa LSB, 31 = sign). */
export interface BitFlip {
  tensor: string;
  index: number;
  bit: number;
}

export class PatchableModel {
  readonly bytes: Uint8Array;
  private readonly where: Map<string, { offset: number; length: number }>;

  constructor(readonly model: Model) {
    this.bytes = encodeModel(model);
    this.where = locateInitializers(this.bytes);
  }

  /** Byte offset of element `index` of float32 tensor `tensor` in the encoded model. */
  private elementOffset(tensor: string, index: number, size = 4): number {
    const loc = this.where.get(tensor);
    if (!loc) throw new Error(`no stored tensor named ${tensor}`);
    const off = loc.offset + index * size;
    if (index < 0 || off + size > loc.offset + loc.length) throw new RangeError(`element ${index} is outside tensor ${tensor}`);
    return off;
  }

  /** XORs the given bits into the stored bytes (applying twice restores them). */
  toggle(flips: readonly BitFlip[]): void {
    const b = this.bytes;
    for (const f of flips) {
      const off = this.elementOffset(f.tensor, f.index);
      b[off + (f.bit >> 3)] ^= 1 << (f.bit & 7);
    }
  }

  /**
   * Runs `use` on a runner built from the model with `flips` applied (and `values` replacing whole
   * tensors), then restores the clean bytes, whatever happens.
   */
  async withFaults<T>(flips: readonly BitFlip[], opts: RuntimeOptions, use: (runner: ModelRunner) => Promise<T>, values?: ReadonlyMap<string, TensorData>): Promise<T> {
    const saved: [number, Uint8Array][] = [];
    for (const [name, data] of values ?? []) {
      const loc = this.where.get(name);
      if (!loc || loc.length !== data.byteLength) throw new Error(`cannot replace tensor ${name}`);
      saved.push([loc.offset, this.bytes.slice(loc.offset, loc.offset + loc.length)]);
      this.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), loc.offset);
    }
    this.toggle(flips);
    let runner: ModelRunner;
    try {
      runner = await ModelRunner.fromBytes(this.bytes, this.model, opts);
    } finally {
      this.toggle(flips);
      for (const [off, orig] of saved.reverse()) this.bytes.set(orig, off);
    }
    try {
      return await use(runner);
    } finally {
      await runner.release();
    }
  }
}

export type { ort };
