import { loadDataset, normalizationFromMetadata, type Dataset, type DatasetName } from '../data/index.js';
import type { Model } from '../graph/types.js';
import type { OptionSpec, Parsed } from './args.js';
import { DEFAULT_BATCH } from '../defaults.js';

/** A CLI subcommand: a thin wrapper that parses flags into a library call's options. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Number of positional arguments required (min, max). */
  positionals: [number, number];
  run(args: Parsed): Promise<void>;
}

/** Options every command takes. */
export const commonOptions: Record<string, OptionSpec> = {
  quiet: { kind: 'bool', help: 'no progress output' },
  verbose: { kind: 'bool', help: 'more detail: one line per trial for inject, stack traces on internal errors' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
};

export const dataOptions: Record<string, OptionSpec> = {
  data: { kind: 'string', arg: 'mnist|cifar10|cifar100|idx', help: 'dataset', choices: ['mnist', 'cifar10', 'cifar100', 'idx'], default: 'mnist' },
  'data-dir': { kind: 'string', arg: 'DIR', help: 'folder with the dataset files (cifar10, cifar100, idx)' },
  split: { kind: 'string', arg: 'test|train', help: 'which split', choices: ['test', 'train'], default: 'test' },
  limit: { kind: 'int', arg: 'N', help: 'use only the first N images of the split' },
  mean: { kind: 'numbers', arg: 'M1,M2,…', help: 'per-channel mean to subtract (default: from the model metadata, else none)' },
  std: { kind: 'numbers', arg: 'S1,S2,…', help: 'per-channel std to divide by (with --mean)' },
};

/**
 * Loads the dataset the data options name, normalised by --mean/--std or else by the
 * normalisation recorded in the model's metadata.
 */
export function datasetFromOptions(v: Record<string, unknown>, model?: Model, split?: 'train' | 'test'): Dataset {
  const fromModel = model ? normalizationFromMetadata(model.metadata) : undefined;
  const mean = (v.mean as number[] | undefined) ?? (v.std === undefined ? fromModel?.mean : undefined);
  const std = (v.std as number[] | undefined) ?? (v.mean === undefined ? fromModel?.std : undefined);
  return loadDataset({
    data: v.data as DatasetName, dataDir: v['data-dir'] as string | undefined, split: split ?? (v.split as 'train' | 'test'),
    limit: v.limit as number | undefined, mean, std,
  });
}

export const runtimeOptions: Record<string, OptionSpec> = {
  batch: { kind: 'int', arg: 'B', help: 'images per onnxruntime run', default: DEFAULT_BATCH },
  threads: { kind: 'int', arg: 'T', help: 'onnxruntime intra-op threads (default: all cores)' },
  provider: { kind: 'string', arg: 'cpu|cuda', help: 'onnxruntime execution provider', choices: ['cpu', 'cuda'], default: 'cpu' },
};
