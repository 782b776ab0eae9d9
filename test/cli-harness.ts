/**
 * Runs convkit's CLI in-process, capturing what it prints, and snapshots
 * folders so a test can assert that nothing outside an output was touched.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { main } from '../src/cli/main.js';

export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

export async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [],
    err: string[] = [];
  const log = console.log,
    error = console.error;
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  try {
    return { code: await main(argv), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Every file below `root` (links not followed) with a hash of its bytes: equal snapshots mean an untouched tree. */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else
        files[relative(root, path)] = entry.isFile()
          ? createHash('sha256')
              .update(await fs.readFile(path))
              .digest('hex')
          : 'link-or-special';
    }
  };
  await walk(root);
  return files;
}
