/**
 * Hardening a QOperator model keeps its integer kernels. In the QDQ form (formats/qoperator.ts)
 * each layer is DequantizeLinear → Conv/MatMul → QuantizeLinear, which onnxruntime runs as one
 * QLinearConv/QLinearMatMul. A stage placed at the conv output (EDAC, the channel voters, range
 * restriction at placement 'paper') would sit inside that group, and the conv would then run in
 * float — other rounding than the kernel, so the logits would drift from the QOperator model's.
 *
 * `requantizeStages`: for every layer whose output (the stage's output now) is read only by a
 * per-tensor QuantizeLinear (or by a ReLU read only by one with zero point at the type's minimum,
 * whose saturation is the ReLU: QDQ dense layers), the widened conv output (originals and copies) goes through a
 * QuantizeLinear → DequantizeLinear with that scale and zero point before the stage. The conv with
 * its copies is again one integer kernel (a wider QLinearConv), the stage compares its integers as
 * floats ((q − z)·s), and fault-free it passes the original channels' values on, which the
 * layer's QuantizeLinear turns back into the same integers: the QOperator model's logits, bit for bit.
 *
 * `requantizedIntervals`: the stage now sees grid values, while the intervals were profiled on the
 * float conv output. Each bound moves outward to the midpoint 1.5 grid steps beyond the grid point
 * next to it: the kernel's integer differs from the rounded float value by at most one step, so
 * every profiled value stays inside, and no grid value lies on a bound. A layer with a float
 * output (the logits) is computed by onnxruntime's fused integer kernel too, whose float result
 * differs from the profiled one by rounding: its bounds widen by 2^-12 of their magnitude.
 */
import { consumers, producers } from '../graph/builder.js';
import { decodeTensor, numel } from '../graph/dtype.js';
import { DataType, type Graph, type Model, type Node } from '../graph/types.js';
import { NameScope, dotted } from '../graph/editor.js';
import { layerSites } from './layers.js';
import type { Intervals } from './profile.js';

/** Relative widening of a float-output layer's bounds (2^-12): far above the rounding of a float32 sum of the layer's terms. */
const FLOAT_SLACK = 2 ** -12;

interface Requant { scale: string; zero?: string; s: number; z: number; qmin: number; qmax: number }

/**
 * The per-tensor QuantizeLinear that alone reads `value` (its parameters), or undefined; also
 * through a sole Relu when that QuantizeLinear's zero point is the type's minimum (its saturation
 * is then the ReLU, as onnxruntime fuses it).
 */
function soleQuantize(g: Graph, readers: Map<string, Node[]>, value: string, relu = true): Requant | undefined {
  const r = readers.get(value) ?? [];
  if (r.length !== 1 || r[0].inputs[0] !== value) return undefined;
  if (relu && r[0].opType === 'Relu') {
    const q = soleQuantize(g, readers, r[0].outputs[0], false);
    return q && q.z === q.qmin ? q : undefined;
  }
  if (r[0].opType !== 'QuantizeLinear') return undefined;
  const [, scale, zero] = r[0].inputs;
  const st = g.initializers.get(scale);
  const zt = zero ? g.initializers.get(zero) : undefined;
  if (!st || st.dataType !== DataType.FLOAT || numel(st.dims) !== 1 || (zero && (!zt || numel(zt.dims) !== 1))) return undefined;
  const [qmin, qmax] = zt?.dataType === DataType.INT8 ? [-128, 127] : [0, 255];
  return { scale, zero: zero || undefined, s: decodeTensor(st.dataType, st.data)[0], z: zt ? decodeTensor(zt.dataType, zt.data)[0] : 0, qmin, qmax };
}

/** `intervals` with each layer's bounds moved outward as the module comment says, for the layers `qdq` (the QDQ form) keeps as integer kernels. */
export function requantizedIntervals(qdq: Model, intervals: Intervals): Intervals {
  const g = qdq.graph;
  const readers = consumers(g);
  const out: Intervals = new Map(intervals);
  for (const site of layerSites(qdq)) {
    const iv = intervals.get(site.name);
    if (!iv) continue;
    const q = soleQuantize(g, readers, site.tap);
    if (!q) {
      // a float output (the logits): the fused kernel's sum and the profiled float sum differ by rounding
      const slack = (x: number): number => FLOAT_SLACK * Math.abs(x);
      out.set(site.name, { lower: Float32Array.from(iv.lower, (x) => x - slack(x)), upper: Float32Array.from(iv.upper, (x) => x + slack(x)) });
      continue;
    }
    const clamp = (k: number): number => Math.min(q.qmax, Math.max(q.qmin, k));
    const lower = Float32Array.from(iv.lower, (x) => (Number.isFinite(x) ? Math.fround((clamp(Math.floor(x / q.s) + q.z) - q.z - 1.5) * q.s) : x));
    const upper = Float32Array.from(iv.upper, (x) => (Number.isFinite(x) ? Math.fround((clamp(Math.ceil(x / q.s) + q.z) - q.z + 1.5) * q.s) : x));
    out.set(site.name, { lower, upper });
  }
  return out;
}

/**
 * `hardened` (hardened from the QDQ form `qdq`) with a QuantizeLinear → DequantizeLinear between
 * each of `layers`' conv and its stage, as the module comment says. Layers whose conv still writes
 * its own output (no stage: tmr-weights, tmr-bits) are left as they are.
 */
export function requantizeStages(qdq: Model, hardened: Model, layers: readonly string[]): Model {
  const before = qdq.graph;
  const beforeReaders = consumers(before);
  // grouped convs keep their copies in a second conv (layers.ts): left in float
  const taps = new Map(layerSites(qdq).filter((s) => s.group === 1 && layers.includes(s.name)).map((s) => [s.name, { tap: s.tap, q: soleQuantize(before, beforeReaders, s.tap) }]));
  const g = hardened.graph;
  const made = producers(g);
  const used = new NameScope([...g.initializers.keys(), ...g.nodes.flatMap((n) => [n.name, ...n.outputs])]);
  const fresh = (base: string): string => used.variant(base, dotted);
  const renames = new Map<string, string>(); // widened conv output → its requantized value
  const extra = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    const t = taps.get(n.name);
    if (!t?.q || n.outputs[0] === t.tap || made.get(t.tap) === n) continue;
    const y = n.outputs[0];
    const qv = fresh(`${y}.q`), dv = fresh(`${y}.dq`);
    const params = t.q.zero ? [t.q.scale, t.q.zero] : [t.q.scale];
    extra.set(n, [
      { name: fresh(`${n.name}.requantize`), opType: 'QuantizeLinear', domain: '', inputs: [y, ...params], outputs: [qv], attributes: {} },
      { name: fresh(`${n.name}.dequantize`), opType: 'DequantizeLinear', domain: '', inputs: [qv, ...params], outputs: [dv], attributes: {} },
    ]);
    renames.set(y, dv);
  }
  if (!renames.size) return hardened;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    nodes.push(n.inputs.some((i) => renames.has(i)) ? { ...n, inputs: n.inputs.map((i) => renames.get(i) ?? i) } : n);
    nodes.push(...(extra.get(n) ?? []));
  }
  return { ...hardened, graph: { ...g, nodes } };
}
