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
    const parsed = parseArgs({
      args: joinNegativeValues(argv, spec.options),
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    return parsed as unknown as Parsed<O>;
  } catch (err) {
    throw new ConvkitError((err as Error).message, `see "convkit ${spec.name} --help"\n\n${spec.usage}`);
  }
}

/**
 * Joins `--flag -1` into `--flag=-1` for string flags: parseArgs would read
 * "-1" as an option and answer "ambiguous", hiding the range check that names
 * the flag and its allowed values.
 */
function joinNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
    if (argv[i] === '--') return [...out, ...argv.slice(i + 1)];
  }
  return out;
}

/**
 * Takes the global --verbose flag out of `argv` (before a "--" that ends the
 * options) so that no command has to declare it; CONVKIT_VERBOSE=1 does the same.
 */
export function takeVerbose(argv: readonly string[], env = process.env): { argv: string[]; verbose: boolean } {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const options = argv.slice(0, end).filter((a) => a !== '--verbose');
  const flag = options.length < end;
  return { argv: [...options, ...argv.slice(end)], verbose: flag || /^(1|true|yes)$/i.test(env.CONVKIT_VERBOSE ?? '') };
}

/** Largest --image-size a command takes: bigger images exhaust memory long before they help. */
export const MAX_IMAGE_SIZE = 4096;

// Plain decimal only: Number() would also take "0x1", "0b1", "1e3" or " 5 ".
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses a decimal integer flag in [min, max]; names the flag when the value is not one. */
export function intFlag(value: string | undefined, flag: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = INTEGER.test(value) ? Number(value) : Number.NaN;
  const range = max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `≥ ${min}`;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be a decimal integer ${range}`);
  return n;
}

/** Parses a decimal number flag (1e-4 style allowed); names the flag when the value is not one. */
export function numberFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be a decimal number such as 0.5 or 1e-4`);
  return n;
}

/** Parses a comma-separated list of decimal integers ≥ min (e.g. --filters 32,64,128,128). */
export function intListFlag(value: string, flag: string, min = 1, example = '32,64,128,128'): number[] {
  const parts = value.split(',');
  if (parts.some((p) => !INTEGER.test(p.trim()) || !Number.isSafeInteger(Number(p)) || Number(p) < min)) {
    throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `give decimal integers ≥ ${min} separated by commas, e.g. ${example}`);
  }
  return parts.map(Number);
}
