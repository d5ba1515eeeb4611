/**
 * Fine-tuning after pruning (SPEC §5): paper A retrains the pruned network for 10 epochs with SGD
 * at learning rate 0.001. A thin wrapper over the training loop with those defaults.
 */
import { check } from '../errors.js';
import type { Dataset } from '../data/index.js';
import type { Model } from '../graph/types.js';
import { train, type TrainOptions, type TrainResult } from '../train/train.js';

export interface FineTuneOptions extends Partial<Omit<TrainOptions, 'epochs'>> {
  /** Epochs over the training set (default 10, paper A). 0 returns the model unchanged. */
  epochs?: number;
}

/** Paper A's fine-tuning settings. */
export const FINE_TUNE_DEFAULTS = Object.freeze({ epochs: 10, optimizer: 'sgd' as const, lr: 0.001 });

/**
 * Fine-tunes `model` on `trainData` with cross-entropy: SGD, learning rate 0.001 and 10 epochs
 * unless overridden. `momentum` defaults to the optimizer's 0.9 (pass 0 for plain SGD); `schedule`
 * (constant by default), `batch`, `seed`, `maxStepsPerEpoch` and `onProgress` are passed to
 * `train`. With `evalData` the parameters of the epoch with the best accuracy on it are returned
 * (best checkpoint); otherwise those after the last epoch. The input model is not modified.
 */
export async function fineTune(model: Model, trainData: Dataset, opts: FineTuneOptions = {}): Promise<TrainResult> {
  const epochs = opts.epochs ?? FINE_TUNE_DEFAULTS.epochs;
  check(Number.isInteger(epochs) && epochs >= 0, `The fine-tuning epochs must be a whole number ≥ 0, got ${epochs}.`);
  if (epochs === 0) return { model, history: [], bestEpoch: 0, imagesPerSecond: 0 };
  return train(model, trainData, {
    ...opts,
    epochs,
    optimizer: opts.optimizer ?? FINE_TUNE_DEFAULTS.optimizer,
    lr: opts.lr ?? FINE_TUNE_DEFAULTS.lr,
  });
}
