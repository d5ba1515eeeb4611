/**
 * Size limits that protect the user's machine from a model file (or a zoo request) that declares
 * far more data than is sensible: checked before anything of that size is allocated.
 */

/**
 * Most bytes of tensor values one model may hold: 2^31 bytes (2 GiB), i.e. 536,870,912 float32
 * parameters. Why this number: an ONNX file with inline weights is one protobuf message, which
 * protobuf caps at 2 GiB, so no ordinary export is larger; and training holds about four copies of
 * the parameters (weights, gradients, two optimizer moments), so 2 GiB of weights already needs
 * ~8 GiB of memory.
 */
export const MAX_MODEL_BYTES = 2 ** 31;

/** `MAX_MODEL_BYTES` as float32 parameters. */
export const MAX_MODEL_PARAMETERS = MAX_MODEL_BYTES / 4;

/** 123456789 → "117.7 MiB" (binary units; bytes below 1 KiB as "N bytes"). */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  if (!Number.isFinite(bytes)) return 'unboundedly many bytes';
  if (!(bytes >= 1024)) return `${bytes} bytes`;
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** The limit as the sentence fragment every refusal uses. */
export const MODEL_LIMIT_TEXT = `flipguard's limit of ${formatBytes(MAX_MODEL_BYTES)} (${(MAX_MODEL_PARAMETERS / 1e6).toFixed(0)} M float32 parameters) per model`;
