/**
 * Everything convkit writes (models, caches, reports, images) goes to a
 * temporary sibling first and is renamed into place, so an interrupted run
 * never leaves a half-written output behind.
 */
import { promises as fs } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { checkReplaceable, ensureDir, type OwnershipTest } from './output-guard.js';

let counter = 0;

function tempSibling(target: string): string {
  // pid + time + counter: two writers (processes or promises) never share a temp name.
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`);
}

/** Writes `data` (or its parts, in order) to `path` atomically (same-directory temp file + rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = tempSibling(path);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** What may be replaced by writeDirAtomic: folders `owns` recognizes (empty ones always). */
export interface ReplacePolicy {
  owns: OwnershipTest;
  /** What the folder is, for messages ("a model folder"). */
  what: string;
  /** The flag or option that named the folder, for messages. */
  flag?: string;
}

/**
 * Builds a directory atomically: `fill` writes into a fresh temp directory,
 * which then replaces `dir`. An existing `dir` is swapped out and removed
 * only after the new one is complete, and only when `policy` recognizes it
 * as one convkit wrote: a file or a folder of someone else's stops the write.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>, policy: ReplacePolicy): Promise<void> {
  const check = () => checkReplaceable(dir, policy.owns, policy.flag ?? 'output folder', policy.what);
  await check();
  await ensureDir(dirname(dir));
  const tmp = tempSibling(dir);
  await fs.mkdir(tmp);
  try {
    await fill(tmp);
    // Checked again: the folder may have appeared or filled while `fill` ran (a long training run).
    await check();
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await swapIn(tmp, dir);
}

/**
 * Renames `tmp` to `dir`, moving an existing `dir` aside first. Another
 * writer may swap its own folder in between our two renames (two runs with
 * one --out): then ours is tried again, so the last complete folder wins
 * and no half of either is left.
 */
async function swapIn(tmp: string, dir: string): Promise<void> {
  const olds: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const old = `${tmp}-old${attempt}`;
    try {
      await fs.rename(dir, old);
      olds.push(old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await fs.rename(tmp, dir);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 10) throw err;
    }
  }
  for (const old of olds) await fs.rm(old, { recursive: true, force: true });
}
