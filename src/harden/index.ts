/**
 * Hardening transforms (SPEC §4): one entry point, `harden(model, options)`, returning a new
 * ordinary ONNX model (default-domain ops only, the model's own opset, ≥ 13; the zoo's is 17)
 * whose fault-free outputs equal the original's, whose redundancy (copies, replicas, interval
 * bounds) is stored as initializers that fault injection reaches (copies in the stored format of their original, bounds as float32, or float16 in a native float16 model), and whose metadata
 * `flipguard.hardened` (JSON, see HardenedInfo) tells tools what was done.
 *
 * Methods:
 * - `edac` (paper A): duplicate the top max(1, ⌊r·C⌋) channels of every conv/dense layer (the output
 *   layer entirely) + EDAC layer with detection intervals (cases A–E). edac.ts.
 * - `edac-nointervals`: the same without intervals (a ≠ b → min; other channels only NaN → 0).
 * - `ranger`: intervals only (ratio 0): every channel case E (range restriction, out of range → 0,
 *   or clamped with `rangeMode: 'saturate'`), behind the batch norm (default) or batch norm + ReLU
 *   so onnxruntime keeps its fusions (range.ts), or at the conv output (`placement: 'paper'`, edac.ts).
 * - `foldBn` (any method): batch norm folded into the conv first (analysis/canonize.ts).
 * - `tmr-channels` (paper A's baseline): triplicate the top channels + majority voter. tmr-channels.ts.
 * - `tmr-weights` (paper B): three stored copies of the top p weights, bitwise majority. tmr-weights.ts.
 * - `tmr-neurons` (paper C): triple computation of the top q neurons + voter (median). tmr-neurons.ts.
 * - `tmr-bits` (issue 17): the chosen bit positions (default 30) of every weight (or the top p by a
 *   weight ranking) stored three times as packed bit planes, bitwise majority. tmr-bits.ts.
 *
 * Number formats (issue 15; harden/formats.ts): a model stored as float16/bfloat16 (Cast around
 * the parameters, `convert`) or int8 QDQ (`quantize`) is hardened in its format — every copy is
 * stored like its original (an int8 channel with its per-channel scale and zero point, its int32
 * bias), tmr-weights/tmr-bits vote the format's words, ranger on a QDQ model checks behind the
 * activation's QuantizeLinear → DequantizeLinear — with the same fault-free promises
 * (test/harden-formats.test.ts). A QOperator model's QLinearConv/QLinearMatMul kernels are first
 * rewritten as the QDQ groups onnxruntime fuses back into them (formats/qoperator.ts): the hardened
 * model is written in QDQ form; ConvInteger/MatMulInteger are refused (refuseIntegerKernels).
 * A native float16 model (computing in float16: `convert --native`, `model.half()`) stays native:
 * copies are float16 words read directly, every stage computes in float16 with float16 zeros,
 * bounds (rounded outward) and fill values (LayerSite.dtype), and the voting methods vote the
 * float16 words exactly and give float16 back — fault-free logits bit-identical to the native
 * original's (test/harden-native.test.ts).
 *
 * Fault-free equivalence (asserted on every zoo architecture in test/harden.test.ts):
 * - Channel methods (edac, edac-nointervals, ranger, tmr-channels, tmr-neurons): a widened layer is
 *   one Conv/Gemm node, which computes its original channels bit-identically to the unhardened
 *   layer and every copy bit-identically to its original (checked: onnxruntime's per-channel
 *   arithmetic does not depend on the number of output channels), and the stages only select among
 *   identical values. So with onnxruntime graph optimisations disabled the logits equal the
 *   original's bit for bit — provided every pre-activation value lies inside its detection interval
 *   (interval methods). Intervals profiled on the training split can be exceeded by test images,
 *   which then ARE changed (zeroed): that is the method (paper A assumes the training data is
 *   representative), not an error; `margin` widens the intervals. At the default optimisation
 *   level the original model gets Conv+BatchNorm fusion (and NCHWc layouts) that the hardened one
 *   cannot have — the stage sits between conv and batch norm — so logits agree to float rounding
 *   (observed ≤ 1e-6 of the largest logit, same top-1); a value at the very edge of its interval
 *   can then move by an ulp across it. A −0 may come out of a stage as +0 (onnxruntime's Where);
 *   only the sign of an exactly zero result downstream could show it.
 * - tmr-neurons on convs (recomputing only the protected neurons): the conv is not widened and the
 *   voter keeps the conv's own value whenever a replica agrees within its rounding bound, so the
 *   layer's outputs are the original's bit for bit at every optimisation level (tmr-neurons.ts).
 * - QOperator models (every method): the stages read each conv's requantized output, so every
 *   conv stays one integer kernel and the logits equal the QOperator model's bit for bit at the
 *   default level (requantize.ts; test/formats-qoperator.test.ts, LeNet-5 and VGG-11).
 * - tmr-weights: the vote is constant-folded into the weight at session creation, so at the
 *   default optimisation level the logits are bit-equal to the original's; with optimisations
 *   disabled the layer gets a computed weight and logits agree to float rounding (~1e-8 here).
 */
