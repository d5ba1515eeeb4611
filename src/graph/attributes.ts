/** Attribute constructors (ONNX distinguishes int and float attributes, JavaScript does not). */
import type { Attribute, Tensor } from './types.js';

export const A = {
  i: (value: number): Attribute => ({ type: 'int', value }),
  f: (value: number): Attribute => ({ type: 'float', value }),
  s: (value: string): Attribute => ({ type: 'string', value }),
  is: (value: number[]): Attribute => ({ type: 'ints', value }),
  fs: (value: number[]): Attribute => ({ type: 'floats', value }),
  t: (value: Tensor): Attribute => ({ type: 'tensor', value }),
};
