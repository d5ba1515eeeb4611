#!/usr/bin/env node
/**
 * The `flipguard` command. Each subcommand is a thin wrapper over one library function.
 */
import { FlipguardError, withFlags } from '../errors.js';
import { FLIPGUARD_VERSION } from '../defaults.js';
import { visible } from '../util/text.js';
import { helpText, parseOptions } from './args.js';
import { commonOptions, type Command } from './command.js';
import { commands } from './commands/index.js';

const VERSION = FLIPGUARD_VERSION;

function mainHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return `flipguard ${VERSION} — measure and harden neural networks against bit flips in their parameters.

Usage: flipguard <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}

Run "flipguard <command> --help" for a command's options.
Fault model: a flip inverts one stored bit. float32: bit 0 is the mantissa LSB, bits 23–30 the exponent,\nbit 31 the sign; float16, bfloat16 and int8 words are numbered the same way (README, number formats).
`;
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const [name, ...rest] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') { process.stdout.write(mainHelp()); return 0; }
    if (name === '--version' || name === '-v') { process.stdout.write(`${VERSION}\n`); return 0; }
    const cmd: Command | undefined = commands.find((c) => c.name === name);
    if (!cmd) throw new FlipguardError(`Unknown command "${name}"; the commands are ${commands.map((c) => c.name).join(', ')}.`);
    const spec = { ...cmd.options, ...commonOptions };
    if (rest.includes('--help') || rest.includes('-h')) { process.stdout.write(helpText(cmd.name, cmd.usage, cmd.summary, spec)); return 0; }
    const parsed = parseOptions(cmd.name, rest, spec);
    const [min, max] = cmd.positionals;
    if (parsed.positionals.length < min) throw new FlipguardError(`"flipguard ${cmd.name}" needs ${cmd.usage.split(' ').slice(0, min).join(' ')}; usage: flipguard ${cmd.name} ${cmd.usage}.`);
    if (parsed.positionals.length > max) throw new FlipguardError(`"flipguard ${cmd.name}" got an unexpected argument "${parsed.positionals[max]}"; usage: flipguard ${cmd.name} ${cmd.usage}.`);
    await cmd.run(parsed);
    return 0;
  } catch (e) {
    if (e instanceof FlipguardError) {
      // messages quote names from files: escaped here, the one place every error is printed
      process.stderr.write(`flipguard: ${visible(withFlags(e.message))}\n`);
      return 2;
    }
    process.stderr.write(`flipguard: internal error: ${visible((e as Error).message)}\n`);
    if (verbose) process.stderr.write(`${String((e as Error).stack).split('\n').map(visible).join('\n')}\n`);
    else process.stderr.write('This is a bug in flipguard; run again with --verbose for details and report it.\n');
    return 1;
  }
}

// `flipguard … | head` closes stdout early: stop quietly instead of crashing on EPIPE
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
