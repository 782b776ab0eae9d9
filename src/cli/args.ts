/**
 * Flag parsing shared by all commands (node:util parseArgs), with errors
 * that name the bad flag.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConvkitError } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  name: string;
  usage: string;
  options: O;
  allowPositionals?: boolean;
}

type Parsed<O extends Options> = {
  values: { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string } & { help?: boolean };
  positionals: string[];
};

export function parseCommandArgs<O extends Options>(spec: CommandSpec<O>, argv: string[]): Parsed<O> {
  try {
    const parsed = parseArgs({ args: argv, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: spec.allowPositionals ?? false, strict: true });
    return parsed as unknown as Parsed<O>;
  } catch (err) {
    throw new ConvkitError((err as Error).message, `see "convkit ${spec.name} --help"\n\n${spec.usage}`);
  }
}

/** Parses an integer flag; names the flag when the value is not one. */
export function intFlag(value: string | undefined, flag: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be an integer ≥ ${min}`);
  return n;
}

/** Parses a number flag; names the flag when the value is not one. */
export function numberFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be a number`);
  return n;
}
