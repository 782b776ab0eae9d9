/**
 * Plain words for why a file or folder cannot be read, so that an image
 * that cannot be opened is not reported as one in an unknown format.
 */
import type { Stats } from 'node:fs';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'too many levels of symbolic links (a link loop)',
  EIO: 'input/output error (a damaged disk or network file system)',
};

/** The reason of a Node file error: its code in words, else its message. */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code !== undefined && Object.hasOwn(REASONS, code) ? REASONS[code] : undefined) ?? (err instanceof Error ? err.message : String(err));
}

/** Why `stat` is not an image file's: a folder, a FIFO, a device…; undefined for a regular file. */
export function notRegularFileReason(stat: Stats): string | undefined {
  if (stat.isFile()) return undefined;
  if (stat.isDirectory()) return 'is a folder, not a file';
  const kind = stat.isFIFO() ? 'a named pipe' : stat.isSocket() ? 'a socket' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : 'a special file';
  return `is ${kind}, not a regular file`;
}
