/** Fault models, seeded fault plans and bit-exact injection (SPEC §1). */
export { FLOAT32_BITS, NAMED_BIT_RANGES, bitsOfFloat32, flipBit, flipFloat32, float32FromBits, getBit, resolveBits, setBit, wordOf, type BitRange } from './bits.js';
export { dataFingerprint, modelFingerprint, parameterFingerprint } from './fingerprint.js';
export { applyFaults, cleanParameters, injectFaults, type InjectionResult } from './inject.js';
export { parseFaultList, readFaultList, type FaultList } from './list.js';
export { insertStuckAtZero, predictWithNeuronFaults, probeValues, type NeuronFault, type ValueProbe } from './neuron.js';
export { listParameters, liveValues, type ParameterInfo, type ParameterRole } from './params.js';
export {
  COUNT_MODES, FAULT_KINDS, FaultPlanner, checkBer, checkSeed, floorCount, planDigest, planFaults, trialSeed,
  type CountMode, type FaultKind, type FaultModelOptions, type FaultPlan, type WeightFault,
} from './plan.js';
export { bernoulliPositions, positionsWithReplacement, positionsWithoutReplacement, sampleBinomial } from './sample.js';
export { partitionAt, singleValueCuts, splitModels, type GraphSplit, type ValueTypes } from './split.js';
export { compilePattern, normalizeFilter, selectTargets, type TargetFilter } from './targets.js';
