/**
 * Standard weight initialisation for the zoo, deterministic for a seed.
 *
 * Every tensor draws from its own generator, `Rng.fromParts('flipguard.models.init', seed, name)`,
 * so a tensor's values depend only on the seed, its name and its shape — not on the order in which
 * a builder creates layers, nor on the other layers of the model.
 *
 * Conventions (PyTorch's, as torchvision applies them to CNNs):
 * - Conv weight: Kaiming normal, mode fan_out, gain √2 (ReLU): N(0, 2 / (C_out·kh·kw)).
 * - Conv bias (where a layer has one): 0.
 * - Dense (Gemm) weight and bias: PyTorch's `nn.Linear` default, U(−1/√fan_in, 1/√fan_in).
 * - BatchNormalization: scale (gamma) 1, shift (beta) 0, running mean 0, running variance 1.
 */
import { Rng } from '../util/rng.js';

const STREAM = 'flipguard.models.init';

function rngFor(seed: number, name: string): Rng {
  return Rng.fromParts(STREAM, seed, name);
}

/** `n` values drawn from N(0, std²), from the stream of tensor `name`. */
export function normalValues(seed: number, name: string, n: number, std: number): Float32Array {
  const rng = rngFor(seed, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

/** `n` values drawn from U(−bound, bound), from the stream of tensor `name`. */
export function uniformValues(seed: number, name: string, n: number, bound: number): Float32Array {
  const rng = rngFor(seed, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * bound;
  return out;
}

/** Kaiming-normal (fan_out, ReLU gain) values for a conv weight of shape [C_out, C_in/group, kh, kw]. */
export function kaimingNormalFanOut(seed: number, name: string, dims: readonly [number, number, number, number]): Float32Array {
  const [cOut, cInPerGroup, kh, kw] = dims;
  const fanOut = cOut * kh * kw;
  return normalValues(seed, name, cOut * cInPerGroup * kh * kw, Math.sqrt(2 / fanOut));
}

/** PyTorch `nn.Linear` default values for a weight [out, in] or a bias [out]: U(±1/√fan_in). */
export function linearDefault(seed: number, name: string, n: number, fanIn: number): Float32Array {
  return uniformValues(seed, name, n, 1 / Math.sqrt(fanIn));
}

/** `n` copies of `value`. */
export function constantValues(n: number, value: number): Float32Array {
  return new Float32Array(n).fill(value);
}