import { FlipguardError, opt } from '../errors.js';
import { defaultOpset, type Model } from '../graph/types.js';
import { printWarning } from '../graph/load.js';
import { quantizesActivations } from './formats.js';
import { hasQOperator, qoperatorToQdq, refuseIntegerKernels } from '../formats/qoperator.js';
import { requantizedIntervals, requantizeStages } from './requantize.js';
import { float16Computation } from '../formats/convert.js';
import { formatCounts } from '../graph/info.js';
import { upgradeNotice, upgradeOpset } from '../graph/upgrade.js';
import type { Scores } from '../analysis/scores.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { validateTransformed, type Fidelity, type Validation } from './validate.js';
import type { ImageSet } from '../runtime/evaluate.js';
import { checkRatio, hardenedInfo, storedWordTensors, withHardenedInfo, type BitTriple, type HardenedInfo, type StageRecord, type WeightTriple } from './common.js';
import { edacTransform, type ChannelLayerReport } from './edac.js';
import { profileIntervals, type Intervals, type ProfileData } from './profile.js';
import { skipHalfRoundTrips, type AllDiffer, type BothInside, type BothOutside, type OutsideRule } from './stages.js';
import { tmrChannelsTransform } from './tmr-channels.js';
import { keepFloat32Nodes } from './half-regions.js';
import { tmrNeuronsTransform, type NeuronLayerReport, type NeuronReplicas } from './tmr-neurons.js';
import { tmrWeightsTransform, type WeightLayerReport } from './tmr-weights.js';
import { checkBits, tmrBitsTransform } from './tmr-bits.js';
import { foldedIntervals, layerIntervals, rangeTransform, PLACEMENTS, RANGE_BOUNDS, RANGE_MODES, RANGE_CHECKS, type Placement, type RangeBounds, type RangeMode, type RangeCheck } from './range.js';
import { foldBatchNorm } from '../analysis/canonize.js';
import { permuteChannels } from '../prune/structured.js';
import { intervalsInOriginalOrder } from './side-by-side.js';
import { DEFAULT_PLACEMENT, DEFAULT_RATIO, DEFAULT_TMR_BITS } from '../defaults.js';

export type HardenMethod = 'edac' | 'edac-nointervals' | 'ranger' | 'tmr-channels' | 'tmr-weights' | 'tmr-neurons' | 'tmr-bits';
export const HARDEN_METHODS: readonly HardenMethod[] = ['edac', 'edac-nointervals', 'ranger', 'tmr-channels', 'tmr-weights', 'tmr-neurons', 'tmr-bits'];

/** Ratio used when none is given (paper A's headline 15%; ranger is always 0). */
export { DEFAULT_RATIO };

