/**
 * Static shape inference: the concrete shape of every value in a graph for a given batch size
 * (each op's rule lives in its registry record, graph/ops/<Op>.ts; shared machinery in ops/shape-kit.ts),
 * following ONNX operator semantics for each supported opset (attributes that later opsets turned
 * into inputs are read from wherever the node's opset keeps them). Small constant tensors —
 * initializers, Constant nodes and the integer arithmetic exporters put around Reshape
 * (Shape → Gather → Unsqueeze → Concat → Reshape) — are folded so that shapes computed inside the
 * graph resolve to numbers.
 *
 * Where onnxruntime (the runtime flipguard uses) differs from the ONNX text, onnxruntime is
 * followed, and the difference is noted at the rule.
 */
import { FlipguardError } from '../errors.js';
import { isSupportedOp, unsupportedOpError } from './ops.js';
import { opRecord } from './ops/index.js';
import { addTensor, NodeCtx, topoOrder, type Env } from './ops/shape-kit.js';
import { DataType, defaultOpset, type DataTypeCode, type Model } from './types.js';

export { broadcastShapes, FLOAT_FOLD_LIMIT, FOLD_LIMIT } from './ops/shape-kit.js';

export interface ShapeOptions {
  /**
   * Batch size (images) substituted for a symbolic or unknown first dimension of a graph input;
   * default 1. A first dimension the model fixes keeps its value.
   */
  batch?: number;
  /** Full shapes for named graph inputs, replacing what the model declares. */
  inputShapes?: Record<string, number[]>;
}

/** Everything shape inference learns about a graph's values, keyed by value name. */
export interface ShapeAnalysis {
  /** Concrete shape (dimension sizes, in elements) of every graph input, initializer and node output. */
  shapes: Map<string, number[]>;
  /** ONNX element type code of every value. */
  types: Map<string, DataTypeCode>;
  /**
   * Values of the small constant tensors known before running the graph, flattened in row-major
   * order as JavaScript numbers (int64 values beyond 2^53 lose precision). Covers integer tensors
   * up to FOLD_LIMIT elements and floating-point ones up to FLOAT_FOLD_LIMIT elements.
   */
  values: Map<string, number[]>;
}


/**
 * The concrete shape of every value (graph inputs, initializers, every node output) for a batch
 * of `opts.batch` images (default 1). Throws a FlipguardError naming the node when a shape cannot
 * be determined or the model is inconsistent (e.g. shapes that do not broadcast).
 */
export function inferShapes(model: Model, opts: ShapeOptions = {}): Map<string, number[]> {
  return analyzeShapes(model, opts).shapes;
}

/**
 * The folded constant values (see ShapeAnalysis.values), e.g. the target shape a Reshape receives
 * from a Shape → Gather → Concat chain, for a batch of `opts.batch` images.
 */
export function inferValues(model: Model, opts: ShapeOptions = {}): Map<string, number[]> {
  return analyzeShapes(model, opts).values;
}

/** Shapes, element types and folded constant values of every value of the model's graph. */
export function analyzeShapes(model: Model, opts: ShapeOptions = {}): ShapeAnalysis {
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new FlipguardError(`The batch size must be a whole number ≥ 1, got ${batch}.`);
  }
  const env: Env = { shapes: new Map(), types: new Map(), values: new Map(), opset: defaultOpset(model) };
  const g = model.graph;
  for (const t of g.initializers.values()) addTensor(env, t.name, t);
  for (const inp of g.inputs) {
    const override = opts.inputShapes?.[inp.name];
    let dims: number[];
    if (override) {
      if (!override.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new FlipguardError(`The shape given for input "${inp.name}" ([${override.join(', ')}]) must hold whole numbers ≥ 0; fix the input shape option.`);
      }
      dims = [...override];
    } else {
      if (!inp.shape) {
        throw new FlipguardError(`Graph input "${inp.name}" declares no shape; re-export the model with input shapes or pass the input's shape explicitly.`);
      }
      dims = inp.shape.map((d, i) => {
        if (typeof d === 'number' && d > 0) return d;
        if (i === 0) return batch;
        throw new FlipguardError(`Graph input "${inp.name}" has no fixed size in dimension ${i} (${d === null ? 'unknown' : `"${d}"`}); re-export the model with a fixed input size (only the batch dimension may vary).`);
      });
    }
    env.shapes.set(inp.name, dims);
    env.types.set(inp.name, inp.elemType ?? DataType.FLOAT);
  }
  for (const node of topoOrder(g, env)) {
    if (!isSupportedOp(node)) throw unsupportedOpError(node);
    const rule = opRecord(node.opType)?.shape;
    if (!rule) throw unsupportedOpError(node);
    const c = new NodeCtx(node, env);
    rule(c);
    for (const o of node.outputs) {
      if (o && !env.shapes.has(o)) throw c.fail(`has an output "${o}" that this op does not produce`, 'remove the extra output from the model');
    }
  }
  return { shapes: env.shapes, types: env.types, values: env.values };
}

