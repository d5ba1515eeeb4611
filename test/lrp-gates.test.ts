/**
 * LRP through gated products (issue 13): in x·sigmoid(x) (SiLU) and a squeeze-excitation block the
 * gate is held constant, so relevance equals that of the same network with the gate replaced by a
 * stored constant of the gate's value, and layers reached only through the gate get zero relevance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, makeModel } from '../src/graph/builder.js';
import type { Model } from '../src/graph/types.js';
import type { Dataset } from '../src/data/index.js';
import { ModelRunner } from '../src/runtime/session.js';
import { lrpScores } from '../src/analysis/index.js';
import { Rng } from '../src/util/rng.js';

const C = 4;

/**
 * conv(1→C, 3×3, pad 1) → h·gate → flatten → gemm(C·16 → 3) on [1, 4, 4] images. gate: 'silu'
 * sigmoid(h); 'se' HardSigmoid(conv(relu(conv(GAP(h))))) per channel; or a stored tensor.
 */
function net(gate: 'silu' | 'se' | { value: Float32Array; dims: number[] }): Model {
  const r = new Rng(21);
  const b = new GraphBuilder('gated');
  const w = (name: string, dims: number[], s = 0.6) => b.init(name, dims, Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => r.normal() * s));
  const x = b.input('input', ['batch', 1, 4, 4]);
  const h = b.node('Conv', [x, w('conv.weight', [C, 1, 3, 3]), w('conv.bias', [C], 0.1)], { pads: A.is([1, 1, 1, 1]) }, { name: 'conv', outputs: ['h'] })[0];
  const se1 = w('se1.weight', [2, C, 1, 1]);
  const se2 = w('se2.weight', [C, 2, 1, 1]);
  let g: string;
  if (gate === 'silu') g = b.node('Sigmoid', [h], {}, { name: 'sigmoid', outputs: ['gate'] })[0];
  else if (gate === 'se') {
    const s = b.op('Relu', [b.op('Conv', [b.op('GlobalAveragePool', [h]), se1], {}, 'se1')]);
    g = b.node('HardSigmoid', [b.op('Conv', [s, se2], {}, 'se2')], { alpha: A.f(1 / 6) }, { name: 'hsig', outputs: ['gate'] })[0];
  } else g = b.init('gate_const', gate.dims, gate.value);
  const m = b.op('Mul', [h, g], {}, 'gating');
  const f = b.op('Flatten', [m], { axis: A.i(1) }, 'flatten');
  b.node('Gemm', [f, w('fc.weight', [3, C * 16], 0.4), b.init('fc.bias', [3], [0.1, -0.1, 0])], { transB: A.i(1) }, { name: 'fc', outputs: ['logits'] });
  b.output('logits', ['batch', 3]);
  return makeModel(b.build());
}

/** One image labelled with the model's own prediction, and the gate's value on it. */
async function oneImage(model: Model): Promise<{ data: Dataset; gate: Float32Array; gateDims: number[] }> {
  const rng = new Rng(4);
  const x = Float32Array.from({ length: 16 }, () => rng.next());
  const r = await ModelRunner.create(model, { outputs: ['logits', 'gate'], threads: 1 });
  try {
    const out = await r.run(x, [1, 1, 4, 4]);
    const l = out.logits.data as Float32Array;
    let t = 0;
    for (let k = 1; k < 3; k++) if (l[k] > l[t]) t = k;
    return { data: { name: 'one', x, y: Uint8Array.from([t]), shape: [1, 4, 4], classes: 3, count: 1 }, gate: Float32Array.from(out.gate.data as Float32Array), gateDims: [...out.gate.dims] };
  } finally {
    await r.release();
  }
}

for (const kind of ['silu', 'se'] as const) {
  test(`LRP holds the ${kind === 'silu' ? 'SiLU sigmoid' : 'squeeze-excitation'} gate constant: relevance equals the network with the gate stored`, async () => {
    const gated = net(kind);
    const { data, gate, gateDims } = await oneImage(gated);
    const fixed = net({ value: gate, dims: gateDims });
    const opts = { data, images: 3, unit: 'weight' as const, composite: 'epsilon' as const, runtime: { threads: 1 } };
    const a = await lrpScores(gated, opts);
    const b = await lrpScores(fixed, opts);
    for (const name of ['conv', 'fc']) {
      const la = a.layers.find((l) => l.name === name)!;
      const lb = b.layers.find((l) => l.name === name)!;
      assert.equal(la.scores.length, lb.scores.length);
      la.scores.forEach((v, i) => assert.ok(Math.abs(v - lb.scores[i]) <= 1e-6 * Math.max(1, Math.abs(lb.scores[i])), `${name}[${i}]: ${v} vs ${lb.scores[i]}`));
      assert.ok(la.scores.some((v) => v !== 0), `${name}: some relevance`);
    }
    if (kind === 'se') {
      for (const name of ['se1', 'se2']) {
        const l = a.layers.find((x) => x.name === name);
        assert.ok(l, `${name} is reported`);
        assert.ok(l!.scores.every((v) => v === 0), `${name} is reached only through the gate: zero relevance`);
      }
    }
  });
}