export interface HardenOptions {
  /** Receives warning sentences (an in-graph opset upgrade); default: one line on stderr. */
  onWarning?: (message: string) => void;
  method: HardenMethod;
  /**
   * Share in [0, 1] of units to protect: channels per layer (edac, edac-nointervals, tmr-channels),
   * weights (tmr-weights, tmr-bits) or neurons (tmr-neurons). Default 0.15; ranger only accepts 0;
   * tmr-bits protects every weight when no ratio is given.
   */
  ratio?: number;
  /**
   * The ranking: unit 'channel' (conv) / 'neuron' or 'channel' (dense) for the channel methods,
   * 'weight' for tmr-weights, 'neuron' (C·H·W per conv layer) for tmr-neurons. Required when
   * the ratio selects anything beyond the fully protected output layer.
   */
  scores?: Scores;
  /** Detection intervals (edac, ranger); otherwise profiled from `data`. */
  intervals?: Intervals;
  /** Training images to profile the detection intervals from (edac, ranger). */
  data?: ProfileData;
  /** Images per profiling run (default 256). */
  profileBatch?: number;
  /** Runtime options for profiling (threads, provider; profiling always runs unoptimised). */
  runtime?: RuntimeOptions;
  /** tmr-bits: bit positions to protect (default per stored format, DEFAULT_TMR_BITS_BY_FORMAT: float32 [30], float16/bfloat16 [14], int8 [7]). */
  bits?: readonly number[];
  /** tmr-weights / tmr-neurons / tmr-bits: take the ratio of every layer instead of a global top (default false). */
  perLayer?: boolean;
  /** edac, edac-nointervals, tmr-channels: protect every channel of the output layer (default true). */
  protectOutput?: boolean;
  /** EDAC case C rule (default 'min'); edac-nointervals uses it for every a ≠ b. */
  bothInside?: BothInside;
  /** EDAC case D rule (default 'zero'). */
  bothOutside?: BothOutside;
  /** EDAC / ranger case E rule (default 'zero'). */
  outside?: OutsideRule;
  /** Relative widening of the detection intervals on each side (default 0). */
  margin?: number;
  /** Voter when all three copies differ: tmr-channels default 'min', tmr-neurons default 'median'. */
  allDiffer?: AllDiffer;
  /** tmr-channels: NaN → 0 in the unprotected channels too (default true). */
  nanToZero?: boolean;
  /**
   * ranger: out-of-interval values → 'zero' (paper A's case E, default) or 'saturate' (clamped to the
   * bound, as the Ranger tool does). edac's case E follows it unless `outside` is given.
   */
  rangeMode?: RangeMode;
  /**
   * ranger: where the range check sits — 'after-bn' (default for float models, DEFAULT_PLACEMENT: behind the batch
   * norm, which keeps Conv+BN fused and also checks faults in the batch-norm parameters), 'paper'
   * (paper A: conv output, before batch norm) or 'after-act' (behind batch norm and
   * ReLU: keeps the whole Conv+BN+ReLU(+Clip) group fused; exact for 'saturate', a different method
   * for 'zero'; the default for QDQ models, where it sits behind the activation's QuantizeLinear →
   * DequantizeLinear, in the dequantized domain, so the layer keeps its integer kernel). See range.ts.
   * edac, edac-nointervals, tmr-channels: 'paper' (default, the stage at the conv output) or
   * 'after-bn' / 'after-act': the copies get their own batch-norm parameters and run through the
   * layer's batch norm (+ ReLU) with the originals, so onnxruntime keeps Conv+BN(+ReLU) fused and
   * the stage, behind it, also catches faults in the batch norm (range.ts widenGroup).
   */
  placement?: Placement;
  /** ranger: one interval per channel (default, paper A) or one per layer (Ranger's; fuses into the conv as a Clip when saturating). */
  rangeBounds?: RangeBounds;
  /**
   * ranger 'zero' behind the batch norm / ReLU: how the check is built on conv layers — 'exact'
   * (default: compares + Where, a NaN becomes the fill) or 'fused' (a depthwise 1×1 conv mask that
   * onnxruntime keeps in its NCHWc layout: the same for every finite value, much faster, but a NaN
   * passes through; fused-check.ts).
   */
  rangeCheck?: RangeCheck;
  /**
   * Fold every batch norm that directly follows a conv/dense layer into that layer's weight and bias
   * before hardening (default false). The batch norm's parameters then ARE the conv's stored weights
   * for the fault model (a fault in a folded weight is a fault in W·γ/√(σ²+ε)), interval profiling
   * and any given intervals refer to the folded (post-BN) output.
   */
  foldBn?: boolean;
  /**
   * edac, edac-nointervals, tmr-channels: reorder each layer's output channels (and what reads them)
   * so that its protected channels sit side by side and the stage works on contiguous slices
   * (side-by-side.ts; default false). The consumers then sum their input channels in another order:
   * fault-free logits agree with the original's to float rounding (bit for bit with the equally
   * reordered original), not bit for bit.
   */
  sideBySide?: boolean;
  /**
   * tmr-neurons, conv layers: 'auto' (default) recomputes per layer either only the protected
   * positions (a replica MatMul over their input patches, voted with a rounding tolerance) or whole
   * channels with the vote only at the protected positions, whichever a cost model expects to be
   * faster; 'positions' always the former; 'channels' whole channels with a masked vote over them
   * (the construction before issue 14's rework; the default for QOperator models, whose widened
   * conv stays one integer kernel). tmr-neurons.ts.
   */
  neuronReplicas?: NeuronReplicas;
}

