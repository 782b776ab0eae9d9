/** Paths: locations inside the installed convkit package, where a path really leads, whether it lies inside a folder. */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding convkit's package.json (works from src/ via tsx and from dist/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'convkit.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('convkit: cannot find the package root');
    dir = up;
  }
  return (root = dir);
}

/** The errno code of a failed file-system call ('ENOENT', …), if any. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** `path` with symbolic links resolved as far as it exists (the rest appended). */
export async function realPathOf(path: string): Promise<string> {
  const abs = resolve(path);
  try {
    return await fs.realpath(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(await realPathOf(parent), relative(parent, abs));
  }
}

/** True when `inner` is `outer` or lies below it. */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** fs.lstat, or undefined when nothing is there. */
export async function lstatOrUndefined(path: string) {
  try {
    return await fs.lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}
