/**
 * Where onnxruntime computes a native float16 graph in float32, kept the same in the hardened graph.
 *
 * onnxruntime's CPU provider has float16 kernels for few operators (Cast, Clip, Concat, the data
 * movement ops, …). A float16 node without one is computed in float32 between Casts it inserts
 * (and it drops the float32 → float16 → float32 round trips between such nodes). A node WITH one
 * is computed in float32 as well when every float16 value it reads comes from a node of the first
 * kind and every one it writes goes to such nodes (an "isolated" float16 node: two roundings saved).
 * A hardening stage or copy puts flipguard's own Casts next to model nodes, and a Cast has a
 * float16 kernel: a neighbour that was isolated in the original is then computed in float16, from
 * and to rounded values, and the logits change in their last bits (measured: the ReLU6 Clip behind
 * a batch norm whose output the grouped copies of the next depthwise conv read; 2 of 320 logits).
 *
 * `float32Nodes` asks onnxruntime which nodes it computes in float32 (the graph it runs, read back):
 * those whose float16 inputs or outputs it replaced by float32 values. `keepFloat32Nodes` writes
 * each node the original computes in float32 and the hardened model would compute in float16 out
 * in float32 (its float16 inputs cast up, its float16 outputs cast down under their names: exact,
 * onnxruntime does the same), and refuses a model where that does not make the two agree.
 */
import { FlipguardError, opt } from '../errors.js';
import { A, producers } from '../graph/builder.js';
import { computeLayers } from '../graph/layers.js';
import { NameScope } from '../graph/editor.js';
import { decodeModel } from '../graph/onnx.js';
import { DataType, type Model, type Node } from '../graph/types.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { optimizedModelBytes } from '../runtime/timing.js';
import { HARDEN_TAG } from './graph-edit.js';
import { COPY_TAG } from './layers.js';
import { skipHalfRoundTrips } from './stages.js';

/** Which inputs and outputs (by position) of a node onnxruntime replaced by float32 values. */
export interface Float32Slots { inputs: boolean[]; outputs: boolean[] }

/**
 * The nodes of `model` (by name; unnamed and repeated names are left out, and Casts) that
 * onnxruntime computes in float32 with runtime `runtime`, with the slots it cast.
 */
export async function float32Nodes(model: Model, runtime: RuntimeOptions): Promise<Map<string, Float32Slots>> {
  const ran = decodeModel(await optimizedModelBytes(model, runtime), 'the optimized model').graph;
  const count = new Map<string, number>();
  for (const n of model.graph.nodes) count.set(n.name, (count.get(n.name) ?? 0) + 1);
  const byName = new Map(model.graph.nodes.filter((n) => n.name && count.get(n.name) === 1 && n.opType !== 'Cast').map((n) => [n.name, n] as const));
  const out = new Map<string, Float32Slots>();
  for (const r of ran.nodes) {
    const n = byName.get(r.name);
    if (!n || n.opType !== r.opType) continue;
    const inputs = n.inputs.map((v, i) => !!v && r.inputs[i] !== v);
    const outputs = n.outputs.map((v, i) => !!v && r.outputs[i] !== v);
    if (inputs.some(Boolean) || outputs.some(Boolean)) out.set(n.name, { inputs, outputs });
  }
  return out;
}

/** The label of the nearest conv/dense layer that node `name` of `model` reads from (through any nodes), if any. */
function layerBefore(model: Model, name: string): string | undefined {
  const layers = new Map(computeLayers(model).map((l) => [l.node, l.label] as const));
  const made = producers(model.graph);
  const seen = new Set<Node>();
  let front = model.graph.nodes.filter((n) => n.name === name);
  while (front.length) {
    const next: Node[] = [];
    for (const n of front) {
      for (const v of n.inputs) {
        const p = made.get(v);
        if (!p || seen.has(p)) continue;
        if (layers.has(p)) return layers.get(p);
        seen.add(p);
        next.push(p);
      }
    }
    front = next;
  }
  return undefined;
}

const ours = (n: Node): boolean => n.docString === HARDEN_TAG || n.docString === COPY_TAG;

/** `m` with the nodes of `slots` computing in float32: Casts (tagged HARDEN_TAG) up before and down after them. */
function inFloat32(m: Model, slots: ReadonlyMap<string, Float32Slots>): Model {
  const scope = NameScope.of(m.graph);
  const cast = (x: string, to: number, out: string): Node => ({ name: scope.fresh(`${out}.cast`), opType: 'Cast', domain: '', inputs: [x], outputs: [out], attributes: { to: A.i(to) }, docString: HARDEN_TAG });
  const nodes: Node[] = [];
  for (const n of m.graph.nodes) {
    const s = slots.get(n.name);
    if (!s || ours(n)) { nodes.push(n); continue; }
    const inputs = n.inputs.map((v, i) => {
      if (!s.inputs[i]) return v;
      const c = cast(v, DataType.FLOAT, scope.fresh(`${v}.float32`));
      nodes.push(c);
      return c.outputs[0];
    });
    const down: Node[] = [];
    const outputs = n.outputs.map((v, i) => {
      if (!s.outputs[i]) return v;
      const inner = scope.fresh(`${v}.float32`);
      down.push(cast(inner, DataType.FLOAT16, v));
      return inner;
    });
    nodes.push({ ...n, inputs, outputs }, ...down);
  }
  return { ...m, graph: skipHalfRoundTrips({ ...m.graph, nodes }) };
}

/**
 * `hardened` with every model node that onnxruntime computes in float32 in `original` also
 * computed in float32 (see the module comment); `runtime` is the level the outputs are compared
 * at. Throws a FlipguardError naming a node onnxruntime computes in float16 in one model and in
 * float32 in the other when that cannot be undone.
 */
export async function keepFloat32Nodes(original: Model, hardened: Model, runtime: RuntimeOptions): Promise<Model> {
  const want = await float32Nodes(original, runtime);
  const forced = new Map<string, Float32Slots>();
  for (let round = 0; ; round++) {
    const got = await float32Nodes(hardened, runtime);
    const model = hardened.graph.nodes.filter((n) => !ours(n) && want.has(n.name) !== (got.has(n.name) || forced.has(n.name)));
    if (!model.length) return hardened;
    const half = model.find((n) => !want.has(n.name));
    if (half || round === 2) {
      const n = half ?? model[0];
      const layer = layerBefore(original, n.name);
      throw new FlipguardError(`onnxruntime computes node "${n.name}" (${n.opType}${layer ? `, behind layer "${layer}"` : ''}) of this native float16 model in ${half ? 'float16' : 'float32'}, but next to the hardening stages in ${half ? 'float32' : 'float16'}, so the hardened model would not keep the outputs bit for bit; harden the model converted to float16 without ${opt('native')} (float16 words computed in float32) instead.`);
    }
    const add = new Map(model.map((n) => [n.name, want.get(n.name)!] as const));
    for (const [k, v] of add) forced.set(k, v);
    hardened = inFloat32(hardened, add);
  }
}