/** One layer of a hardening report. */
export type LayerReport = (ChannelLayerReport | WeightLayerReport | NeuronLayerReport) & { name: string; protected: number };

export interface HardenReport {
  method: HardenMethod;
  ratio: number;
  /** Scores method used for the selection, or null. */
  ranking: string | null;
  /** Protected units per layer name (channels, weights or neurons by method). */
  protected: Record<string, number>;
  /** Unit the counts are in. */
  unit: 'channel' | 'weight' | 'neuron';
  /** Per-layer details (indices of the protected units, MAC accounting for neurons, …). */
  layers: LayerReport[];
  /** Protected and total units over all layers. */
  totals: { protected: number; units: number };
  /** Parameters added (stored words of any format: copies, replicas, interval bounds). */
  addedParameters: number;
  /**
   * Stored parameter bits added / stored parameter bits of the original model, each word counted
   * at its format's width (graph/info.ts formatCounts: an int8 copy 8 bits, a float16 one 16, a
   * float32 interval bound 32); for a float32 model, addedParameters / parameters.
   */
  memoryOverhead: number;
  /** tmr-neurons: replica MACs per image, as computed by the graph and as paper C counts them. */
  replicaMacs?: { graph: number; protectedNeurons: number };
  /** Interval methods: whether the intervals were given or profiled (and on how many images). */
  intervals?: { source: 'given' | 'profiled'; images?: number; margin: number };
  /** tmr-weights: the stored triples (for voteWeights and campaigns). */
  weights?: WeightTriple[];
  /** tmr-bits: the stored bit copies (for campaigns and the tests' vote oracle). */
  bits?: BitTriple[];
  /** tmr-bits: stored bits added (plane copies, padding included); memoryOverhead = addedBits / (32 · parameters). */
  addedBits?: number;
  /** sideBySide: the layers whose channels were reordered and their orders (order[j] = original channel now at j). */
  reordered?: Record<string, number[]>;
}

export interface HardenResult {
  model: Model;
  report: HardenReport;
}

/**
 * Hardens `model` by `opts.method` (see the module comment); `model` is not modified. Throws a
 * FlipguardError for a bad option: unknown method, ratio outside [0, 1], missing or mismatched
 * scores (wrong unit, wrong count, missing layer), missing intervals and data for an interval
 * method, a layer bias computed in the graph. Grouped and depthwise convs are hardened with copy
 * convs over whole groups (layers.ts). Models below opset 13 are upgraded in-graph first (graph/upgrade.ts), with one warning through `opts.onWarning`.
 */
