import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { evaluateCommand } from './evaluate.js';
import { trainCommand } from './train.js';
import { injectCommand, mergeCommand } from './inject.js';
import { hardenCommand } from './harden.js';
import { convertCommand, quantizeCommand } from './formats.js';
import { pruneCommand } from './prune.js';
import { rankCommand } from './rank.js';
import { demoCommand, reportCommand } from './demo.js';
import { queueCommand, workerCommand } from './worker.js';

/** Every subcommand, in the order `flipguard --help` lists them. */
export const commands: Command[] = [demoCommand, infoCommand, evaluateCommand, injectCommand, mergeCommand, workerCommand, queueCommand, rankCommand, hardenCommand, convertCommand, quantizeCommand, pruneCommand, trainCommand, reportCommand];
