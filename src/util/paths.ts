/** Locations inside the installed convkit package. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
