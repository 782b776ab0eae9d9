/**
 * How a failed command is reported. Bad input is one line (exit 2); a bug is
 * one line and a hint (exit 1); --verbose or CONVKIT_VERBOSE=1 adds the
 * stack trace for bug reports.
 */
import { ConvkitError } from '../util/errors.js';

/** Node file errors that mean the path given is wrong, not that convkit is, and what to do. */
const INPUT_ERRORS = new Map<string, [reason: string, fix: string]>([
  ['ENOENT', ['no such file or folder', 'check the path']],
  ['EACCES', ['permission denied', 'check its permissions or use another path']],
  ['EISDIR', ['is a folder, not a file', 'pass a file path']],
  ['ENOTDIR', ['a part of the path is not a folder', 'check the path']],
  ['EROFS', ['read-only file system', 'write somewhere writable']],
  ['ENOSPC', ['no space left on the device', 'free some space or write elsewhere']],
  // Renaming a file onto a folder that holds files: an output path that names a folder.
  ['ENOTEMPTY', ['a folder that is not empty is in the way', 'pass a file path that is not a folder']],
]);

/** The one-line message of a Node file error caused by the path given, else undefined. */
export function inputErrorMessage(err: unknown): string | undefined {
  // rename() and copyFile() errors also carry the destination.
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const known = typeof e?.code === 'string' ? INPUT_ERRORS.get(e.code) : undefined;
  if (!known || typeof e?.path !== 'string') return undefined;
  const paths = e.dest ? `${e.path} → ${e.dest}` : e.path;
  return `${paths}: ${known[0]}${e.syscall ? ` (${e.syscall})` : ''}\n  fix: ${known[1]}`;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split('\n')[0]!;
}

/** Prints `err` for command `name` on stderr; returns the exit code. */
export function reportError(name: string, err: unknown, verbose: boolean): number {
  const input = err instanceof ConvkitError ? err.message : inputErrorMessage(err);
  if (input !== undefined) console.error(`convkit ${name}: ${input}`);
  else
    console.error(
      `convkit ${name}: internal error: ${firstLine(err)}${verbose ? '' : '\n  rerun with --verbose (or CONVKIT_VERBOSE=1) for the stack trace to put in a bug report'}`,
    );
  if (verbose && err instanceof Error && err.stack) console.error(err.stack);
  return input !== undefined ? 2 : 1;
}
