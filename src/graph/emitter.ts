/**
 * Node-emitting helpers shared by the gradient rules: cached constants, opset-correct reductions,
 * reshapes that read sizes at run time (so gradient graphs follow the batch size they are fed), and
 * the broadcast reduction every elementwise rule needs. Every method returns a value name; nothing
 * here computes tensor values in JavaScript.
 */
import { A, floatTensor, GraphBuilder, int64Tensor } from './builder.js';
import { DataType, type Attribute, type Tensor } from './types.js';

export class Emitter {
  private readonly cache = new Map<string, string>();
  /** Prefix for the names of emitted nodes (set per rule, e.g. "grad/conv1/"). */
  prefix = 'grad/';

  /**
   * @param b the builder holding the forward graph the gradient nodes are appended to
   * @param opset default-domain opset of the emitted graph (≥ 17; reductions other than ReduceSum
   *   take axes as an attribute below 18 and as an input from 18)
   */
  constructor(readonly b: GraphBuilder, readonly opset: number) {}

  /** Appends a single-output node; returns its output. */
  op(opType: string, inputs: string[], attrs: Record<string, Attribute> = {}): string {
    return this.b.node(opType, inputs, attrs, { name: this.prefix + opType })[0];
  }

  /** Appends a node with `outputs` outputs; returns their names. */
  ops(opType: string, inputs: string[], attrs: Record<string, Attribute>, outputs: number): string[] {
    return this.b.node(opType, inputs, attrs, { name: this.prefix + opType, outputs });
  }

  private cached(key: string, make: () => string): string {
    let v = this.cache.get(key);
    if (v === undefined) { v = make(); this.cache.set(key, v); }
    return v;
  }

  // gradient constants are initializers (graph/editor.ts): gradient graphs are evaluated, never fault targets

  /** A float32 scalar constant (shape []). */
  scalar(v: number): string {
    return this.cached(`f:${Object.is(v, -0) ? '-0' : v}`, () => this.b.tensor('grad_const', floatTensor('', [], [v]), 'initializer'));
  }

  /** A float32 constant tensor. */
  floats(values: number[], dims: number[] = [values.length]): string {
    return this.cached(`fs:${dims.join(',')}:${values.join(',')}`, () => this.b.tensor('grad_const', floatTensor('', dims, values), 'initializer'));
  }

  /** An int64 constant tensor (1-D by default). */
  ints(values: number[], dims: number[] = [values.length]): string {
    return this.cached(`i:${dims.join(',')}:${values.join(',')}`, () => this.b.tensor('grad_ints', int64Tensor('', dims, values), 'initializer'));
  }

  /** Shape(v), once per value. */
  shapeOf(v: string): string {
    return this.cached(`shape:${v}`, () => this.op('Shape', [v]));
  }

  /** A float32 tensor of `fill` with the run-time shape of `v`. */
  filledLike(v: string, fill: number): string {
    const t: Tensor = { name: '', dataType: DataType.FLOAT, dims: [1], data: new Float32Array([fill]) };
    return this.cached(`fill:${fill}:${v}`, () => this.op('ConstantOfShape', [this.shapeOf(v)], { value: A.t(t) }));
  }

  zerosLike(v: string): string {
    return this.filledLike(v, 0);
  }

  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  neg(a: string): string { return this.op('Neg', [a]); }

  /** x · c for a number c (no node when c = 1). */
  scale(x: string, c: number): string {
    return c === 1 ? x : this.mul(x, this.scalar(c));
  }

  /** Sum of several gradient contributions (no node for one). */
  sum(terms: string[]): string {
    if (terms.length === 1) return terms[0];
    return this.op('Sum', terms);
  }

  /** ReduceSum over `axes` (none: returns x unchanged). */
  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (!axes.length) return x;
    return this.op('ReduceSum', [x, this.ints(axes)], { keepdims: A.i(keepdims ? 1 : 0) });
  }

  /** ReduceMean / ReduceSumSquare / ReduceMax… in the form the emitted opset wants. */
  reduce(opType: 'ReduceMean' | 'ReduceSumSquare' | 'ReduceMax', x: string, axes: number[], keepdims: boolean): string {
    if (!axes.length) return x;
    const k = { keepdims: A.i(keepdims ? 1 : 0) };
    return this.opset >= 18 ? this.op(opType, [x, this.ints(axes)], k) : this.op(opType, [x], { ...k, axes: A.is(axes) });
  }

  /** Reshape to a static shape (0 copies the input's size at that position, −1 infers one size). */
  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.ints(shape)]);
  }

  /** Reshape `x` to the run-time shape of `like`. */
  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.shapeOf(like)]);
  }

  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], { perm: A.is(perm) });
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.ints(axes)]);
  }

  /** Slice with explicit starts/ends/axes/steps (ends may be ±2^62 for "to the end"). */
  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.ints(starts), this.ints(ends), this.ints(axes)];
    if (steps) ins.push(this.ints(steps));
    return this.op('Slice', ins);
  }

  /** Constant-mode Pad with pads = [all begins, all ends] (negative values crop). */
  pad(x: string, pads: number[]): string {
    if (pads.every((p) => p === 0)) return x;
    return this.op('Pad', [x, this.ints(pads)], { mode: A.s('constant') });
  }

  /**
   * The gradient of a broadcast input: sums `g` (static shape `gShape`, the broadcast result) over
   * the axes the input was broadcast along, then gives it the input's own shape (read at run time
   * from `target` when ranks differ).
   */
  unbroadcast(g: string, gShape: readonly number[], target: string, targetShape: readonly number[]): string {
    const d = gShape.length - targetShape.length;
    const axes: number[] = [];
    for (let i = 0; i < gShape.length; i++) {
      if (i < d) axes.push(i);
      else if (targetShape[i - d] === 1 && gShape[i] !== 1) axes.push(i);
    }
    let r = this.reduceSum(g, axes, true);
    if (d !== 0) r = this.reshapeLike(r, target);
    return r;
  }
}
