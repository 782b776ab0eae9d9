/**
 * convkit's command line: a table of commands, each a thin module in
 * ./commands that parses its flags and calls the library.
 */
import { ConvkitError } from '../util/errors.js';

export interface Command {
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

/** Each entry loads lazily so `convkit --help` starts instantly. */
const COMMANDS: Record<string, Entry> = {
  doctor: { summary: 'show the TensorFlow.js backend, threads and native library in use', load: async () => (await import('./commands/doctor.js')).default },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return ['Usage: convkit <command> [options]', '', 'Commands:', ...lines, '', 'Run "convkit <command> --help" for the options of one command.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`convkit: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ConvkitError) {
      console.error(`convkit ${name}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
