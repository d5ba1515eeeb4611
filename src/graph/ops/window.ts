/**
 * Window geometry of convolutions and pools, the one place it is written: attribute validation and
 * output sizes (shape rules), explicit pads after resolving auto_pad (VJP rules), and the
 * weight-gradient correlation shared by the Conv and ConvTranspose rules and by per-sample gradients.
 *
 * Pads follow ONNX: `pads` = [x1_begin, x2_begin, …, x1_end, x2_end, …] in elements.
 */
import { A, attrInts, attrString } from '../builder.js';
import type { Node } from '../types.js';
import type { Emitter } from '../emitter.js';
import type { NodeCtx } from './shape-kit.js';


/** A shape or list of sizes as "[a, b, c]" (error messages). */
export function fmt(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * Total SAME padding (elements) of one spatial axis of size `size` for a window `extent` wide moved
 * by `stride`: enough for ceil(size / stride) windows, (ceil(size/stride) − 1)·stride + extent − size.
 */
export function samePadTotal(size: number, stride: number, extent: number): number {
  return (Math.ceil(size / stride) - 1) * stride + extent - size;
}

/** Begin pad of a SAME total: the odd element goes at the end (SAME_UPPER) or the start (SAME_LOWER). */
export function samePadBegin(total: number, lower: boolean): number {
  return lower ? Math.floor((total + 1) / 2) : Math.floor(total / 2);
}

export interface SpatialAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

export function spatialAttrs(c: NodeCtx, nSpatial: number, kernel: number[]): SpatialAttrs {
  const strides = c.ints('strides') ?? new Array<number>(nSpatial).fill(1);
  const dilations = c.ints('dilations') ?? new Array<number>(nSpatial).fill(1);
  const pads = c.ints('pads') ?? new Array<number>(2 * nSpatial).fill(0);
  const autoPad = c.str('auto_pad', 'NOTSET');
  if (kernel.length !== nSpatial) throw c.fail(`has a ${kernel.length}-d kernel for ${nSpatial} spatial dimensions`);
  if (strides.length !== nSpatial || strides.some((s) => s < 1)) throw c.fail(`has strides ${fmt(strides)}, which do not fit ${nSpatial} spatial dimensions`);
  if (dilations.length !== nSpatial || dilations.some((s) => s < 1)) throw c.fail(`has dilations ${fmt(dilations)}, which do not fit ${nSpatial} spatial dimensions`);
  if (pads.length !== 2 * nSpatial) throw c.fail(`has pads ${fmt(pads)}, which need ${2 * nSpatial} values (all begins, then all ends)`);
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw c.fail(`has auto_pad "${autoPad}"`, 'use NOTSET, SAME_UPPER, SAME_LOWER or VALID');
  return { kernel, strides, dilations, pads, autoPad };
}

/** Output sizes of a convolution (floor division; SAME gives ceil(in / stride)). */
export function convSpatial(c: NodeCtx, inSpatial: number[], a: SpatialAttrs): number[] {
  return inSpatial.map((x, i) => {
    const k = (a.kernel[i] - 1) * a.dilations[i] + 1;
    const s = a.strides[i];
    let out: number;
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') out = Math.ceil(x / s);
    else if (a.autoPad === 'VALID') out = Math.floor((x - k) / s) + 1;
    else out = Math.floor((x + a.pads[i] + a.pads[i + inSpatial.length] - k) / s) + 1;
    if (out < 1) throw c.fail(`has a ${k}-wide (dilated) kernel that does not fit its padded input of size ${x} in spatial dimension ${i}`, 'use a larger input image');
    return out;
  });
}

/**
 * Output sizes of a pooling op as onnxruntime computes them: floor (or ceil with ceil_mode) of
 * (in + pads − dilated kernel) / stride + 1; SAME pads by (ceil(in/stride) − 1)·stride + kernel − in
 * (undilated kernel, as onnxruntime does); with ceil_mode a last window starting beyond the input
 * and begin padding is dropped.
 */
export function poolSpatial(c: NodeCtx, inSpatial: number[], a: SpatialAttrs, ceilMode: boolean): number[] {
  return inSpatial.map((x, i) => {
    const dk = (a.kernel[i] - 1) * a.dilations[i] + 1;
    const s = a.strides[i];
    let padBegin: number;
    let padTotal: number;
    if (a.autoPad === 'VALID') { padBegin = 0; padTotal = 0; }
    else if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
      padTotal = samePadTotal(x, s, a.kernel[i]);
      padBegin = samePadBegin(padTotal, a.autoPad === 'SAME_LOWER');
    } else { padBegin = a.pads[i]; padTotal = a.pads[i] + a.pads[i + inSpatial.length]; }
    const q = (x + padTotal - dk) / s + 1;
    let out = ceilMode ? Math.ceil(q) : Math.trunc(q);
    if (ceilMode && (out - 1) * s >= x + padBegin) out--;
    if (out < 1) throw c.fail(`has a ${dk}-wide (dilated) window that does not fit its padded input of size ${x} in spatial dimension ${i}`, 'use a larger input image');
    return out;
  });
}


export interface Window {
  /** Number of spatial dimensions. */
  ns: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  /** Spatial sizes of the input and output. */
  inSpatial: number[];
  outSpatial: number[];
}

