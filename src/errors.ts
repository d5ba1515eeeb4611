/**
 * A mistake in what the user gave flipguard (a file, an option, a shape): the message is one
 * sentence naming the problem and the fix. The CLI prints it without a stack trace and exits 2.
 */
export class FlipguardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlipguardError';
  }
}

/**
 * How library messages name an option field (`option "dataDir"`): the CLI rewrites each such
 * mention into its flag (`--data-dir`), so the library never names CLI flags itself.
 */
export function opt(field: string): string {
  return `option "${field}"`;
}

/** Rewrites every `option "field"` in a library message into the CLI flag `--field` (camelCase → kebab-case). */
export function withFlags(message: string): string {
  return message.replace(/(?:\b[Tt]he )?\b[Oo]ption "([A-Za-z][A-Za-z0-9]*)"/g, (_, f: string) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/** Throws a FlipguardError with `message` unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new FlipguardError(typeof message === 'function' ? message() : message);
}
