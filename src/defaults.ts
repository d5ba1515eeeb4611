/**
 * flipguard's defaults, in one place: every module and the CLI read them from here.
 *
 * Seeds: campaigns, hardening sweeps, the demo and fault-injection ground truth default to seed 1;
 * the image samples of the importance scores, pruning and training default to seed 0. They differ
 * for historical reasons and are kept so that results of the first release reproduce exactly
 * (the shipped models' commands pass `--seed 0` explicitly).
 */

/** flipguard's version (package.json's; test/api.test.ts checks they agree). */
export const FLIPGUARD_VERSION = '0.1.0';

/** Images per onnxruntime run when the caller does not say. */
export const DEFAULT_BATCH = 256;

/** Images per training (and fine-tuning) step when the caller does not say. */
export const DEFAULT_TRAIN_BATCH = 64;

/** Seed of campaigns, hardening sweeps, the demo and ground-truth faults. */
export const DEFAULT_SEED = 1;

/** Seed of the importance scores' image samples and random scores, of pruning and of training. */
export const DEFAULT_SAMPLE_SEED = 0;

/** Hardening ratio r (paper A's headline 15%). */
export const DEFAULT_RATIO = 0.15;

/** Name of the Redis (BullMQ) queue of campaign trials; coordinator and workers must agree. */
export const DEFAULT_QUEUE_NAME = 'flipguard';

/** Seconds after which a job whose worker stopped renewing its lock (it died) goes back to the queue. */
export const DEFAULT_LOCK_SECONDS = 30;

/** Bit positions tmr-bits protects when none are given: the exponent's top bit (float32 bit 30), where nearly all damage comes from. */
export const DEFAULT_TMR_BITS: readonly number[] = [30];
/** tmr-bits' default bit per stored weight format: the exponent's top bit of a float, the sign bit (weight −128) of int8. */
export const DEFAULT_TMR_BITS_BY_FORMAT: Readonly<Record<'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8', readonly number[]>> = {
  float32: DEFAULT_TMR_BITS, float16: [14], bfloat16: [14], int8: [7], uint8: [7],
};

/** BER at which the Pareto view of hardening variants compares accuracy drops (when the sweep has it). */
export const DEFAULT_PARETO_BER = 1e-5;

/**
 * Where ranger's range check sits (harden `placement`): behind the layer's batch norm. Fault-free
 * exact on the zoo and the PyTorch exports, keeps Conv+BN fused, and also checks the batch norm's
 * own parameters (vgg11-mnist drop at BER 1e-4: 0.7 pp vs 34 pp at paper A's conv-output placement;
 * bench/RESULTS.md). Paper A's placement is `placement: 'paper'`.
 */
export const DEFAULT_PLACEMENT = 'after-bn' as const;

/** Training images that calibrate `quantize`'s activation ranges. */
export const DEFAULT_CALIBRATION_IMAGES = 1000;

/** Percentile of `quantize --calibration percentile`: each activation range is cut at this percentile (and 100 − it). */
export const DEFAULT_CALIBRATION_PERCENTILE = 99.99;
