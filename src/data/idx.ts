import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlipguardError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { BYTE_TO_UNIT, MAX_DATA_FILE_BYTES, checkLimit, checkSplit, fileSize, gunzipCapped, gunzipHead, readPrefix, requireDir } from './files.js';

/** IDX magic number of an unsigned-byte 3-D array (images N×rows×cols). */
export const IDX_IMAGES_MAGIC = 2051;
/** IDX magic number of an unsigned-byte 1-D array (labels). */
export const IDX_LABELS_MAGIC = 2049;

export interface IdxOptions {
  /** Which split (default 'test'): train-* files or t10k-* files. */
  split?: 'train' | 'test';
  /** Keep the first N samples in file order. */
  limit?: number;
  /** Number of classes; every label must be below it (default 10, as in MNIST and Fashion-MNIST). */
  classes?: number;
}

const FIX = 'download the four IDX files of MNIST or Fashion-MNIST (optionally .gz) into that folder';

/** What an IDX file's header says: the dimensions and the file length they promise, in bytes. */
interface IdxHeader { dims: number[]; length: number }

/**
 * Finds `name` or `name.gz` in `dir`, checks its header (magic number, promised length within
 * MAX_DATA_FILE_BYTES) before reading the rest, and returns the decompressed bytes. A plain file's
 * size is compared with the promise before it is read; a gzipped file is inflated only up to the
 * promised length, so a decompression bomb is stopped as soon as it passes it.
 */
function readIdxFile(dir: string, name: string, magic: number, ndim: number, kind: string): { path: string; bytes: Uint8Array; dims: number[] } {
  const plain = join(dir, name);
  const gz = `${plain}.gz`;
  const headerLength = 4 + 4 * ndim;
  if (existsSync(plain)) {
    const size = fileSize(plain);
    const header = checkHeader(plain, readPrefix(plain, Math.min(size, headerLength)), size, magic, ndim, kind);
    checkLength(plain, size, header);
    return { path: plain, bytes: readFileSync(plain), dims: header.dims };
  }
  if (existsSync(gz)) {
    const size = fileSize(gz);
    const fix = `download it again or store it uncompressed as ${name}`;
    if (size > MAX_DATA_FILE_BYTES) throw new FlipguardError(`IDX file ${gz} is ${size} bytes, above flipguard's limit of ${MAX_DATA_FILE_BYTES} bytes per data file; use a smaller dataset file.`);
    const compressed = readFileSync(gz);
    const head = gunzipHead(gz, compressed, headerLength, fix);
    const header = checkHeader(gz, head, head.length, magic, ndim, kind);
    const bytes = gunzipCapped(gz, compressed, header.length, fix);
    checkLength(gz, bytes.length, header);
    return { path: gz, bytes, dims: header.dims };
  }
  throw new FlipguardError(`IDX file ${name} (or ${name}.gz) is missing in ${dir}; ${FIX}.`);
}

function u32be(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/**
 * Checks the start of an IDX file (`head`, at least the header when the file is long enough;
 * `total` = the file's length so far known) and returns the dimensions and promised length.
 */
function checkHeader(path: string, head: Uint8Array, total: number, magic: number, ndim: number, kind: string): IdxHeader {
  const header = 4 + 4 * ndim;
  if (head.length < header) {
    throw new FlipguardError(`IDX file ${path} is only ${total} bytes, shorter than its ${header}-byte header (truncated); download it again.`);
  }
  const got = u32be(head, 0);
  if (got !== magic) {
    throw new FlipguardError(
      `IDX file ${path} has magic number ${got}, not ${magic} (${kind}); check that the file is the ${kind} file and not damaged, or download it again.`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(u32be(head, 4 + 4 * i));
  const length = header + dims.reduce((s, v) => s * v, 1);
  if (length > MAX_DATA_FILE_BYTES) {
    throw new FlipguardError(`IDX file ${path} declares ${dims.join('×')} values (${length} bytes), above flipguard's limit of ${MAX_DATA_FILE_BYTES} bytes per data file; the header is damaged or the dataset too large — download it again.`);
  }
  return { dims, length };
}

/** Checks that an IDX file's (decompressed) length is the one its header promises. */
function checkLength(path: string, length: number, h: IdxHeader): void {
  if (length !== h.length) {
    throw new FlipguardError(
      `IDX file ${path} is ${length} bytes but its header (${h.dims.join('×')}) needs ${h.length} (${length < h.length ? 'truncated' : 'extra trailing bytes'}); download it again.`,
    );
  }
}

/**
 * MNIST-format data from the official IDX files in `dir`: `train-images-idx3-ubyte` +
 * `train-labels-idx1-ubyte` (train) or `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte` (test),
 * each optionally gzipped as `<name>.gz` (the plain file wins when both exist). Works for MNIST and
 * Fashion-MNIST. Images [N,1,rows,cols] with pixels byte/255 in [0,1] (not normalised).
 */
export function loadIdx(dir: string, opts: IdxOptions = {}): Dataset {
  const split = opts.split ?? 'test';
  checkSplit(split);
  checkLimit(opts.limit);
  const classes = opts.classes ?? 10;
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) {
    throw new FlipguardError(`IDX class count must be an integer in 1..256, got ${classes}; pass the number of classes the labels use.`);
  }
  requireDir(dir, 'IDX (MNIST / Fashion-MNIST)');
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdxFile(dir, `${prefix}-images-idx3-ubyte`, IDX_IMAGES_MAGIC, 3, 'unsigned-byte 3-D images');
  const labels = readIdxFile(dir, `${prefix}-labels-idx1-ubyte`, IDX_LABELS_MAGIC, 1, 'unsigned-byte 1-D labels');
  const [n, rows, cols] = images.dims;
  const [nl] = labels.dims;
  if (n !== nl) {
    throw new FlipguardError(
      `IDX images file ${images.path} holds ${n} images but labels file ${labels.path} holds ${nl} labels; use matching files from the same release.`,
    );
  }
  if (n === 0 || rows === 0 || cols === 0) {
    throw new FlipguardError(`IDX images file ${images.path} is empty (${n}×${rows}×${cols}); ${FIX}.`);
  }
  const count = opts.limit === undefined ? n : Math.min(opts.limit, n);
  const size = rows * cols;
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.bytes[8 + i];
    if (label >= classes) {
      throw new FlipguardError(
        `IDX labels file ${labels.path} has label ${label} at sample ${i}, outside 0..${classes - 1}; pass the right class count or use the matching labels file.`,
      );
    }
    y[i] = label;
  }
  const x = new Float32Array(count * size);
  const px = images.bytes;
  for (let k = 0; k < count * size; k++) x[k] = BYTE_TO_UNIT[px[16 + k]];
  return { name: `idx-${split}`, x, y, shape: [1, rows, cols], classes, count };
}
