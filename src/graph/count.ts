/**
 * Parameter, storage and multiply-accumulate (MAC) counts of a model, per layer and in total, and
 * the list of parameter tensors with the layer and role each one plays (what fault injection
 * targets).
 *
 * Conventions:
 * - A parameter is one element of a floating-point initializer (float32, float64, float16,
 *   bfloat16), of an int8/uint8 initializer (quantized weights, zero points), or of an int32
 *   initializer read by a quantization op (quantized biases). Other integer initializers (shapes,
 *   axes, indices) are stored but are not parameters. Tracing looks through DequantizeLinear from
 *   every input, so a quantized weight, its scale and its zero point belong to the layer using it.
 *   Values held in Constant nodes are neither parameters nor stored bytes.
 * - Each parameter tensor belongs to one layer: the first node in graph order that computes with
 *   it, reached from the initializer through pass-through ops (Identity, Transpose, Reshape, Cast,
 *   Unsqueeze, Squeeze, Flatten). Shared tensors are counted once, at that first layer.
 * - When that first node is part of a constant subgraph (every input an initializer, a Constant or
 *   computed from those only — e.g. tmr-weights' vote, which merges three stored copies of a
 *   weight with Gather/Equal/Where/GatherElements/ScatterElements/… into the weight a Conv reads),
 *   the tensor is traced on through that subgraph to where its data enters the computation on the
 *   input: the Conv/ConvTranspose/Gemm/MatMul/BatchNormalization it arrives at, or the first node
 *   that mixes it with non-constant values. Its layer and role are taken there, so a replica is the
 *   'weight' of the layer it protects.
 * - MACs are multiply-accumulates per image of Conv, ConvTranspose, Gemm and MatMul only (bias
 *   additions, batch normalisation, pooling and activations count 0):
 *   Conv = Cout·H_out·W_out·(Cin/group)·kh·kw, ConvTranspose = Cin·H_in·W_in·(Cout/group)·kh·kw,
 *   Gemm/MatMul = M·K·N (per image: the counts at batch 1 — or at the model's fixed batch size,
 *   divided by it).
 * - Batch normalisation has 4 parameter tensors (scale, bias, mean, variance), all counted.
 */
import { consumers, producers } from './builder.js';
import { elementSize, isFloatType, numel } from './dtype.js';
import { opRecord, opSet } from './ops/index.js';
import { inferShapes } from './shapes.js';
import { nodeLabel } from './layers.js';
import { DataType, type DataTypeCode, type Model, type Node } from './types.js';

export type { ParameterRole } from './ops/types.js';
import type { ParameterRole } from './ops/types.js';

/** A floating-point initializer and how the graph uses it. */
export interface ParameterTensor {
  /** Initializer name. */
  name: string;
  /** Op type of the first compute node using it ("" when no node uses it). */
  op: string;
  /** Name of that node ("" when unused). */
  node: string;
  /** Names of every compute node using it, in graph order. */
  nodes: string[];
  /** What the tensor is to that first node (Conv/Gemm/MatMul weight, bias, batch-norm statistic…). */
  role: ParameterRole;
  /** ONNX element type code. */
  dataType: DataTypeCode;
  dims: number[];
  /** Number of elements (parameters). */
  numel: number;
}

/** Ops that only move or re-type a tensor; parameter tracing looks through them (data input 0). */
const PASS_THROUGH = opSet((r) => !!r.movesData);
/** Layers with MACs (Conv, ConvTranspose, Gemm, MatMul): an Add after one adds its bias. */
const LINEAR = opSet((r) => !!r.macs);
/** Ops that own parameters: constant-subgraph tracing stops at them. */
const COMPUTE = opSet((r) => !!r.ownsParameters);

/** The role of a tensor fed as input `idx` of `node`. */
function roleOf(node: Node, idx: number, prod: Map<string, Node>): ParameterRole {
  const roles = opRecord(node.opType)?.inputRoles;
  if (roles) return roles[idx] ?? 'other';
  switch (node.opType) {
    case 'Add': {
      // a bias when added to the output of a linear layer (e.g. PyTorch's MatMul + Add)
      let other = node.inputs[1 - idx];
      let p = other ? prod.get(other) : undefined;
      while (p && PASS_THROUGH.has(p.opType)) { other = p.inputs[0]; p = prod.get(other); }
      return p && LINEAR.has(p.opType) ? 'bias' : 'other';
    }
    default:
      return 'other';
  }
}

