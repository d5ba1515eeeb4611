import { readModel } from './onnx.js';
import { checkSupported } from './ops.js';
import type { Model } from './types.js';

/**
 * Reads an ONNX model file (external data from the folder beside it) and checks that every op is
 * one flipguard supports. Errors are FlipguardErrors naming the file, node or op.
 */
export function loadModel(path: string): Model {
  const model = readModel(path);
  checkSupported(model);
  return model;
}
