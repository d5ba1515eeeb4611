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

/** Throws a FlipguardError with `message` unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new FlipguardError(typeof message === 'function' ? message() : message);
}
