/**
 * Static shapes, types and folded constants for differentiation: `graph/shapes.ts` on a copy of
 * the model in which ops that module does not know but gradient rules do (the loss ops) are
 * replaced by shape-only stand-ins built from ops it knows. The stand-ins produce the same output
 * names, shapes and types; they exist only in the copy that is analysed.
 */
import { A, attrString } from '../graph/builder.js';
import { analyzeShapes, type ShapeAnalysis, type ShapeOptions } from '../graph/shapes.js';
import { DataType, type Model, type Node } from '../graph/types.js';

/** Shape analysis of `model` at `batch` images (or the given input shapes), with stand-ins for SoftmaxCrossEntropyLoss. */
export function analyzeForGradient(model: Model, batch: number, inputShapes?: ShapeOptions['inputShapes']): ShapeAnalysis {
  const g = model.graph;
  if (!g.nodes.some((n) => n.opType === 'SoftmaxCrossEntropyLoss')) return analyzeShapes(model, { batch, inputShapes });
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  let k = 0;
  const mk = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node =>
    ({ name: `__standin_${k++}`, opType, domain: '', inputs, outputs, attributes });
  for (const n of g.nodes) {
    if (n.opType !== 'SoftmaxCrossEntropyLoss') { nodes.push(n); continue; }
    const [scores, labels] = n.inputs;
    const [loss, logProb] = n.outputs;
    if (loss) {
      if (attrString(n, 'reduction', 'mean') === 'none') nodes.push(mk('Cast', [labels], [loss], { to: A.i(DataType.FLOAT) }));
      else {
        const flat = `${loss}__standin_flat`;
        const idx = `${loss}__standin_index`;
        initializers.set(idx, { name: idx, dataType: DataType.INT64, dims: [], data: new BigInt64Array([0n]) });
        const shape = `${loss}__standin_shape`;
        initializers.set(shape, { name: shape, dataType: DataType.INT64, dims: [1], data: new BigInt64Array([-1n]) });
        nodes.push(mk('Reshape', [scores, shape], [flat]), mk('Gather', [flat, idx], [loss], { axis: A.i(0) }));
      }
    }
    if (logProb) nodes.push(mk('Identity', [scores], [logProb]));
  }
  return analyzeShapes({ ...model, graph: { ...g, nodes, initializers } }, { batch, inputShapes });
}
