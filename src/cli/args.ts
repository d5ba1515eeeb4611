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
  /** Smallest and largest allowed value of a number, int or numbers option (inclusive). */
  min?: number;
  max?: number;
  /** Why the range is what it is, shown in the message (e.g. "4 × the 2 cores"). */
  rangeWhy?: string;
}

export type Parsed = { positionals: string[]; values: Record<string, unknown> };

/** Parses `argv` against `spec`; unknown options and bad values raise FlipguardError. */
export function parseOptions(command: string, argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.kind === 'bool' ? 'boolean' : 'string', ...(s.short ? { short: s.short } : {}) };
  let parsed;
  try {
    parsed = nodeParseArgs({ args: bindNegativeValues(argv, spec), options, allowPositionals: true, strict: true });
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

/** A token that is a negative number (or list starting with one): "-1", "-.5", "-3e-2,1", "-Infinity". */
const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity)/;

/**
 * Binds a negative number after an option that takes a value to that option, so `--ber -1` parses
 * like `--ber=-1` (Node's parseArgs calls it ambiguous) and then gets the option's range message.
 */
export function bindNegativeValues(argv: readonly string[], spec: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.push(...argv.slice(i)); break; }
    const name = /^--([^=]+)$/.exec(a)?.[1] ?? (/^-([^-])$/.exec(a) ? Object.keys(spec).find((k) => spec[k].short === a[1]) : undefined);
    const s = name !== undefined ? spec[name] : undefined;
    if (s && s.kind !== 'bool' && i + 1 < argv.length && NEGATIVE_NUMBER.test(argv[i + 1])) { out.push(`--${name}=${argv[i + 1]}`); i++; } else out.push(a);
  }
  return out;
}

/** Throws the range sentence when `v` lies outside the spec's [min, max]. */
function checkRange(command: string, name: string, s: OptionSpec, v: number, raw: string): void {
  const lo = s.min ?? -Infinity, hi = s.max ?? Infinity;
  if (v >= lo && v <= hi) return;
  const kind = s.kind === 'int' ? 'a whole number' : 'a number';
  const range = Number.isFinite(lo) && Number.isFinite(hi) ? `from ${lo} to ${hi}` : Number.isFinite(lo) ? `≥ ${lo}` : `≤ ${hi}`;
  throw new FlipguardError(`--${name} must be ${kind} ${range}${s.rangeWhy ? ` (${s.rangeWhy})` : ''}, got "${raw}"; run "flipguard ${command} --help".`);
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
      checkRange(command, name, s, v, String(raw));
      return v;
    }
    case 'int': {
      const v = Number(raw);
      if (String(raw).trim() === '' || !Number.isInteger(v)) throw bad('a whole number');
      checkRange(command, name, s, v, String(raw));
      return v;
    }
    case 'numbers': {
      const parts = String(raw).split(',').map((x) => x.trim());
      return parts.map((p) => {
        const v = Number(p);
        if (p === '' || !Number.isFinite(v)) throw new FlipguardError(`--${name} must be a comma-separated list of numbers, but "${p}" is not a number.`);
        checkRange(command, name, s, v, p);
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
