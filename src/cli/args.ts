/**
 * Flag parsing for the CLI: declared options only, typed values, one clear sentence on a mistake.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { FlipguardError } from '../errors.js';

export type OptionKind = 'string' | 'number' | 'int' | 'bool' | 'numbers' | 'strings';

export interface OptionSpec {
  kind: OptionKind;
  /** One line for --help. */
  help: string;
  /** Value name for --help, e.g. FILE. */
  arg?: string;
  short?: string;
  choices?: readonly string[];
  default?: string | number | boolean;
}

export type Parsed = { positionals: string[]; values: Record<string, unknown> };

/** Parses `argv` against `spec`; unknown options and bad values raise FlipguardError. */
export function parseOptions(command: string, argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.kind === 'bool' ? 'boolean' : 'string', ...(s.short ? { short: s.short } : {}) };
  let parsed;
  try {
    parsed = nodeParseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new FlipguardError(`Unknown option ${unknown[1]} for "flipguard ${command}"; run "flipguard ${command} --help" for the options it takes.`);
    const missing = /Option '([^']+)' argument missing/.exec(msg);
    if (missing) throw new FlipguardError(`Option ${missing[1].split(',').pop()!.trim().replace(/ <value>$/, '')} needs a value; run "flipguard ${command} --help".`);
    throw new FlipguardError(`${msg.replace(/\.$/, '')}; run "flipguard ${command} --help".`);
  }
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[name];
    if (raw === undefined) { if (s.default !== undefined) values[name] = s.default; continue; }
    values[name] = convert(command, name, s, raw);
  }
  return { positionals: parsed.positionals, values };
}

function convert(command: string, name: string, s: OptionSpec, raw: string | boolean): unknown {
  const bad = (what: string) => new FlipguardError(`--${name} must be ${what}, got "${raw}"; run "flipguard ${command} --help".`);
  switch (s.kind) {
    case 'bool': return raw;
    case 'string': {
      const v = String(raw);
      if (s.choices && !s.choices.includes(v)) throw bad(`one of ${s.choices.join(', ')}`);
      return v;
    }
    case 'strings': {
      const list = String(raw).split(',').map((x) => x.trim()).filter(Boolean);
      if (s.choices) for (const v of list) if (!s.choices.includes(v)) throw new FlipguardError(`--${name} got "${v}", which is not one of ${s.choices.join(', ')}.`);
      return list;
    }
    case 'number': {
      const v = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(v)) throw bad('a number');
      return v;
    }
    case 'int': {
      const v = Number(raw);
      if (!Number.isInteger(v)) throw bad('a whole number');
      return v;
    }
    case 'numbers': {
      const parts = String(raw).split(',').map((x) => x.trim());
      return parts.map((p) => {
        const v = Number(p);
        if (p === '' || !Number.isFinite(v)) throw new FlipguardError(`--${name} must be a comma-separated list of numbers, but "${p}" is not a number.`);
        return v;
      });
    }
  }
}

/** Help text for a command. */
export function helpText(command: string, usage: string, summary: string, spec: Record<string, OptionSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : ''}--${name}${s.kind === 'bool' ? '' : ` ${s.arg ?? (s.choices ? s.choices.join('|') : 'VALUE')}`}`;
    const dflt = s.default !== undefined && s.kind !== 'bool' ? ` (default ${s.default})` : '';
    return [flag, s.help + dflt] as const;
  });
  const w = Math.max(...rows.map(([f]) => f.length), 10);
  return `Usage: flipguard ${command} ${usage}\n\n${summary}\n\nOptions:\n${rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`).join('\n')}\n`;
}
