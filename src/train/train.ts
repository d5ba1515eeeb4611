/**
 * The training loop: a gradient graph (our autodiff, run by onnxruntime) gives the loss and the
 * parameter gradients of a batch; a JavaScript optimizer updates the parameter vectors; batch-norm
 * running statistics come back from the graph (training-mode BatchNormalization outputs).
 */
import { refuseStoredFormats } from '../formats/dequantize.js';
import { FlipguardError, opt } from '../errors.js';
import { gradientGraph } from '../autodiff/index.js';
import { A, copyGraph } from '../graph/builder.js';
import { DataType, type Model, type Tensor } from '../graph/types.js';
import { ModelRunner, dataInput, type RuntimeOptions } from '../runtime/session.js';
import { argmaxRows, countCorrect, DEFAULT_BATCH, predict, type ImageSet } from '../runtime/evaluate.js';
import { int64Tensor } from '../runtime/batched.js';
import { batches } from '../data/index.js';
import { augmentBatch, type AugmentOptions } from '../data/augment.js';
import { Rng } from '../util/rng.js';
import type { Dataset } from '../data/index.js';
import { createOptimizer, defaultLr, scheduledLr, type OptimizerOptions, type ScheduleOptions } from './optim.js';
import { DEFAULT_SAMPLE_SEED, DEFAULT_TRAIN_BATCH } from '../defaults.js';

export interface TrainOptions extends OptimizerOptions, ScheduleOptions, RuntimeOptions {
  epochs: number;
  /** Images per step (default DEFAULT_TRAIN_BATCH, 64). */
  batch?: number;
  /** Seed for shuffling and dropout (default 0). */
  seed?: number;
  /** Evaluated after every epoch; the best epoch's parameters are returned. */
  evalData?: ImageSet;
  /** Batch-norm momentum in PyTorch's convention (default 0.1: running ← 0.9·running + 0.1·batch). */
  bnMomentum?: number;
  /** Called after every step and epoch. */
  onProgress?: (p: TrainProgress) => void;
  /** Training-time augmentation (random shifts, flips); default none. */
  augment?: AugmentOptions;
  /** Stop after this many steps per epoch (for quick runs and tests). */
  maxStepsPerEpoch?: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Images seen in this epoch. */
  seen: number;
  perEpoch: number;
  loss: number;
  /** Training accuracy over the epoch so far, [0, 1]. */
  accuracy: number;
  imagesPerSecond: number;
  /** Evaluation accuracy at the end of an epoch. */
  evalAccuracy?: number;
  epochDone?: boolean;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  evalAccuracy?: number;
  seconds: number;
}

export interface TrainResult {
  /** The model with the best (or last, without evalData) parameters. */
  model: Model;
  history: EpochRecord[];
  bestEpoch: number;
  bestAccuracy?: number;
  imagesPerSecond: number;
}

/** Names of parameters the optimizer updates: float initializers except batch-norm running stats. */
export function trainableParameters(model: Model): { trainable: string[]; runningStats: { mean: string; variance: string; node: string }[] } {
  const stats: { mean: string; variance: string; node: string }[] = [];
  const statNames = new Set<string>();
  for (const n of model.graph.nodes) {
    if (n.opType === 'BatchNormalization') {
      stats.push({ mean: n.inputs[3], variance: n.inputs[4], node: n.name });
      statNames.add(n.inputs[3]); statNames.add(n.inputs[4]);
    }
  }
  const trainable = [...model.graph.initializers.values()]
    .filter((t) => t.dataType === DataType.FLOAT && !statNames.has(t.name) && usedAsParameter(model, t.name))
    .map((t) => t.name);
  return { trainable, runningStats: stats };
}

function usedAsParameter(model: Model, name: string): boolean {
  // shape/axes constants are integer tensors; float initializers feeding compute ops are parameters
  return model.graph.nodes.some((n) => n.inputs.includes(name));
}

/**
 * The forward graph in training mode: BatchNormalization uses batch statistics and outputs the
 * updated running statistics; Dropout is active. Returns the model and the running-stat outputs.
 */
