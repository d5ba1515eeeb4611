import { visible } from '../../util/text.js';
import { loadModel } from '../../graph/load.js';
import { modelInfo } from '../../graph/info.js';
import { storedWordTensors } from '../../harden/common.js';
import { checkOutputs, type Command } from '../command.js';
import { writeJson, bold } from '../output.js';
import { formatTable, groupInt, humanCount } from '../table.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'layers, shapes, parameters and MACs of an ONNX model',
  usage: 'MODEL [--json FILE]',
  positionals: [1, 1],
  options: { json: { kind: 'string', arg: 'FILE', help: 'also write the report as JSON' } },
  async run({ positionals, values }) {
    const out = checkOutputs(values, ['json'], [positionals[0]]);
    const model = loadModel(positionals[0]);
    // a tmr-bits model stores its weights as int32 words: they are its parameters
    const info = modelInfo(model, storedWordTensors(model));
    const rows = info.layers.map((l) => [l.name, l.op, `[${l.outputShape.join('×')}]`, groupInt(l.parameters), groupInt(l.macs)]);
    // producer, value names and symbolic dims come from the file: escaped for the terminal
    const shape = (s: (number | string | null)[]) => visible(s.map((d) => d ?? '?').join('×'));
    process.stdout.write(`${bold(visible(positionals[0]))}  (${visible(info.producer || 'unknown producer')}, opset ${info.opset})\n`);
    process.stdout.write(`input ${visible(info.input.name)} [${shape(info.input.shape)}] → output ${visible(info.output.name)} [${shape(info.output.shape)}]\n\n`);
    process.stdout.write(formatTable(['layer', 'op', 'output', 'parameters', 'MACs/image'], rows) + '\n\n');
    process.stdout.write(`total: ${groupInt(info.parameters)} parameters (${humanCount(info.parameters)}), ${(info.storedBytes / 1024).toFixed(1)} KiB stored, ${groupInt(info.macs)} MACs per image (${humanCount(info.macs)})\n`);
    const formats = info.formats.map((f) => `${f.format} ${groupInt(f.parameters)} in ${f.tensors} tensors (${groupInt(f.bits)} bits)`);
    if (formats.length) process.stdout.write(`stored parameters by format: ${formats.join('; ')}\n`);
    if (values.json) writeJson(values.json as string, info, out);
  },
};