/**
 * Every floating-point initializer, in file order, with the first compute node using it (traced
 * through Identity/Transpose/Reshape/Cast/Unsqueeze/Squeeze/Flatten, and through constant
 * subgraphs such as tmr-weights' vote — see the module header), its role there, and all compute
 * nodes using it. A tmr-weights replica is thus the 'weight' of the Conv/Gemm it protects.
 */
export function parameterTensors(model: Model, words: ReadonlySet<string> = new Set()): ParameterTensor[] {
  return traceParameters(model, words).map(({ firstIndex: _, ...p }) => p);
}

type Use = { node: Node; idx: number };

/**
 * Names of the values known without any graph input: initializers, Constant outputs, and outputs
 * of nodes whose every (given) input is such a value.
 */
function constantValues(model: Model): Set<string> {
  const g = model.graph;
  const known = new Set<string>(g.initializers.keys());
  const done = new Set<Node>();
  // a pass in graph order settles a topologically sorted graph; repeat for one that is not
  for (let changed = true; changed;) {
    changed = false;
    for (const n of g.nodes) {
      if (done.has(n) || !n.inputs.every((i) => !i || known.has(i))) continue;
      done.add(n);
      changed = true;
      for (const o of n.outputs) if (o) known.add(o);
    }
  }
  return known;
}

/**
 * Where the data of constant value `start` enters the computation: the compute ops (COMPUTE) it
 * reaches through constant nodes, and the nodes mixing it with non-constant values.
 */
function constantArrivals(start: string, cons: Map<string, Node[]>, constant: Set<string>): Use[] {
  const uses: Use[] = [];
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const n of cons.get(v) ?? []) {
      const outs = n.outputs.filter(Boolean);
      if (!COMPUTE.has(n.opType) && outs.length && outs.every((o) => constant.has(o))) { queue.push(...outs); continue; }
      n.inputs.forEach((inp, idx) => { if (inp === v) uses.push({ node: n, idx }); });
    }
  }
  return uses;
}

/** Ops whose integer initializers are stored parameters (int8/uint8 weights, zero points, int32 biases). */
const QUANTIZED = opSet((r) => !!r.quantized);
/** Ops that parameter tracing looks through from every input (DequantizeLinear). */
const DEQUANTIZES = opSet((r) => !!r.dequantizes);

/**
 * Whether initializer `t` is a parameter: any floating-point tensor, int8/uint8 tensors, and int32
 * tensors read by a quantization op (a quantized layer's bias; int32 shapes and indices are not).
 */
function isParameter(t: { name: string; dataType: DataTypeCode }, cons: Map<string, Node[]>): boolean {
  if (isFloatType(t.dataType) || t.dataType === DataType.INT8 || t.dataType === DataType.UINT8) return true;
  return t.dataType === DataType.INT32 && (cons.get(t.name) ?? []).some((n) => QUANTIZED.has(n.opType));
}

function traceParameters(model: Model, words: ReadonlySet<string>): (ParameterTensor & { firstIndex: number })[] {
  const g = model.graph;
  const cons = consumers(g);
  const prod = producers(g);
  const order = new Map<Node, number>();
  g.nodes.forEach((n, i) => order.set(n, i));
  let constant: Set<string> | undefined;
  const byOrder = (a: Use, b: Use) => order.get(a.node)! - order.get(b.node)! || a.idx - b.idx;
  const out: (ParameterTensor & { firstIndex: number })[] = [];
  for (const t of g.initializers.values()) {
    if (!isParameter(t, cons) && !words.has(t.name)) continue;
    let uses: Use[] = [];
    const seen = new Set<string>();
    const queue = [t.name];
    let dequantRole: ParameterRole | undefined; // scale / zero point of a DequantizeLinear traced through
    while (queue.length) {
      const v = queue.shift()!;
      if (seen.has(v)) continue;
      seen.add(v);
      for (const n of cons.get(v) ?? []) {
        n.inputs.forEach((inp, idx) => {
          if (inp !== v) return;
          if (DEQUANTIZES.has(n.opType)) {
            if (idx > 0) dequantRole ??= opRecord(n.opType)?.inputRoles?.[idx];
            queue.push(...n.outputs.filter(Boolean));
          } else if (PASS_THROUGH.has(n.opType) && idx === 0) queue.push(...n.outputs.filter(Boolean));
          else uses.push({ node: n, idx });
        });
      }
    }
    uses.sort(byOrder);
    const head = uses[0]?.node;
    if (head && !COMPUTE.has(head.opType)) {
      // the first use computes a constant (e.g. a vote over stored copies): follow it to the layer
      constant ??= constantValues(model);
      const outs = head.outputs.filter(Boolean);
      if (outs.length && outs.every((o) => constant!.has(o))) {
        const arrivals: Use[] = [];
        for (const u of uses) {
          const uo = u.node.outputs.filter(Boolean);
          if (!COMPUTE.has(u.node.opType) && uo.length && uo.every((o) => constant!.has(o))) {
            for (const o of uo) arrivals.push(...constantArrivals(o, cons, constant!));
          } else arrivals.push(u);
        }
        const dedup = new Map<string, Use>();
        for (const a of arrivals) dedup.set(`${order.get(a.node)}:${a.idx}`, a);
        if (dedup.size) uses = [...dedup.values()].sort(byOrder);
      }
    }
    const nodes: string[] = [];
    for (const u of uses) { const l = nodeLabel(u.node, order.get(u.node)!); if (!nodes.includes(l)) nodes.push(l); }
    const first = uses[0];
    out.push({
      name: t.name,
      op: first ? first.node.opType : '',
      node: first ? nodeLabel(first.node, order.get(first.node)!) : '',
      nodes,
      role: dequantRole ?? (first ? roleOf(first.node, first.idx, prod) : 'other'),
      dataType: t.dataType,
      dims: [...t.dims],
      numel: numel(t.dims),
      firstIndex: first ? order.get(first.node)! : -1,
    });
  }
  return out;
}