export function trainingGraph(model: Model, opts: { bnMomentum?: number; seed?: number } = {}): { model: Model; statOutputs: Map<string, string> } {
  const g = copyGraph(model.graph);
  const statOutputs = new Map<string, string>();
  const momentum = 1 - (opts.bnMomentum ?? 0.1);
  const extraOutputs: { name: string }[] = [];
  const newInits = new Map(g.initializers);
  for (const n of g.nodes) {
    if (n.opType === 'BatchNormalization') {
      n.attributes = { ...n.attributes, training_mode: A.i(1), momentum: A.f(momentum) };
      delete n.attributes.spatial;
      delete n.attributes.is_test;
      const rm = `${n.name || n.outputs[0]}__running_mean_out`;
      const rv = `${n.name || n.outputs[0]}__running_var_out`;
      n.outputs = [n.outputs[0], rm, rv];
      statOutputs.set(n.inputs[3], rm);
      statOutputs.set(n.inputs[4], rv);
      extraOutputs.push({ name: rm }, { name: rv });
    } else if (n.opType === 'Dropout') {
      const ratio = n.inputs[1] || (() => { const r = `${n.name}__ratio`; newInits.set(r, { name: r, dataType: DataType.FLOAT, dims: [], data: new Float32Array([attrRatio(n)]) }); return r; })();
      const tm = `${n.name}__training_mode`;
      newInits.set(tm, { name: tm, dataType: DataType.BOOL, dims: [], data: new Uint8Array([1]) });
      n.inputs = [n.inputs[0], ratio, tm];
      n.attributes = { ...n.attributes, seed: A.i(opts.seed ?? DEFAULT_SAMPLE_SEED) };
      delete n.attributes.ratio;
      delete n.attributes.is_test;
    }
  }
  const opset = Math.max(15, model.opsetImports.find((o) => o.domain === '')?.version ?? 15);
  const out: Model = {
    ...model,
    opsetImports: model.opsetImports.map((o) => (o.domain === '' ? { ...o, version: opset } : o)),
    graph: { ...g, initializers: newInits, outputs: [...g.outputs, ...extraOutputs] },
  };
  return { model: out, statOutputs };
}

function attrRatio(n: { attributes: Record<string, { type: string; value: unknown }> }): number {
  const a = n.attributes.ratio;
  return a && typeof a.value === 'number' ? a.value : 0.5;
}

/** Returns a copy of `model` whose initializers are replaced by `params` where named. */
export function withParameters(model: Model, params: ReadonlyMap<string, Float32Array>): Model {
  const inits = new Map<string, Tensor>();
  for (const [k, t] of model.graph.initializers) {
    const p = params.get(k);
    inits.set(k, p ? { ...t, data: p.slice() } : t);
  }
  return { ...model, graph: { ...model.graph, initializers: inits } };
}

/**
 * Trains `model` on `data` (cross-entropy on the model's logits output). The input model is not
 * modified; the result holds the best epoch's parameters when `evalData` is given.
 */
