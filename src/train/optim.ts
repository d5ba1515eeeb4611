/**
 * Optimizers over named parameter vectors. Updates are JavaScript loops over each parameter array
 * once per step (DESIGN.md allows this); gradients come from a gradient graph run by onnxruntime.
 */
import { FlipguardError, opt } from '../errors.js';

export type OptimizerName = 'sgd' | 'adam';

export interface OptimizerOptions {
  optimizer?: OptimizerName;
  /** Learning rate at step 0 (before the schedule). SGD default 0.01, Adam 0.001. */
  lr?: number;
  /** SGD momentum (default 0.9); 0 for plain SGD. */
  momentum?: number;
  /** L2 weight decay added to the gradient (default 0; applied to weights of rank ≥ 2 only). */
  weightDecay?: number;
  /** Adam betas and epsilon. */
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface Optimizer {
  readonly name: OptimizerName;
  /** Updates `params` in place from `grads` with learning rate `lr`. */
  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void;
}

export function defaultLr(name: OptimizerName): number {
  return name === 'adam' ? 0.001 : 0.01;
}

/** Creates an optimizer. `decayed` tells which parameters get weight decay (default: all). */
export function createOptimizer(opts: OptimizerOptions, decayed: (name: string) => boolean = () => true): Optimizer {
  const name = opts.optimizer ?? 'sgd';
  const wd = opts.weightDecay ?? 0;
  if (!(wd >= 0)) throw new FlipguardError(`The ${opt('weightDecay')} must be ≥ 0, got ${wd}.`);
  if (name === 'sgd') {
    const mom = opts.momentum ?? 0.9;
    if (!(mom >= 0 && mom < 1)) throw new FlipguardError(`The ${opt('momentum')} must be in [0, 1), got ${mom}.`);
    const velocity = new Map<string, Float32Array>();
    return {
      name,
      step(params, grads, lr) {
        for (const [k, p] of params) {
          const g = grads.get(k);
          if (!g) continue;
          const d = decayed(k) ? wd : 0;
          let v = velocity.get(k);
          if (!v) { v = new Float32Array(p.length); velocity.set(k, v); }
          for (let i = 0; i < p.length; i++) {
            const gi = g[i] + d * p[i];
            v[i] = mom * v[i] + gi;
            p[i] -= lr * v[i];
          }
        }
      },
    };
  }
  if (name === 'adam') {
    const b1 = opts.beta1 ?? 0.9, b2 = opts.beta2 ?? 0.999, eps = opts.eps ?? 1e-8;
    const m1 = new Map<string, Float32Array>(), m2 = new Map<string, Float32Array>();
    let t = 0;
    return {
      name,
      step(params, grads, lr) {
        t++;
        const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
        for (const [k, p] of params) {
          const g = grads.get(k);
          if (!g) continue;
          const d = decayed(k) ? wd : 0;
          let a = m1.get(k), b = m2.get(k);
          if (!a || !b) { a = new Float32Array(p.length); b = new Float32Array(p.length); m1.set(k, a); m2.set(k, b); }
          for (let i = 0; i < p.length; i++) {
            const gi = g[i] + d * p[i];
            a[i] = b1 * a[i] + (1 - b1) * gi;
            b[i] = b2 * b[i] + (1 - b2) * gi * gi;
            p[i] -= (lr * (a[i] / c1)) / (Math.sqrt(b[i] / c2) + eps);
          }
        }
      },
    };
  }
  throw new FlipguardError(`Unknown optimizer "${name as string}"; use sgd or adam.`);
}

export type ScheduleName = 'constant' | 'step' | 'cosine';

export interface ScheduleOptions {
  schedule?: ScheduleName;
  /** step: multiply by `gamma` every `stepEpochs` epochs (defaults 0.1 and a third of the epochs). */
  gamma?: number;
  stepEpochs?: number;
}

/** Learning rate for a fractional epoch position `epoch` ∈ [0, epochs). */
export function scheduledLr(base: number, epoch: number, epochs: number, s: ScheduleOptions = {}): number {
  switch (s.schedule ?? 'constant') {
    case 'constant': return base;
    case 'step': {
      const every = s.stepEpochs ?? Math.max(1, Math.floor(epochs / 3));
      return base * (s.gamma ?? 0.1) ** Math.floor(epoch / every);
    }
    case 'cosine': return 0.5 * base * (1 + Math.cos((Math.PI * epoch) / Math.max(epochs, 1e-9)));
    default: throw new FlipguardError(`Unknown schedule "${s.schedule}"; use constant, step or cosine.`);
  }
}