export interface LayerCount {
  /** Node name (its first output's name when the node has none). */
  name: string;
  op: string;
  /** Shape of the node's first input at batch 1 (or the model's fixed batch size), in elements. */
  inputShape: number[];
  /** Shape of the node's first output, likewise. */
  outputShape: number[];
  /** Parameters (float initializer elements) belonging to this layer. */
  parameters: number;
  /** Multiply-accumulates per image. */
  macs: number;
}

export interface ModelCount {
  /** Elements of every parameter initializer (float, int8/uint8, quantized int32 biases). */
  parameters: number;
  /** Bytes of all initializers (any element type) as stored, uncompressed. */
  storedBytes: number;
  /** Multiply-accumulates per image, summed over layers. */
  macs: number;
  /** One entry per node that has parameters or MACs, in graph order. */
  layers: LayerCount[];
}

/** MACs of one node for the shapes given (for the whole batch those shapes hold); the op's record says how. */
function nodeMacs(n: Node, shapes: Map<string, number[]>): number {
  return opRecord(n.opType)?.macs?.(n, shapes) ?? 0;
}

/**
 * Parameters, stored bytes and MACs per image of a model, per layer and in total (conventions in
 * this module's header). Throws a FlipguardError when shapes cannot be inferred.
 */
/**
 * The parameters (elements of parameter initializers, plus the stored int32 `words` of a tmr-bits
 * model) and the bytes of every initializer.
 */
export function countStored(model: Model, words: ReadonlySet<string> = new Set()): { parameters: number; storedBytes: number } {
  const g = model.graph;
  const cons = consumers(g);
  let parameters = 0;
  let storedBytes = 0;
  for (const t of g.initializers.values()) {
    const n = numel(t.dims);
    if (isParameter(t, cons) || words.has(t.name)) parameters += n;
    storedBytes += n * elementSize(t.dataType);
  }
  return { parameters, storedBytes };
}

/** Parameters, stored bytes, MACs and layers of `model`; `words`: see countStored. */
export function countModel(model: Model, words: ReadonlySet<string> = new Set()): ModelCount {
  const g = model.graph;
  const shapes = inferShapes(model, { batch: 1 });
  const firstInput = g.inputs[0] ? shapes.get(g.inputs[0].name) : undefined;
  const images = firstInput && firstInput.length > 0 && firstInput[0] > 0 ? firstInput[0] : 1;

  const paramsByNode = new Map<number, number>(); // node index → parameters
  for (const p of traceParameters(model, words)) if (p.firstIndex >= 0) paramsByNode.set(p.firstIndex, (paramsByNode.get(p.firstIndex) ?? 0) + p.numel);

  const { parameters, storedBytes } = countStored(model, words);

  const layers: LayerCount[] = [];
  let macs = 0;
  g.nodes.forEach((n, i) => {
    const name = nodeLabel(n, i);
    const m = nodeMacs(n, shapes) / images;
    const p = paramsByNode.get(i) ?? 0;
    if (m === 0 && p === 0) return;
    macs += m;
    layers.push({
      name, op: n.opType,
      inputShape: [...(shapes.get(n.inputs[0]) ?? [])],
      outputShape: [...(shapes.get(n.outputs[0]) ?? [])],
      parameters: p, macs: m,
    });
  });
  return { parameters, storedBytes, macs, layers };
}
