/** Number formats (issue 15): float16/bfloat16 conversion, int8 post-training quantization, QOperator → QDQ. */
export { FLOAT_FORMATS, convertModel, type ConvertResult, type FloatFormat } from './convert.js';
export { CALIBRATIONS, activationParams, quantizeModel, quantizeWeights, type Calibration, type QuantizeOptions, type QuantizeResult } from './quantize.js';
export { dequantizedModel, needsDequantizing, refuseStoredFormats, type DequantizedModel } from './dequantize.js';
export { hasQOperator, qdqForm, qoperatorToQdq, refuseIntegerKernels, type QdqRewrite } from './qoperator.js';