/**
 * Geometry of a Conv or pooling node with input shape `x` and output shape `y` ([N, C, spatial…]).
 * SAME pads total (out − 1)·stride + kernel − in (dilated kernel for Conv; undilated for pools, as
 * onnxruntime does), the odd one at the end for SAME_UPPER and at the start for SAME_LOWER.
 */
export function windowOf(node: Node, x: readonly number[], y: readonly number[], kernel: readonly number[], pool: boolean): Window {
  const ns = x.length - 2;
  const inSpatial = x.slice(2);
  const outSpatial = y.slice(2);
  const strides = attrInts(node, 'strides') ?? new Array<number>(ns).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(ns).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  for (let i = 0; i < ns; i++) {
    if (autoPad === 'VALID') { padsBegin.push(0); padsEnd.push(0); continue; }
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const k = pool ? kernel[i] : (kernel[i] - 1) * dilations[i] + 1;
      const total = Math.max(0, pool ? samePadTotal(inSpatial[i], strides[i], k) : (outSpatial[i] - 1) * strides[i] + k - inSpatial[i]);
      const begin = samePadBegin(total, autoPad === 'SAME_LOWER');
      padsBegin.push(begin);
      padsEnd.push(total - begin);
      continue;
    }
    padsBegin.push(pads[i]);
    padsEnd.push(pads[i + ns]);
  }
  return { ns, kernel: [...kernel], strides, dilations, padsBegin, padsEnd, inSpatial, outSpatial };
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

/**
 * End pads and result sizes of the correlation of an input of spatial size `w.inSpatial` with an
 * output gradient of size `w.outSpatial` (stride and dilation swap roles): end pads are just large
 * enough to cover every kernel tap; the result may exceed the kernel and is then sliced.
 */
function correlationPads(w: Window): { padsEnd: number[]; len: number[] } {
  const padsEnd: number[] = [];
  const len: number[] = [];
  for (let i = 0; i < w.ns; i++) {
    const span = (w.outSpatial[i] - 1) * w.strides[i] + 1;
    const need = (w.kernel[i] - 1) * w.dilations[i] + span - w.inSpatial[i] - w.padsBegin[i];
    const pe = Math.max(0, need);
    padsEnd.push(pe);
    len.push(Math.floor((w.inSpatial[i] + w.padsBegin[i] + pe - span) / w.dilations[i]) + 1);
  }
  return { padsEnd, len };
}

/**
 * Weight gradient of a convolution y = conv(x, W) (group `group`) from the input `x`
 * [N, Cin, S…] and the output gradient `dy` [N, M, O…]: dW[m, c, k] = Σ_n Σ_o dy[n, m, o] ·
 * x[n, g(m)·Cin/group + c, o·stride + k·dilation − padBegin], computed as one Conv in which the batch
 * and channel axes trade places (group g keeps channel groups apart). Returns [M, Cin/group, K…].
 */
export function convWeightGrad(e: Emitter, x: string, xShape: readonly number[], dy: string, group: number, w: Window): string {
  const ns = w.ns;
  const sp = range(ns, 2);
  const cg = xShape[1] / group;
  let xt: string;
  if (group === 1) xt = e.transpose(x, [1, 0, ...sp]);
  else {
    const x5 = e.reshape(x, [0, group, cg, ...w.inSpatial]);
    xt = e.reshape(e.transpose(x5, [2, 1, 0, ...range(ns, 3)]), [cg, -1, ...w.inSpatial]);
  }
  const dyt = e.transpose(dy, [1, 0, ...sp]);
  const { padsEnd, len } = correlationPads(w);
  let r = e.op('Conv', [xt, dyt], {
    strides: A.is(w.dilations), dilations: A.is(w.strides), pads: A.is([...w.padsBegin, ...padsEnd]), group: A.i(group),
  });
  if (len.some((l, i) => l !== w.kernel[i])) r = e.slice(r, w.kernel.map(() => 0), w.kernel, sp);
  return e.transpose(r, [1, 0, ...sp]);
}

/**
 * Per-sample weight gradients of a convolution, unreduced over the batch: one Conv with
 * group = batch·group. Returns [Cin/group, N·M, K…] where entry [c, n·M + m, k] is
 * ∂/∂W[m, c, k] of sample n's output-gradient contraction. `batch` must be the static batch size.
 */
export function perSampleConvWeightGrad(e: Emitter, x: string, xShape: readonly number[], dy: string, group: number, batch: number, w: Window): string {
  const ns = w.ns;
  const sp = range(ns, 2);
  const cg = xShape[1] / group;
  const x5 = e.reshape(x, [batch, group, cg, ...w.inSpatial]);
  const xt = e.reshape(e.transpose(x5, [2, 0, 1, ...range(ns, 3)]), [cg, batch * group, ...w.inSpatial]);
  const dyt = e.reshape(dy, [-1, 1, ...w.outSpatial]);
  const { padsEnd, len } = correlationPads(w);
  let r = e.op('Conv', [xt, dyt], {
    strides: A.is(w.dilations), dilations: A.is(w.strides), pads: A.is([...w.padsBegin, ...padsEnd]), group: A.i(batch * group),
  });
  if (len.some((l, i) => l !== w.kernel[i])) r = e.slice(r, w.kernel.map(() => 0), w.kernel, sp);
  return r;
}