export async function harden(model: Model, opts: HardenOptions): Promise<HardenResult> {
  const method = opts.method;
  if (!HARDEN_METHODS.includes(method)) throw new FlipguardError(`Unknown hardening method "${String(method)}"; use one of ${HARDEN_METHODS.join(', ')}.`);
  const given = model;
  const qop = hasQOperator(model);
  refuseIntegerKernels(model, 'flipguard harden');
  const opset = defaultOpset(model);
  if (opset < 13) {
    // hardening emits opset-13 operator forms: rewrite older models in-graph (same outputs) and say so
    model = upgradeOpset(model);
    (opts.onWarning ?? printWarning)(upgradeNotice(opset, defaultOpset(model)));
  }
  // QOperator kernels → the QDQ groups onnxruntime fuses back into them (the output is written in QDQ form)
  if (qop) model = qoperatorToQdq(model).model;
  const ratio = opts.ratio ?? (method === 'ranger' ? 0 : method === 'tmr-bits' ? 1 : DEFAULT_RATIO);
  checkRatio(ratio, 'ratio');
  if (method === 'ranger' && ratio !== 0) throw new FlipguardError(`ranger is range restriction only and takes ratio 0, got ${ratio}; use edac to duplicate channels as well.`);

  const rangeMode = opts.rangeMode ?? 'zero';
  // ranger only: the other methods place their stage at the conv output (checked below)
  // a QDQ model's ranger sits behind the activation's QuantizeLinear → DequantizeLinear by default
  // (after-act, range.ts), where onnxruntime keeps its integer kernels
  const placement = opts.placement ?? (method === 'ranger' ? (quantizesActivations(model) ? 'after-act' : DEFAULT_PLACEMENT) : 'paper');
  const rangeBounds = opts.rangeBounds ?? 'channel';
  if (!RANGE_MODES.includes(rangeMode)) throw new FlipguardError(`The ${opt('rangeMode')} "${String(rangeMode)}" is unknown; use ${RANGE_MODES.join(' or ')}.`);
  if (!PLACEMENTS.includes(placement)) throw new FlipguardError(`The ${opt('placement')} "${String(placement)}" is unknown; use ${PLACEMENTS.join(', ')}.`);
  if (!RANGE_BOUNDS.includes(rangeBounds)) throw new FlipguardError(`The ${opt('rangeBounds')} "${String(rangeBounds)}" is unknown; use ${RANGE_BOUNDS.join(' or ')}.`);
  const placed = method === 'ranger' || method === 'edac' || method === 'edac-nointervals' || method === 'tmr-channels';
  if (placement !== 'paper' && !placed) throw new FlipguardError(`The ${opt('placement')} applies to ranger, edac, edac-nointervals and tmr-channels; leave it out for ${method}, which has no placement to choose.`);
  if (opts.sideBySide && method !== 'edac' && method !== 'edac-nointervals' && method !== 'tmr-channels') throw new FlipguardError(`The ${opt('sideBySide')} applies to edac, edac-nointervals and tmr-channels (channel copies), not ${method}.`);
  const rangeCheck = opts.rangeCheck ?? 'exact';
  if (!RANGE_CHECKS.includes(rangeCheck)) throw new FlipguardError(`The ${opt('rangeCheck')} "${String(rangeCheck)}" is unknown; use ${RANGE_CHECKS.join(' or ')}.`);
  if (rangeCheck === 'fused' && (method !== 'ranger' || placement === 'paper' || rangeMode !== 'zero' || opts.outside === 'clip')) {
    throw new FlipguardError(`The fused range check (${opt('rangeCheck')} fused) builds ranger's zeroing behind the batch norm or ReLU; use it with method ranger, range mode zero and placement after-bn or after-act.`);
  }
  if (rangeBounds !== 'channel' && method !== 'ranger') throw new FlipguardError(`Per-layer bounds (${opt('rangeBounds')} layer) apply to ranger only, not ${method}.`);
  const original = model;
  if (opts.foldBn && float16Computation(model) !== undefined) throw new FlipguardError(`Folding batch norms (${opt('foldBn')}) makes float32 weights, but this model computes in float16 (native); unset ${opt('foldBn')} to harden it as it is.`);
  if (opts.foldBn) {
    const f = foldBatchNorm(model);
    model = f.model;
    if (opts.intervals) opts = { ...opts, intervals: foldedIntervals(original, opts.intervals, f.folded) };
  }

  let intervals: Intervals | undefined;
  let intervalInfo: HardenReport['intervals'];
  const margin = opts.margin ?? 0;
  if (method === 'edac' || method === 'ranger') {
    if (opts.intervals) {
      intervals = opts.intervals;
      intervalInfo = { source: 'given', margin };
    } else if (opts.data) {
      // side by side reorders the consumers' sums: profile on the reordered model, so that its own
      // values set the bounds (the same channels are chosen with or without intervals)
      const orders = opts.sideBySide && method === 'edac'
        ? edacTransform(model, { ratio, scores: opts.scores, useIntervals: false, protectOutput: opts.protectOutput, method, sideBySide: true }).reordered
        : undefined;
      const target = orders ? permuteChannels(model, new Map(Object.entries(orders))).model : model;
      // profiled without graph optimisations, the level the bit-identity promise is checked at
      // (hardenFidelity): an optimised kernel can round a channel's maximum an ulp higher, and the
      // image that attains it would then fall outside its own interval
      intervals = await profileIntervals(target, opts.data, { ...opts.runtime, optimization: 'disabled', batch: opts.profileBatch });
      if (orders) intervals = intervalsInOriginalOrder(intervals, orders);
      intervalInfo = { source: 'profiled', images: opts.data.count, margin };
    } else {
      throw new FlipguardError(`${method} needs detection intervals: pass intervals, or data (the training split) to profile them from.`);
    }
  }

  // QOperator: the stages see the integer kernels' values (requantize.ts), so the bounds move onto their grid
  if (qop && intervals) intervals = requantizedIntervals(model, intervals);

  let out: Model;
  let layers: LayerReport[];
  let stages: StageRecord[];
  let unit: HardenReport['unit'] = 'channel';
  let weights: WeightTriple[] | undefined;
  let bitTriples: BitTriple[] | undefined;
  let addedBits: number | undefined;
  let replicaMacs: HardenReport['replicaMacs'];
  let reordered: Record<string, number[]> | undefined;
  const options: Record<string, unknown> = {};
  switch (method) {
    case 'ranger': {
      const r = placement === 'paper'
        ? edacTransform(model, {
          ratio: 0, intervals: rangeBounds === 'layer' ? layerIntervals(intervals!) : intervals, protectOutput: false,
          outside: opts.outside ?? (rangeMode === 'saturate' ? 'clip' : 'zero'), margin, method,
        })
        : rangeTransform(model, { intervals: intervals!, mode: opts.outside === 'clip' ? 'saturate' : rangeMode, placement, bounds: rangeBounds, margin, check: rangeCheck });
      Object.assign(options, { rangeMode: opts.outside === 'clip' ? 'saturate' : rangeMode, placement, rangeBounds, margin, ...(rangeCheck === 'fused' ? { rangeCheck } : {}) });
      ({ model: out, layers, stages } = r);
      break;
    }
    case 'edac': case 'edac-nointervals': {
      const outside = opts.outside ?? (rangeMode === 'saturate' ? 'clip' : 'zero');
      const r = edacTransform(model, {
        ratio, scores: opts.scores, intervals, useIntervals: method !== 'edac-nointervals',
        protectOutput: opts.protectOutput, bothInside: opts.bothInside, bothOutside: opts.bothOutside,
        outside, margin, method, sideBySide: opts.sideBySide, placement,
      });
      Object.assign(options, {
        ...(placement === 'paper' ? {} : { placement }),
        protectOutput: opts.protectOutput ?? true, bothInside: opts.bothInside ?? 'min',
        ...(method === 'edac-nointervals' ? {} : { bothOutside: opts.bothOutside ?? 'zero', outside, margin }),
      });
      ({ model: out, layers, stages, reordered } = r);
      break;
    }
    case 'tmr-channels': {
      const r = tmrChannelsTransform(model, { ratio, scores: opts.scores, protectOutput: opts.protectOutput, allDiffer: opts.allDiffer, nanToZero: opts.nanToZero, sideBySide: opts.sideBySide, placement });
      Object.assign(options, { ...(placement === 'paper' ? {} : { placement }), protectOutput: opts.protectOutput ?? true, allDiffer: opts.allDiffer ?? 'min', nanToZero: opts.nanToZero ?? true });
      ({ model: out, layers, stages, reordered } = r);
      break;
    }
    case 'tmr-weights': {
      const r = tmrWeightsTransform(model, { ratio, scores: opts.scores, perLayer: opts.perLayer });
      Object.assign(options, { perLayer: opts.perLayer ?? false });
      ({ model: out, layers, stages } = r);
      unit = 'weight';
      weights = r.triples;
      break;
    }
    case 'tmr-bits': {
      // default: the stored format's most damaging bit (DEFAULT_TMR_BITS_BY_FORMAT; float32: 30)
      const r = tmrBitsTransform(model, { bits: opts.bits, ratio, scores: opts.scores, perLayer: opts.perLayer });
      Object.assign(options, { bits: r.triples[0]?.bits ?? checkBits(opts.bits ?? DEFAULT_TMR_BITS), perLayer: opts.perLayer ?? false });
      ({ model: out, layers, stages, addedBits } = r);
      unit = 'weight';
      bitTriples = r.triples;
      break;
    }
    case 'tmr-neurons': {
      // QOperator: replica channels of the conv itself, requantized like it (exact); position replicas are float sums
      const replicas = opts.neuronReplicas ?? (qop ? 'channels' : 'auto');
      const r = tmrNeuronsTransform(model, { ratio, scores: opts.scores, perLayer: opts.perLayer, allDiffer: opts.allDiffer, replicas });
      Object.assign(options, { perLayer: opts.perLayer ?? false, allDiffer: opts.allDiffer ?? 'median', neuronReplicas: replicas });
      ({ model: out, layers, stages } = r);
      unit = 'neuron';
      replicaMacs = {
        graph: r.layers.reduce((s, l) => s + l.graphReplicaMacs, 0),
        protectedNeurons: r.layers.reduce((s, l) => s + l.protectedNeuronMacs, 0),
      };
      break;
    }
  }

  // QOperator: the widened convs stay integer kernels, the stages read their requantized outputs
  if (qop) out = requantizeStages(model, out, layers.map((l) => l.name));
  // native float16: a stage reading assembled copies, or float16 logits cast to float32 (keep_io_types), read float32 values
  out = { ...out, graph: skipHalfRoundTrips(out.graph) };
  // native float16: the nodes onnxruntime computes in float32 stay so next to the stages (half-regions.ts)
  const level = hardenFidelity(method, intervalInfo).runtime;
  if (float16Computation(model) !== undefined && level.optimization === 'disabled' && (opts.runtime?.executionProvider ?? 'cpu') === 'cpu') {
    out = await keepFloat32Nodes(model, out, { ...opts.runtime, ...level });
  }
  if (opts.foldBn) options.foldBn = true;
  if (qop) options.qoperator = 'written as QDQ';
  if (opts.sideBySide) options.sideBySide = true;
  const units = (l: LayerReport): number => ('neurons' in l ? l.neurons : 'weights' in l ? l.weights : l.channels);
  const protectedBy: Record<string, number> = {};
  for (const l of layers) protectedBy[l.name] = l.protected;
  const totals = { protected: layers.reduce((s, l) => s + l.protected, 0), units: layers.reduce((s, l) => s + units(l), 0) };
  // stored parameter words and bits in every format (an int8 copy is 8 bits, a float16 one 16)
  const stored = (m: Model): { words: number; bits: number } => {
    let words = 0, bits = 0;
    for (const f of formatCounts(m, storedWordTensors(m))) { words += f.parameters; bits += f.bits; }
    return { words, bits };
  };
  // the model as given: a QOperator model's QDQ form adds its bias scales, counted as added words
  const before = stored(given), after = stored(out);
  const form = qop ? stored(original) : before;
  // tmr-bits stores float32 weights as int32 words: its added storage is the plane bits, in 32-bit words
  const addedParameters = addedBits !== undefined ? addedBits / 32 + form.words - before.words : after.words - before.words;
  const addedStoredBits = addedBits !== undefined ? addedBits + form.bits - before.bits : after.bits - before.bits;
  const info: HardenedInfo = {
    method, ratio, ranking: opts.scores?.method ?? null, options,
    layers: layers.map((l) => ({ name: l.name, units: units(l), protected: l.protected })),
    stages, ...(weights ? { weights } : {}), ...(bitTriples ? { bits: bitTriples } : {}),
  };
  out = withHardenedInfo(out, info);
  return {
    model: out,
    report: {
      method, ratio, ranking: info.ranking, protected: protectedBy, unit, layers, totals, addedParameters,
      memoryOverhead: before.bits ? addedStoredBits / before.bits : 0,
      ...(replicaMacs ? { replicaMacs } : {}), ...(intervalInfo ? { intervals: intervalInfo } : {}), ...(weights ? { weights } : {}),
      ...(bitTriples ? { bits: bitTriples, addedBits } : {}),
      ...(reordered ? { reordered } : {}),
    },
  };
}

