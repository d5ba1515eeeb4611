import { FlipguardError } from '../../errors.js';
import { loadModel } from '../../graph/load.js';
import { writeModel } from '../../graph/onnx.js';
import { withMetadata, type Model } from '../../graph/types.js';
import { ARCHS, buildModel, type Arch } from '../../models/index.js';
import { train } from '../../train/train.js';
import type { OptimizerName } from '../../train/optim.js';
import type { ScheduleName } from '../../train/optim.js';
import { NORMALIZE_MEAN_KEY, NORMALIZE_STD_KEY } from '../../data/index.js';
import { Progress } from '../progress.js';
import { dataOptions, datasetFromOptions, threadsOption, checkOutputs, type Command } from '../command.js';
import { writeJson } from '../output.js';
import { formatTable } from '../table.js';
import { DEFAULT_SAMPLE_SEED, DEFAULT_TRAIN_BATCH } from '../../defaults.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a zoo architecture (or fine-tune an ONNX model) and write ONNX',
  usage: '(--arch ARCH | --from MODEL) --data mnist --epochs E --out model.onnx',
  positionals: [0, 0],
  options: {
    arch: { kind: 'string', arg: ARCHS.join('|'), help: 'zoo architecture to build and train', choices: ARCHS },
    from: { kind: 'string', arg: 'MODEL', help: 'fine-tune this ONNX model instead' },
    width: { kind: 'number', arg: 'W', help: 'channel width multiplier for --arch', default: 1 },
    ...dataOptions,
    epochs: { kind: 'int', arg: 'E', help: 'epochs', min: 1 },
    lr: { kind: 'number', arg: 'LR', help: 'learning rate (default 0.01 for sgd, 0.001 for adam)' },
    optimizer: { kind: 'string', arg: 'sgd|adam', help: 'optimizer', choices: ['sgd', 'adam'], default: 'sgd' },
    momentum: { kind: 'number', arg: 'M', help: 'SGD momentum', default: 0.9 },
    'weight-decay': { kind: 'number', arg: 'WD', help: 'L2 weight decay on weight matrices and filters', default: 0 },
    schedule: { kind: 'string', arg: 'constant|step|cosine', help: 'learning-rate schedule', choices: ['constant', 'step', 'cosine'], default: 'constant' },
    batch: { kind: 'int', arg: 'B', help: 'images per step', default: DEFAULT_TRAIN_BATCH, min: 1 },
    augment: { kind: 'int', arg: 'PIXELS', help: 'random shifts of up to PIXELS pixels during training', default: 0, min: 0 },
    hflip: { kind: 'bool', help: 'random horizontal flips during training (natural images, not digits)' },
    seed: { kind: 'int', arg: 'S', help: 'seed for initialisation, shuffling and dropout', default: DEFAULT_SAMPLE_SEED },
    threads: threadsOption,
    out: { kind: 'string', arg: 'FILE', help: 'where to write the trained ONNX model' },
    json: { kind: 'string', arg: 'FILE', help: 'also write the epoch history as JSON' },
  },
  async run({ values: v }) {
    if (!v.out) throw new FlipguardError('flipguard train needs --out FILE for the trained model.');
    if (v.epochs === undefined) throw new FlipguardError('flipguard train needs --epochs E.');
    if (Boolean(v.arch) === Boolean(v.from)) throw new FlipguardError('flipguard train needs exactly one of --arch ARCH (train from scratch) or --from MODEL (fine-tune).');
    const outputs = checkOutputs(v, ['out', 'json'], [v.from as string | undefined]);
    const trainData = datasetFromOptions(v, undefined, 'train');
    const evalData = datasetFromOptions({ ...v, limit: undefined }, undefined, 'test');
    let model: Model = v.from
      ? loadModel(v.from as string)
      : buildModel(v.arch as Arch, { inputShape: trainData.shape, classes: trainData.classes, width: v.width as number, seed: v.seed as number });
    let epochBar: Progress | undefined;
    const result = await train(model, trainData, {
      epochs: v.epochs as number, batch: v.batch as number, seed: v.seed as number, lr: v.lr as number | undefined,
      optimizer: v.optimizer as OptimizerName, momentum: v.momentum as number, weightDecay: v['weight-decay'] as number,
      schedule: v.schedule as ScheduleName, augment: { shift: v.augment as number, hflip: Boolean(v.hflip) }, threads: v.threads as number | undefined, evalData,
      onProgress: (p) => {
        if (p.epochDone) {
          epochBar?.done();
          epochBar = undefined;
          if (!v.quiet) process.stderr.write(`epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, train ${(p.accuracy * 100).toFixed(2)}%, test ${p.evalAccuracy !== undefined ? (p.evalAccuracy * 100).toFixed(2) + '%' : '-'}, ${p.imagesPerSecond.toFixed(0)} img/s\n`);
          return;
        }
        epochBar ??= new Progress(`epoch ${p.epoch}/${p.epochs}`, p.perEpoch, { quiet: Boolean(v.quiet) });
        epochBar.update(p.seen, `loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(1)}% ${p.imagesPerSecond.toFixed(0)} img/s`);
      },
    });
    epochBar?.done();
    model = result.model;
    const mean = v.mean as number[] | undefined, std = v.std as number[] | undefined;
    if (mean && std) { model = withMetadata(model, NORMALIZE_MEAN_KEY, JSON.stringify(mean)); model = withMetadata(model, NORMALIZE_STD_KEY, JSON.stringify(std)); }
    model = withMetadata(model, 'flipguard.trained', JSON.stringify({ data: v.data, epochs: v.epochs, bestEpoch: result.bestEpoch, testAccuracy: result.bestAccuracy, seed: v.seed, optimizer: v.optimizer, lr: v.lr, batch: v.batch }));
    writeModel(v.out as string, model, outputs);
    process.stdout.write(formatTable(['epoch', 'loss', 'train acc', 'test acc', 'seconds'], result.history.map((h) => [h.epoch, h.loss.toFixed(4), `${(h.trainAccuracy * 100).toFixed(2)}%`, h.evalAccuracy !== undefined ? `${(h.evalAccuracy * 100).toFixed(2)}%` : '-', h.seconds.toFixed(1)])) + '\n');
    process.stdout.write(`best epoch ${result.bestEpoch}: test accuracy ${((result.bestAccuracy ?? 0) * 100).toFixed(2)}%, ${result.imagesPerSecond.toFixed(0)} training images/s → ${v.out}\n`);
    if (v.json) writeJson(v.json as string, { history: result.history, bestEpoch: result.bestEpoch, testAccuracy: result.bestAccuracy, imagesPerSecond: result.imagesPerSecond }, outputs);
  },
};
