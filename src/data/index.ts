/** Datasets for evaluation and training: bundled MNIST, CIFAR-10/100 binary, IDX; batching; normalisation. */
export type { Batch, BatchOptions, Dataset } from './dataset.js';
export { batches, classCounts, imageSize, subset } from './dataset.js';
export type { Normalization } from './normalize.js';
export { checkNormalization, normalize, normalizationFromMetadata, NORMALIZE_MEAN_KEY, NORMALIZE_STD_KEY } from './normalize.js';
export { loadBundledMnist } from './mnist.js';
export type { Cifar100Options, CifarOptions } from './cifar.js';
export { CIFAR_PIXELS, loadCifar10, loadCifar100 } from './cifar.js';
export type { IdxOptions } from './idx.js';
export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, loadIdx } from './idx.js';
export type { DatasetName, LoadDatasetOptions } from './load.js';
export { DATASET_NAMES, loadDataset } from './load.js';
export { BYTE_TO_UNIT } from './files.js';
export { randomImages } from './random.js';
