/**
 * Slice (opset ≥ 10 inputs; starts, ends, axes and steps must be constants): the adjoint puts dy
 * back where the slice took it and zeros elsewhere. Step-1 axes become one Pad; for |step| > 1 each
 * output element is followed by step − 1 zeros (Unsqueeze, Pad, Reshape) before padding to place;
 * a negative step first reverses dy along that axis.
 */
import { registerRule, type GradRule } from '../rule.js';

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

registerRule('Slice', sliceRule);