export async function train(model: Model, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  refuseStoredFormats(model, 'train');
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new FlipguardError(`The ${opt('epochs')} must be a whole number ≥ 1, got ${opts.epochs}.`);
  const batch = opts.batch ?? DEFAULT_TRAIN_BATCH;
  if (!Number.isInteger(batch) || batch < 1) throw new FlipguardError(`The ${opt('batch')} must be a whole number ≥ 1, got ${batch}.`);
  const shift = opts.augment?.shift ?? 0;
  // a negative shift would index outside the image; a huge one only blanks it (pixels)
  if (!Number.isInteger(shift) || shift < 0) throw new FlipguardError(`The ${opt('augment')} shift must be a whole number of pixels ≥ 0, got ${shift}.`);
  const optimizerName = opts.optimizer ?? 'sgd';
  const baseLr = opts.lr ?? defaultLr(optimizerName);
  if (!(baseLr > 0)) throw new FlipguardError(`The ${opt('lr')} must be a number > 0, got ${baseLr}.`);
  const seed = opts.seed ?? DEFAULT_SAMPLE_SEED;

  const { trainable, runningStats } = trainableParameters(model);
  const { model: trainModel, statOutputs } = trainingGraph(model, { bnMomentum: opts.bnMomentum, seed });
  const grad = gradientGraph(trainModel, { loss: 'cross_entropy', wrt: trainable, paramsAsInputs: true, keepOutputs: true });
  const gm = grad.model;
  const labelsInput = grad.labelsInput ?? 'labels';
  const lossName = grad.lossOutput ?? 'loss';
  const logitsName = model.graph.outputs[0].name;

  const params = new Map<string, Float32Array>();
  for (const n of trainable) params.set(n, (model.graph.initializers.get(n)!.data as Float32Array).slice());
  const stats = new Map<string, Float32Array>();
  for (const s of runningStats) {
    stats.set(s.mean, (model.graph.initializers.get(s.mean)!.data as Float32Array).slice());
    stats.set(s.variance, (model.graph.initializers.get(s.variance)!.data as Float32Array).slice());
  }
  const statInputs = [...stats.keys()];
  // the running statistics are fed as inputs too, so the updated ones can be fed back
  const session = await ModelRunner.create(gm, { ...opts, input: dataInput(model).name, swappable: statInputs.filter((n) => gm.graph.initializers.has(n)), outputs: [lossName, logitsName, ...grad.gradOutputs.values(), ...statOutputs.values()] });
  const optimizer = createOptimizer(opts, (name) => (model.graph.initializers.get(name)?.dims.length ?? 0) >= 2);
  const evalRunner = opts.evalData ? await ModelRunner.create(model, { ...opts, swappable: [...params.keys(), ...stats.keys()] }) : undefined;

  const history: EpochRecord[] = [];
  let best: { epoch: number; acc: number; params: Map<string, Float32Array> } | undefined;
  const perImage = data.shape.reduce((a, b) => a * b, 1);
  let totalImages = 0;
  const augRng = new Rng(Rng.derive('augment', seed));
  const tStart = performance.now();
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const t0 = performance.now();
      let seen = 0, lossSum = 0, correct = 0, steps = 0;
      const perEpoch = opts.maxStepsPerEpoch ? Math.min(data.count, opts.maxStepsPerEpoch * batch) : data.count;
      for (const b of batches(data, batch, { shuffleSeed: seed * 1000003 + epoch })) {
        if (opts.maxStepsPerEpoch && steps >= opts.maxStepsPerEpoch) break;
        const lr = scheduledLr(baseLr, epoch + seen / data.count, opts.epochs, opts);
        const feeds = new Map<string, Float32Array>([...params, ...stats]);
        const labels = int64Tensor(b.y, [b.count]);
        const xb = opts.augment ? augmentBatch(b.x, b.count, data.shape, opts.augment, augRng) : b.x;
        const out = await session.runFeeds(xb.subarray(0, b.count * perImage), [b.count, ...data.shape], feeds, { [labelsInput]: labels });
        const loss = Number((out[lossName].data as Float32Array)[0]);
        if (!Number.isFinite(loss)) throw new FlipguardError(`Training diverged at epoch ${epoch + 1} (loss ${loss}); lower ${opt('lr')}.`);
        const grads = new Map<string, Float32Array>();
        for (const [p, gname] of grad.gradOutputs) grads.set(p, out[gname].data as Float32Array);
        optimizer.step(params, grads, lr);
        for (const [statIn, statOut] of statOutputs) stats.set(statIn, (out[statOut].data as Float32Array).slice());
        const logits = out[logitsName].data as Float32Array;
        const top1 = new Int32Array(b.count);
        argmaxRows(logits, b.count, logits.length / b.count, top1);
        correct += countCorrect(top1, b.y);
        lossSum += loss * b.count;
        seen += b.count;
        totalImages += b.count;
        steps++;
        opts.onProgress?.({ epoch: epoch + 1, epochs: opts.epochs, seen, perEpoch, loss: lossSum / seen, accuracy: correct / seen, imagesPerSecond: totalImages / ((performance.now() - tStart) / 1000) });
      }
      let evalAccuracy: number | undefined;
      if (evalRunner && opts.evalData) {
        const pred = await predict(evalRunner, opts.evalData, { batch: DEFAULT_BATCH, params: new Map([...params, ...stats]) });
        evalAccuracy = countCorrect(pred.top1, opts.evalData.y) / opts.evalData.count;
        if (!best || evalAccuracy > best.acc) best = { epoch: epoch + 1, acc: evalAccuracy, params: new Map([...params, ...stats].map(([k, v]) => [k, v.slice()])) };
      }
      const rec: EpochRecord = { epoch: epoch + 1, loss: lossSum / Math.max(seen, 1), trainAccuracy: correct / Math.max(seen, 1), evalAccuracy, seconds: (performance.now() - t0) / 1000 };
      history.push(rec);
      opts.onProgress?.({ epoch: epoch + 1, epochs: opts.epochs, seen, perEpoch, loss: rec.loss, accuracy: rec.trainAccuracy, imagesPerSecond: totalImages / ((performance.now() - tStart) / 1000), evalAccuracy, epochDone: true });
    }
  } finally {
    await session.release();
    await evalRunner?.release();
  }
  const finalParams = best?.params ?? new Map([...params, ...stats]);
  return {
    model: withParameters(model, finalParams),
    history,
    bestEpoch: best?.epoch ?? opts.epochs,
    bestAccuracy: best?.acc,
    imagesPerSecond: totalImages / ((performance.now() - tStart) / 1000),
  };
}
