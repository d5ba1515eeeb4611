import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FlipguardError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { BYTE_TO_UNIT, checkLimit, checkSplit, fileSize, readPrefix, requireDir, resolveDataFolder } from './files.js';

/** Bytes of pixels per CIFAR image: 3 channel planes (R, G, B) of 32×32, row-major. */
export const CIFAR_PIXELS = 3072;

const CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar.html';

export interface CifarOptions {
  /** Which split (default 'test'). */
  split?: 'train' | 'test';
  /** Keep the first N records in file order (files in the order listed by the loader). */
  limit?: number;
}

export interface Cifar100Options extends CifarOptions {
  /** 'fine' (default): 100 classes from the second label byte; 'coarse': 20 superclasses from the first. */
  labels?: 'fine' | 'coarse';
}

interface Layout {
  title: string;
  archive: string;
  subfolder: string;
  files: string[];
  /** Bytes per record: label byte(s) + 3072 pixel bytes. */
  record: number;
  /** Offset of the label byte used, within a record. */
  labelOffset: number;
  classes: number;
}

/**
 * Reads CIFAR binary records from `layout.files` inside `dir` (or `dir/<subfolder>`): each file must
 * be a whole number of records; only the bytes needed for `limit` samples are read.
 */
function readCifar(dir: string, layout: Layout, name: string, limit: number | undefined): Dataset {
  requireDir(dir, layout.title);
  const base = resolveDataFolder(dir, layout.subfolder, layout.files[0]);
  const fix = `download the binary version (${layout.archive}) from ${CIFAR_URL} and extract it into ${dir}`;
  const paths = layout.files.map((f) => join(base, f));
  const records: number[] = [];
  for (const p of paths) {
    if (!existsSync(p)) {
      throw new FlipguardError(`${layout.title} file ${p} is missing; ${fix}.`);
    }
    const size = fileSize(p);
    if (size === 0 || size % layout.record !== 0) {
      throw new FlipguardError(
        `${layout.title} file ${p} is ${size} bytes, not a whole number of ${layout.record}-byte records (truncated or not a ${layout.title} binary file); ${fix}.`,
      );
    }
    records.push(size / layout.record);
  }
  const total = records.reduce((s, v) => s + v, 0);
  const count = limit === undefined ? total : Math.min(limit, total);
  const x = new Float32Array(count * CIFAR_PIXELS);
  const y = new Uint8Array(count);
  let filled = 0;
  for (let f = 0; f < paths.length && filled < count; f++) {
    const need = Math.min(records[f], count - filled);
    const bytes = readPrefix(paths[f], need * layout.record);
    const pixOffset = layout.record - CIFAR_PIXELS;
    for (let r = 0; r < need; r++) {
      const rec = r * layout.record;
      const label = bytes[rec + layout.labelOffset];
      if (label >= layout.classes) {
        throw new FlipguardError(
          `${layout.title} file ${paths[f]} record ${r} has label ${label}, outside 0..${layout.classes - 1} (not a ${layout.title} binary file); ${fix}.`,
        );
      }
      y[filled] = label;
      const out = filled * CIFAR_PIXELS;
      const src = rec + pixOffset;
      for (let k = 0; k < CIFAR_PIXELS; k++) x[out + k] = BYTE_TO_UNIT[bytes[src + k]];
      filled++;
    }
  }
  return { name, x, y, shape: [3, 32, 32], classes: layout.classes, count };
}

/**
 * CIFAR-10 from the official binary version in `dir` (or `dir/cifar-10-batches-bin/`):
 * train = `data_batch_1.bin` … `data_batch_5.bin` in that order, test = `test_batch.bin`; each
 * record is 1 label byte + 3072 pixel bytes. Images [N,3,32,32] with pixels byte/255 in [0,1]
 * (not normalised); 10 classes.
 */
export function loadCifar10(dir: string, opts: CifarOptions = {}): Dataset {
  const split = opts.split ?? 'test';
  checkSplit(split);
  checkLimit(opts.limit);
  const files = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  return readCifar(
    dir,
    { title: 'CIFAR-10', archive: 'cifar-10-binary.tar.gz', subfolder: 'cifar-10-batches-bin', files, record: 1 + CIFAR_PIXELS, labelOffset: 0, classes: 10 },
    `cifar10-${split}`,
    opts.limit,
  );
}

/**
 * CIFAR-100 from the official binary version in `dir` (or `dir/cifar-100-binary/`): `train.bin`
 * or `test.bin`, each record 1 coarse label byte + 1 fine label byte + 3072 pixel bytes. Labels are
 * the fine ones (100 classes) unless `labels: 'coarse'` (20 classes). Images [N,3,32,32], pixels
 * byte/255 in [0,1] (not normalised).
 */
export function loadCifar100(dir: string, opts: Cifar100Options = {}): Dataset {
  const split = opts.split ?? 'test';
  checkSplit(split);
  checkLimit(opts.limit);
  const labels = opts.labels ?? 'fine';
  if (labels !== 'fine' && labels !== 'coarse') {
    throw new FlipguardError(`Unknown CIFAR-100 label kind ${JSON.stringify(labels)}; use "fine" or "coarse".`);
  }
  const coarse = labels === 'coarse';
  return readCifar(
    dir,
    {
      title: 'CIFAR-100',
      archive: 'cifar-100-binary.tar.gz',
      subfolder: 'cifar-100-binary',
      files: [`${split}.bin`],
      record: 2 + CIFAR_PIXELS,
      labelOffset: coarse ? 0 : 1,
      classes: coarse ? 20 : 100,
    },
    coarse ? `cifar100-coarse-${split}` : `cifar100-${split}`,
    opts.limit,
  );
}
