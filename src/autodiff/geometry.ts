/** Window geometry lives once, in graph/ops/window.ts (shape rules and VJP rules share it); re-exported for existing imports. */
export { windowOf, convWeightGrad, perSampleConvWeightGrad, type Window } from '../graph/ops/window.js';
