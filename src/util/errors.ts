/**
 * The one error type convkit throws for bad input: it names the offending
 * file, option or value and says how to fix it, so the CLI can print it as
 * one line without a stack trace.
 */
export class ConvkitError extends Error {
  override readonly name = 'ConvkitError';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}\n  fix: ${hint}` : message);
  }
}

/** Throws a ConvkitError naming `option` unless `ok` holds. */
export function check(ok: boolean, option: string, value: unknown, expected: string): asserts ok {
  if (!ok) {
    throw new ConvkitError(`invalid ${option}: ${JSON.stringify(value)}`, `${option} must be ${expected}`);
  }
}