/**
 * The fault-free promise of a hardened model (see the module comment) and the runtime it holds
 * under, for validateTransformed: channel methods are bit-identical with graph optimisations
 * disabled — edac and ranger only on images inside their intervals, i.e. when the intervals were
 * profiled on the validation images' set, else only that the model runs; tmr-weights is
 * bit-identical with optimisations on (level 'all', whatever the caller asked for): onnxruntime's
 * constant folding turns the vote into an initializer equal to the original weight before its
 * fusions (Conv+BatchNorm, NCHWc) and weight prepacking run, so the optimised graph is the
 * original's. Without optimisations the vote runs per inference and the layer gets a computed,
 * not prepacked, weight (other summation order: agreement to float rounding only). `rounded`: the
 * model was rebuilt with other float arithmetic first (foldBn, sideBySide), so every method keeps
 * only the top-1 (logits agree to rounding).
 */
export function hardenFidelity(method: HardenMethod, intervals?: HardenReport['intervals'], rounded = false): { fidelity: Fidelity; runtime: RuntimeOptions } {
  const exact: RuntimeOptions = { optimization: 'disabled' };
  // folded batch norms, reordered consumers: other float arithmetic — the same top-1, logits to rounding
  if (rounded) return { fidelity: 'top1', runtime: exact };
  // tmr-weights / tmr-bits: the vote folds into the exact stored weight at the default level
  if (method === 'tmr-weights' || method === 'tmr-bits') return { fidelity: 'bitwise', runtime: { optimization: 'all' } };
  if ((method === 'edac' || method === 'ranger') && intervals?.source !== 'profiled') return { fidelity: 'runs', runtime: exact };
  return { fidelity: 'bitwise', runtime: exact };
}

