import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { evaluateCommand } from './evaluate.js';
import { trainCommand } from './train.js';
import { injectCommand, mergeCommand } from './inject.js';

/** Every subcommand, in the order `flipguard --help` lists them. */
export const commands: Command[] = [infoCommand, evaluateCommand, injectCommand, mergeCommand, trainCommand];
