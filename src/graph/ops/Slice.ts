/**
 * Slice (opset ≥ 10 inputs; starts, ends, axes and steps must be constants): the adjoint puts dy
 * back where the slice took it and zeros elsewhere. Step-1 axes become one Pad; for |step| > 1 each
 * output element is followed by step − 1 zeros (Unsqueeze, Pad, Reshape) before padding to place;
 * a negative step first reverses dy along that axis.
 */
import { A } from '../builder.js';
import { NodeCtx, sliceValues } from './shape-kit.js';
import { type GradRule, type OpRecord } from './types.js';

/** Slice with ONNX clamping: negative indices count from the end, then starts/ends clamp to the axis. */
function sliceShape(c: NodeCtx): void {
  const x = c.shape(0);
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset >= 10) {
    starts = c.value(1, 'starts');
    ends = c.value(2, 'ends');
    axes = c.optValue(3, 'axes');
    steps = c.optValue(4, 'steps');
  } else {
    const s = c.ints('starts');
    const e = c.ints('ends');
    if (!s || !e) throw c.fail('has no starts/ends attributes', 'fix the model');
    starts = s; ends = e; axes = c.ints('axes');
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw c.fail(`has starts, ends, axes and steps of different lengths (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`, 'fix the model');
  }
  const out = [...x];
  const first = x.map(() => 0);
  const step = x.map(() => 1);
  const seen = new Set<number>();
  axes.forEach((ax, i) => {
    const a = c.axis(ax, x.length);
    if (seen.has(a)) throw c.fail(`slices axis ${a} twice`, 'fix the model');
    seen.add(a);
    const d = x[a];
    const st = steps![i];
    if (st === 0) throw c.fail('has a slice step of 0', 'fix the model');
    let s = starts[i];
    let e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) { s = Math.min(Math.max(s, 0), d); e = Math.min(Math.max(e, 0), d); }
    else { s = Math.min(Math.max(s, 0), d - 1); e = Math.min(Math.max(e, -1), d - 1); }
    out[a] = Math.max(0, Math.ceil((e - s) / st));
    first[a] = s;
    step[a] = st;
  });
  const v = c.maybeValue(0);
  c.set(0, out, c.type(0), v ? sliceValues(v, x, out, first, step) : undefined);
}

/** Far beyond any axis size: Slice clamps it to "the end" (or "before the start" when negative). */
const FAR = 2 ** 53 - 1;

export const sliceRule: GradRule = {
  differentiableInputs: () => [0],
  backward(ctx) {
    const { e, node } = ctx;
    const [x, startsV, endsV, axesV, stepsV] = node.inputs;
    const xs = ctx.shape(x);
    const rank = xs.length;
    const constant = (v: string, role: string) => {
      const c = ctx.value(v);
      if (!c) throw ctx.fail(`has a ${role} input computed at run time`, `re-export the model with constant ${role}`);
      return c;
    };
    const starts = constant(startsV, 'starts');
    const ends = constant(endsV, 'ends');
    const axes = axesV ? constant(axesV, 'axes') : starts.map((_, i) => i);
    const steps = stepsV ? constant(stepsV, 'steps') : starts.map(() => 1);
    let g = ctx.gradOutputs[0]!;
    const cur = [...ctx.shape(node.outputs[0])];
    const pads = new Array<number>(2 * rank).fill(0);
    const strided: { a: number; s: number; k: number; m: number }[] = [];
    axes.forEach((ax, i) => {
      const a = ax < 0 ? ax + rank : ax;
      const d = xs[a];
      const k = steps[i];
      let s = starts[i];
      let t = ends[i];
      if (s < 0) s += d;
      if (t < 0) t += d;
      if (k > 0) { s = Math.min(Math.max(s, 0), d); t = Math.min(Math.max(t, 0), d); }
      else { s = Math.min(Math.max(s, 0), d - 1); t = Math.min(Math.max(t, -1), d - 1); }
      const m = Math.max(0, Math.ceil((t - s) / k));
      if (k === 1) { pads[a] = s; pads[a + rank] = d - s - m; }
      else strided.push({ a, s, k, m });
    });
    if (cur.some((d) => d === 0)) return [e.zerosLike(x), ...node.inputs.slice(1).map(() => undefined)];
    for (let { a, s, k, m } of strided) {
      if (k < 0) {
        g = e.slice(g, [-1], [-FAR], [a], [-1]);
        s += (m - 1) * k;
        k = -k;
      }
      if (k > 1) {
        const spread = e.pad(e.unsqueeze(g, [a + 1]), padAt(cur.length + 1, a + 1, 0, k - 1));
        g = e.reshape(spread, [...new Array<number>(a).fill(0), m * k, ...cur.slice(a + 1)]);
      }
      g = e.pad(g, padAt(cur.length, a, s, xs[a] - s - m * k));
      cur[a] = xs[a];
    }
    g = e.pad(g, pads);
    return [g, ...node.inputs.slice(1).map(() => undefined)];
  },
};

/** A pads vector of a rank-`rank` tensor padding only axis `a`. */
function padAt(rank: number, a: number, begin: number, end: number): number[] {
  const p = new Array<number>(2 * rank).fill(0);
  p[a] = begin;
  p[a + rank] = end;
  return p;
}

export const Slice: OpRecord = {
  opType: 'Slice',
  shape: sliceShape,
  vjp: sliceRule,
  lrp: 'route',
  keepsSign: true,
  channels: 'special',
};
