import { readModel } from './onnx.js';
import { checkSupported } from './ops.js';
import type { Model } from './types.js';

export interface LoadOptions {
  /**
   * Receives each warning sentence (e.g. an opset outside the tested range); default: one line
   * "warning: …" on stderr, so the user sees it.
   */
  onWarning?: (message: string) => void;
}

/** The default warning sink: one line on stderr. */
export function printWarning(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * Reads an ONNX model file (external data from the folder beside it) and checks that every op is
 * one flipguard supports. Errors are FlipguardErrors naming the file, node or op; warnings go to
 * `opts.onWarning`.
 */
export function loadModel(path: string, opts: LoadOptions = {}): Model {
  const model = readModel(path);
  for (const w of checkSupported(model)) (opts.onWarning ?? printWarning)(w);
  return model;
}
