/**
 * Rewrites a model to default-domain opset ≥ 17 so that gradient nodes and transforms (written for
 * opset 17: ReduceSum, Split, Squeeze and Unsqueeze take axes/sizes as inputs) can live in the same
 * graph — the documented attribute → input rewrites, so opsets 7–21 are all accepted.
 * Only the ops whose meaning changed between the model's opset and 17 are rewritten; the values
 * they produce keep their names, so every value of the original graph still exists.
 */
import { FlipguardError } from '../errors.js';
import { A, GraphBuilder, attrFloat, attrInt, attrInts } from './builder.js';
import { analyzeShapes } from './shapes.js';
import { defaultOpset, type Model, type Node } from './types.js';

/** Opset the gradient nodes are written for (and that transforms upgrade older models to). */
export const GRADIENT_OPSET = 17;

/** The one line a user sees when a model was upgraded in-graph from opset `from` to `to`. */
export function upgradeNotice(from: number, to: number): string {
  return `The model uses ONNX opset ${from}; flipguard rewrote it in-graph to opset ${to} (newer operator forms, same outputs) before transforming it.`;
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * A copy of `model` whose default-domain opset is max(its opset, 17), with Softmax/LogSoftmax
 * (before 13: flatten-to-2-D semantics), Split/Squeeze/Unsqueeze/ReduceSum (before 13: attributes), Clip (before
 * 11: attributes), Pad (before 11) and Slice (before 10) rewritten to the opset-17 form, and
 * attributes later opsets removed (Dropout's ratio, BatchNormalization's spatial/is_test, Gemm's
 * broadcast) dropped. The input model is not changed.
 */
export function upgradeOpset(model: Model): Model {
  const from = defaultOpset(model);
  if (from < 7) {
    throw new FlipguardError(`The model uses ONNX opset ${from}; differentiation needs opset 7 or later — re-export the model with opset 13 or later.`);
  }
  const to = Math.max(from, GRADIENT_OPSET);
  const opsetImports = model.opsetImports.some((o) => o.domain === '' || o.domain === 'ai.onnx')
    ? model.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { ...o, version: to } : o))
    : [...model.opsetImports, { domain: '', version: to }];
  const irVersion = Math.max(model.irVersion, 8);
  if (from >= 13) return { ...model, irVersion, opsetImports };

  const g = model.graph;
  const ranks = new Map<string, number>();
  if (g.nodes.some((n) => n.opType === 'Softmax' || n.opType === 'LogSoftmax')) {
    for (const [k, v] of analyzeShapes(model, { batch: 1 }).shapes) ranks.set(k, v.length);
  }
  const b = new GraphBuilder(g.name, { ...g, nodes: [] });
  for (const n of g.nodes) b.fresh(n.name || n.opType);
  for (const n of g.nodes) for (const o of n.outputs) b.fresh(o);
  for (const n of g.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') { b.nodes.push(n); continue; }
    upgradeNode(b, n, from, ranks);
  }
  return { ...model, irVersion, opsetImports, graph: { ...g, nodes: b.nodes, initializers: b.initializers } };
}

function withAttrs(n: Node, drop: string[], inputs?: string[]): Node {
  const attributes = { ...n.attributes };
  for (const k of drop) delete attributes[k];
  return { ...n, inputs: inputs ?? [...n.inputs], outputs: [...n.outputs], attributes };
}

function upgradeNode(b: GraphBuilder, n: Node, from: number, ranks: Map<string, number>): void {
  const push = (m: Node) => b.nodes.push(m);
  switch (n.opType) {
    case 'Softmax':
    case 'LogSoftmax': {
      // before 13: the input is flattened to 2-D at `axis` (default 1) and normalised over the second part
      const rank = ranks.get(n.inputs[0]) ?? 2;
      let axis = attrInt(n, 'axis', 1);
      if (axis < 0) axis += rank;
      if (axis === rank - 1) { push({ ...withAttrs(n, []), attributes: { ...n.attributes, axis: A.i(-1) } }); return; }
      const flat = b.op('Flatten', [n.inputs[0]], { axis: A.i(axis) }, `${n.name || n.opType}_flatten`);
      const sm = b.op(n.opType, [flat], { axis: A.i(1) }, n.name || n.opType);
      const shape = b.op('Shape', [n.inputs[0]], {}, `${n.name || n.opType}_shape`);
      b.node('Reshape', [sm, shape], {}, { name: `${n.name || n.opType}_reshape`, outputs: [n.outputs[0]] });
      return;
    }
    case 'Split': {
      if (from >= 13) break;
      const split = attrInts(n, 'split');
      push(withAttrs(n, ['split'], split ? [n.inputs[0], b.ints('split', split)] : [n.inputs[0]]));
      return;
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      if (from >= 13) break;
      const axes = attrInts(n, 'axes');
      push(withAttrs(n, ['axes'], axes ? [n.inputs[0], b.ints('axes', axes)] : [n.inputs[0]]));
      return;
    }
    case 'ReduceSum': {
      // before 13 the axes were an attribute (no axes: every axis, which the input form also means)
      if (from >= 13) break;
      const axes = attrInts(n, 'axes');
      push(withAttrs(n, ['axes'], axes ? [n.inputs[0], b.ints('axes', axes)] : [n.inputs[0]]));
      return;
    }
    case 'Clip': {
      if (from >= 11) break;
      const lo = b.init('clip_min', [], new Float32Array([attrFloat(n, 'min', -FLT_MAX)]));
      const hi = b.init('clip_max', [], new Float32Array([attrFloat(n, 'max', FLT_MAX)]));
      push(withAttrs(n, ['min', 'max'], [n.inputs[0], lo, hi]));
      return;
    }
    case 'Pad': {
      if (from >= 11) break;
      const pads = attrInts(n, 'pads') ?? attrInts(n, 'paddings') ?? [];
      const value = b.init('pad_value', [], new Float32Array([attrFloat(n, 'value', 0)]));
      push(withAttrs(n, ['pads', 'paddings', 'value'], [n.inputs[0], b.ints('pads', pads), value]));
      return;
    }
    case 'Slice': {
      if (from >= 10) break;
      const starts = attrInts(n, 'starts') ?? [];
      const ends = attrInts(n, 'ends') ?? [];
      const axes = attrInts(n, 'axes');
      const ins = [n.inputs[0], b.ints('starts', starts), b.ints('ends', ends)];
      if (axes) ins.push(b.ints('axes', axes));
      push(withAttrs(n, ['starts', 'ends', 'axes'], ins));
      return;
    }
    case 'Dropout': {
      // before 12 the ratio was an attribute (and is_test before 7); at inference it is the identity
      if (from >= 12) break;
      push(withAttrs(n, ['ratio', 'is_test', 'seed'], [n.inputs[0]]));
      return;
    }
    case 'BatchNormalization':
      push(withAttrs(n, ['spatial', 'is_test', 'consumed_inputs']));
      return;
    case 'Gemm':
      push(withAttrs(n, ['broadcast']));
      return;
    case 'Reshape':
      if (from < 5 && attrInts(n, 'shape')) {
        push(withAttrs(n, ['shape'], [n.inputs[0], b.ints('shape', attrInts(n, 'shape')!)]));
        return;
      }
      break;
  }
  push(n);
}
