import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { evaluateCommand } from './evaluate.js';
import { trainCommand } from './train.js';

/** Every subcommand, in the order `flipguard --help` lists them. */
export const commands: Command[] = [infoCommand, evaluateCommand, trainCommand];
