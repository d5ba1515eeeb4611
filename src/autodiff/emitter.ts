/** The gradient rules' node emitter now lives in graph/ (the VJP rules of graph/ops/ use it); re-exported for existing imports. */
export { Emitter } from '../graph/emitter.js';
