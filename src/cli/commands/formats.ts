import { loadModel } from '../../graph/load.js';
import { writeModel } from '../../graph/onnx.js';
import { convertModel, quantizeModel, type Calibration, type FloatFormat } from '../../formats/index.js';
import { evaluate } from '../../runtime/evaluate.js';
import { DEFAULT_CALIBRATION_IMAGES, DEFAULT_CALIBRATION_PERCENTILE } from '../../defaults.js';
import { checkOutputs, dataOptions, datasetFromOptions, threadsOption, type Command } from '../command.js';
import { FlipguardError } from '../../errors.js';

function needOut(v: Record<string, unknown>, command: string): void {
  if (!v.out) throw new FlipguardError(`flipguard ${command} needs --out FILE for the converted model.`);
}

export const convertCommand: Command = {
  name: 'convert',
  summary: 'store a float32 model\'s parameters as float16 or bfloat16',
  usage: 'MODEL --to float16|bfloat16 [--native] --out FILE [--force]',
  positionals: [1, 1],
  options: {
    to: { kind: 'string', arg: 'float16|bfloat16', help: 'stored format of the parameters (computation stays float32 via Cast)', choices: ['float16', 'bfloat16'] },
    native: { kind: 'bool', help: 'float16 only: the whole graph computes in float16 (float16 input, parameters and logits, like model.half())' },
    out: { kind: 'string', arg: 'FILE', help: 'where to write the converted model' },
  },
  async run({ positionals, values: v }) {
    if (!v.to) throw new FlipguardError('flipguard convert needs --to float16 or --to bfloat16.');
    needOut(v, 'convert');
    const outputs = checkOutputs(v, ['out'], [positionals[0]]);
    const model = loadModel(positionals[0]);
    const r = convertModel(model, v.to as FloatFormat, { native: v.native === true });
    writeModel(v.out as string, r.model, outputs);
    process.stdout.write(`${r.converted.length} parameter tensors stored as ${v.to}${v.native ? ', computed natively in float16' : ''} (largest relative rounding error ${r.maxRelativeError.toExponential(2)}) → ${v.out}\n`);
  },
};

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'int8 post-training quantization (QDQ) calibrated on training images',
  usage: 'MODEL --out FILE [--data mnist] [--calibration minmax|percentile] [--percentile P] [--images N] [--force]',
  positionals: [1, 1],
  options: {
    ...dataOptions,
    threads: threadsOption,
    out: { kind: 'string', arg: 'FILE', help: 'where to write the int8 model' },
    calibration: { kind: 'string', arg: 'minmax|percentile', help: 'activation ranges: min/max, or a percentile of the values', choices: ['minmax', 'percentile'], default: 'minmax' },
    percentile: { kind: 'number', arg: 'P', help: `with --calibration percentile: the upper percentile (default ${DEFAULT_CALIBRATION_PERCENTILE})` },
    images: { kind: 'int', arg: 'N', help: `training images to calibrate on (default ${DEFAULT_CALIBRATION_IMAGES})`, min: 1 },
  },
  async run({ positionals, values: v }) {
    needOut(v, 'quantize');
    const outputs = checkOutputs(v, ['out'], [positionals[0]]);
    const model = loadModel(positionals[0]);
    const train = datasetFromOptions(v, model, 'train');
    const test = datasetFromOptions(v, model, 'test');
    const runtime = { threads: v.threads as number | undefined };
    const r = await quantizeModel(model, train, { ...runtime, calibration: v.calibration as Calibration, percentile: v.percentile as number | undefined, images: v.images as number | undefined });
    const before = await evaluate(model, test, runtime);
    const after = await evaluate(r.model, test, runtime);
    writeModel(v.out as string, r.model, outputs);
    const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
    process.stdout.write(`${r.layers.length} layers int8, ${r.activations.length} activations quantized (${v.calibration}) → ${v.out}\n`);
    process.stdout.write(`accuracy on ${test.count} ${test.name} images: float32 ${pct(before.accuracy)}, int8 ${pct(after.accuracy)} (${((after.accuracy - before.accuracy) * 100).toFixed(2)} points)\n`);
  },
};
