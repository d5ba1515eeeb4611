/**
 * A ConvNeXt block as PyTorch exports it at opset 14 (LayerNorm decomposed into ReduceMean, Sub,
 * Pow, Sqrt, Div; GELU as x·½·(1 + erf(x/√2)); channels-last Linear layers as MatMul + Add between
 * Transposes; layer scale Mul; residual Add) and at opset 17 (LayerNormalization): shapes, counts,
 * Eq. (1), LRP, neuron criticality and Taylor all run, and the two forms agree in their outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import { checkSupported } from '../src/graph/ops.js';
import { countModel } from '../src/graph/count.js';
import type { Model } from '../src/graph/types.js';
import type { Dataset } from '../src/data/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { rank } from '../src/analysis/index.js';
import { Rng } from '../src/util/rng.js';

const C = 4;

function block(opset: 14 | 17): Model {
  const r = new Rng(9);
  const b = new GraphBuilder(`convnext${opset}`);
  const w = (name: string, dims: number[], s = 0.5) => b.init(name, dims, Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => r.normal() * s));
  const x = b.input('input', ['batch', 3, 4, 4]);
  const stem = b.op('Conv', [x, w('stem.w', [C, 3, 2, 2]), w('stem.b', [C], 0.1)], { strides: A.is([2, 2]) }, 'stem');
  const dw = b.op('Conv', [stem, w('dw.w', [C, 1, 3, 3]), w('dw.b', [C], 0.1)], { pads: A.is([1, 1, 1, 1]), group: A.i(C) }, 'dwconv');
  const nhwc = b.op('Transpose', [dw], { perm: A.is([0, 2, 3, 1]) });
  const gamma = b.init('ln.w', [C], [1, 0.5, 1.5, 0.8]);
  const beta = b.init('ln.b', [C], [0, 0.1, -0.1, 0.2]);
  let ln: string;
  if (opset === 17) ln = b.op('LayerNormalization', [nhwc, gamma, beta], { axis: A.i(-1), epsilon: A.f(1e-6) });
  else {
    const mean = b.op('ReduceMean', [nhwc], { axes: A.is([-1]) });
    const d = b.op('Sub', [nhwc, mean]);
    const v = b.op('ReduceMean', [b.op('Pow', [d, b.init('two', [], [2])])], { axes: A.is([-1]) });
    const n = b.op('Div', [d, b.op('Sqrt', [b.op('Add', [v, b.init('eps', [], [1e-6])])])]);
    ln = b.op('Add', [b.op('Mul', [n, gamma]), beta]);
  }
  const pw1 = b.op('Add', [b.op('MatMul', [ln, w('pw1.w', [C, 4 * C])], {}, 'pwconv1'), w('pw1.b', [4 * C], 0.1)]);
  const erf = b.op('Erf', [b.op('Div', [pw1, b.init('sqrt2', [], [Math.SQRT2])])]);
  const gelu = b.op('Mul', [b.op('Mul', [pw1, b.op('Add', [erf, b.init('one', [], [1])])]), b.init('half', [], [0.5])]);
  const pw2 = b.op('Add', [b.op('MatMul', [gelu, w('pw2.w', [4 * C, C])], {}, 'pwconv2'), w('pw2.b', [C], 0.1)]);
  const scaled = b.op('Mul', [pw2, b.init('layer_scale', [C], [0.5, 0.6, 0.7, 0.8])]);
  const res = b.op('Add', [stem, b.op('Transpose', [scaled], { perm: A.is([0, 3, 1, 2]) })]);
  const pooled = b.op('ReduceMean', [res], { axes: A.is([2, 3]), keepdims: A.i(0) });
  b.node('Gemm', [pooled, w('head.w', [3, C]), w('head.b', [3], 0.1)], { transB: A.i(1) }, { name: 'head', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build(), { opset });
}

async function selfLabelled(m: Model): Promise<{ data: Dataset; logits: Float32Array }> {
  const rng = new Rng(2);
  const count = 6;
  const x = Float32Array.from({ length: count * 48 }, () => rng.normal());
  const r = await ModelRunner.create(m, { threads: 1 });
  try {
    const logits = Float32Array.from((await r.run(x, [count, 3, 4, 4])).logits.data as Float32Array);
    const y = Uint8Array.from({ length: count }, (_, i) => { let t = 0; for (let k = 1; k < 3; k++) if (logits[i * 3 + k] > logits[i * 3 + t]) t = k; return t; });
    return { data: { name: 'block', x, y, shape: [3, 4, 4], classes: 3, count }, logits };
  } finally {
    await r.release();
  }
}

test('a ConvNeXt block (opset 14 decomposed and opset 17 LayerNormalization) runs every analysis; both forms agree', async () => {
  const [old, ln] = [block(14), block(17)];
  const a = await selfLabelled(old);
  const b = await selfLabelled(ln);
  a.logits.forEach((v, i) => assert.ok(Math.abs(v - b.logits[i]) <= 1e-5 * Math.max(1, Math.abs(v)), `logit ${i}: ${v} vs ${b.logits[i]}`));
  for (const m of [old, ln]) {
    checkSupported(m);
    const c = countModel(m);
    // stem 2·2·(4·3·2·2) + depthwise 2·2·4·9 + pwconv1 2·2·4·16 + pwconv2 2·2·16·4 + head 4·3 MACs per image
    assert.equal(c.macs, 192 + 144 + 256 + 256 + 12);
    for (const method of ['vulnerability', 'lrp', 'neurons', 'taylor'] as const) {
      const s = await rank(m, { method, data: a.data, images: method === 'lrp' || method === 'neurons' ? 6 : 3, threads: 1 });
      assert.ok(s.layers.length >= 3, `${method}: layers scored`);
      for (const l of s.layers) assert.ok(l.scores.every(Number.isFinite), `${method} ${l.name}: finite`);
    }
  }
  // per-sample norms of the channels-last MatMuls: on one image, Eq. (1) from per-image gradients
  // equals Eq. (1) from the batch gradient (nothing to sum before squaring)
  const one: Dataset = { ...a.data, x: a.data.x.subarray(0, 48), y: a.data.y.subarray(0, 1), count: 1 };
  const exact = await rank(old, { method: 'vulnerability', data: one, images: 1, threads: 1, approx: 'exact' });
  const batch = await rank(old, { method: 'vulnerability', data: one, images: 1, threads: 1, approx: 'batch' });
  for (const name of ['pwconv1', 'pwconv2']) {
    const e = exact.layers.find((l) => l.name === name)!.scores;
    const b = batch.layers.find((l) => l.name === name)!.scores;
    assert.equal(e.length, name === 'pwconv1' ? 4 * C : C);
    e.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-4 * Math.max(Math.abs(v), 1e-12), `${name}[${i}]: ${v} vs ${b[i]}`));
  }
});
