/** Number formats (issue 15): float16/bfloat16 conversion and int8 post-training quantization. */
export { FLOAT_FORMATS, convertModel, type ConvertResult, type FloatFormat } from './convert.js';
export { CALIBRATIONS, activationParams, quantizeModel, quantizeWeights, type Calibration, type QuantizeOptions, type QuantizeResult } from './quantize.js';
export { dequantizedModel, needsDequantizing, refuseStoredFormats, type DequantizedModel } from './dequantize.js';