/**
 * Validates a hardening result before it is written: shapes, onnxruntime, and hardenFidelity's
 * promise on the first (up to) 4 images of `images` — pass the images the intervals were profiled
 * on (the training split) so that interval methods are checked bit for bit. Throws a
 * TransformInvalidError naming the failed check.
 */
export async function validateHardened(original: Model, result: HardenResult, images: ImageSet, runtime: RuntimeOptions = {}): Promise<Validation> {
  const n = Math.min(4, images.count);
  const per = images.shape.reduce((a, b) => a * b, 1);
  const few = { x: images.x.subarray(0, n * per), shape: images.shape, count: n };
  const rounded = !!result.report.reordered || hardenedInfo(result.model)?.options.foldBn === true;
  const f = hardenFidelity(result.report.method, result.report.intervals, rounded);
  // a QOperator original: its integer kernels are kept (requantize.ts), compared where onnxruntime fuses them
  const level: RuntimeOptions = hasQOperator(original) ? { optimization: 'all' } : f.runtime;
  return validateTransformed(original, result.model, { images: few, fidelity: f.fidelity, runtime: { ...runtime, ...level }, what: `${result.report.method}-hardened` });
}

export { validateTransformed, topOneAgreement, TransformInvalidError, type Fidelity, type Validation, type ValidateOptions, type Agreement } from './validate.js';
export { profileIntervals, intervalsFromJson, intervalsToJson, type ChannelInterval, type Intervals, type ProfileData, type ProfileOptions } from './profile.js';
export { edacTransform, type EdacOptions, type ChannelLayerReport, type TransformResult } from './edac.js';
export { tmrChannelsTransform, type TmrChannelOptions } from './tmr-channels.js';
export { tmrWeightsTransform, voteWeights, majority32, bitwiseVote, type TmrWeightOptions, type WeightLayerReport, type WeightTransformResult } from './tmr-weights.js';
export { tmrNeuronsTransform, type NeuronReplicas, type TmrNeuronOptions, type NeuronLayerReport, type NeuronTransformResult } from './tmr-neurons.js';
export { overheads, countHardened, countingView, parameterBits, readHardenReportFile, readOverheads, OVERHEAD_METRICS, type Overheads, type OverheadOptions, type Ratio, type Overhead, type OverheadMetric, type HardenReportFile } from './overhead.js';
export { tmrBitsTransform, checkBits, packPlanes, type TmrBitOptions, type BitTransformResult } from './tmr-bits.js';
export { HARDENED_KEY, hardenedInfo, storedWordTensors, type HardenedInfo, type StageRecord, type WeightTriple, type BitTriple } from './common.js';
export { HARDEN_TAG } from './graph-edit.js';
export type { AllDiffer, BothInside, BothOutside, OutsideRule } from './stages.js';
