/**
 * Where convkit may write. An output folder is claimed before any work
 * starts: it must not overlap the data it reads, must be new, empty or a
 * folder convkit made itself (a model or report folder), and its parent
 * must be writable. convkit never deletes or overwrites what it did not
 * create, and finds an unwritable output before the first epoch, not after.
 */
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { errnoCode, isWithin, realPathOf } from './paths.js';
import { ConvkitError } from './errors.js';

/** Decides whether an existing, non-empty folder is one convkit wrote (and may replace or write into). */
export type OwnershipTest = (dir: string) => Promise<boolean>;

export interface OutputClaim {
  /** The folder to write. */
  path: string;
  /** The flag that named it, for messages (e.g. "--out"). */
  flag: string;
  /** What convkit writes there, for messages (e.g. "a model folder"). */
  what: string;
  /** Recognizes a folder convkit wrote earlier. */
  owns: OwnershipTest;
  /** Folders the run reads; the output may neither lie inside one nor hold one. */
  inputs?: { path: string; flag: string }[];
}

async function statOrUndefined(path: string) {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** The deepest ancestor of `path` (or `path` itself) that exists. */
async function existingAncestor(path: string): Promise<string> {
  let dir = resolve(path);
  while (!(await statOrUndefined(dir))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
}

/**
 * mkdir -p that fails instead of looping: Node's recursive mkdir spins
 * forever on pseudo file systems such as /proc, which answer ENOENT to
 * every mkdir. Creates each missing level itself.
 */
export async function ensureDir(dir: string): Promise<void> {
  const target = resolve(dir);
  const base = await existingAncestor(target);
  const st = await fs.stat(base);
  if (!st.isDirectory()) throw new ConvkitError(`cannot create ${target}: ${base} is a file, not a folder`, 'choose an output path under a folder');
  let current = base;
  for (const part of relative(base, target).split(sep).filter(Boolean)) {
    current = join(current, part);
    try {
      await fs.mkdir(current);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST' && (await statOrUndefined(current))?.isDirectory()) continue;
      throw new ConvkitError(`cannot create ${current}: ${(err as Error).message}`, 'choose an output path in a writable folder');
    }
  }
}

/** Throws unless files can be created in `path` (or, when it does not exist yet, in its nearest existing ancestor). */
export async function checkWritable(path: string, flag: string): Promise<void> {
  const base = await existingAncestor(path);
  const st = await fs.stat(base);
  const dir = st.isDirectory() ? base : dirname(base);
  const cannot = (why: string) => new ConvkitError(`${flag} ${resolve(path)} cannot be written: ${why}`, `choose a ${flag} in a folder you can write to`);
  try {
    await fs.access(dir, constants.W_OK);
  } catch {
    throw cannot(`${dir} is not writable`);
  }
  // access() trusts permission bits; a read-only mount or /proc only shows itself on a real write.
  let probe: string | undefined;
  try {
    probe = await fs.mkdtemp(join(dir, '.convkit-probe-'));
  } catch (err) {
    throw cannot(`${dir} does not accept new files (${errnoCode(err) ?? (err as Error).message})`);
  } finally {
    if (probe) await fs.rmdir(probe).catch(() => undefined);
  }
}

/** Throws unless `dir` is absent, an empty folder, or a folder `owns` recognizes; never for a file. */
export async function checkReplaceable(dir: string, owns: OwnershipTest, flag: string, what: string): Promise<void> {
  const path = resolve(dir);
  for (;;) {
    const st = await statOrUndefined(path);
    if (!st) return;
    if (!st.isDirectory())
      throw new ConvkitError(
        `${flag} ${path} is a file, not a folder`,
        `give a new or empty folder for ${what}; convkit does not replace files it did not write`,
      );
    try {
      const entries = await fs.readdir(path);
      if (entries.length === 0 || (await owns(path))) return;
      const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, … (${entries.length} entries)` : '');
      throw new ConvkitError(
        `${flag} ${path} already holds files that are not ${what} (${shown})`,
        `give a new or empty folder; convkit only replaces ${what} it wrote itself`,
      );
    } catch (err) {
      // Another writer swapped the folder out while we looked (two runs with one
      // --out): look again at what is there now. An ENOENT with the same folder
      // still in place is the ownership test's own (a missing marker) and stands.
      const now = errnoCode(err) === 'ENOENT' ? await statOrUndefined(path) : st;
      if (now && now.ino === st.ino && now.dev === st.dev) throw err;
    }
  }
}

/** Checks an output folder before any work starts (see the module comment). */
export async function claimOutputDir(claim: OutputClaim): Promise<void> {
  const out = await realPathOf(claim.path);
  for (const input of claim.inputs ?? []) {
    const data = await realPathOf(input.path);
    if (isWithin(out, data)) {
      throw new ConvkitError(
        `${claim.flag} ${resolve(claim.path)} lies inside ${input.flag} ${resolve(input.path)}`,
        `write ${claim.what} outside ${input.flag}; inside it, it would mix with (or replace) what is there`,
      );
    }
    if (isWithin(data, out)) {
      throw new ConvkitError(
        `${claim.flag} ${resolve(claim.path)} holds ${input.flag} ${resolve(input.path)}`,
        `write ${claim.what} to a folder of its own, outside ${input.flag}`,
      );
    }
  }
  await checkReplaceable(claim.path, claim.owns, claim.flag, claim.what);
  await checkWritable(claim.path, claim.flag);
}

/**
 * Runs `work`, the first writes into `dir`; when it fails and `dir` was
 * absent or empty before, leaves it so again (all it holds is this run's),
 * so that a run refused for its input leaves nothing behind. `keepIf`
 * keeps the partial output, e.g. after an interruption a rerun resumes from.
 */
export async function undoOutputOnFailure<T>(dir: string, work: () => Promise<T>, keepIf: () => boolean = () => false): Promise<T> {
  const path = resolve(dir);
  const before = await statOrUndefined(path);
  const fresh = !before || (before.isDirectory() && (await fs.readdir(path)).length === 0);
  try {
    return await work();
  } catch (err) {
    if (fresh && !keepIf()) {
      if (!before) await fs.rm(path, { recursive: true, force: true }).catch(() => undefined);
      else for (const entry of await fs.readdir(path).catch(() => [])) await fs.rm(join(path, entry), { recursive: true, force: true }).catch(() => undefined);
    }
    throw err;
  }
}

/** An ownership test: the folder holds `marker`, or only files whose names pass `only`. */
export function ownedBy(marker: string | undefined, only?: (name: string) => boolean): OwnershipTest {
  return async (dir) => {
    const entries = await fs.readdir(dir);
    if (marker !== undefined && entries.includes(marker)) return true;
    return only !== undefined && entries.length > 0 && entries.every(only);
  };
}

/**
 * Checks a single output file before any work: not a folder, not inside the
 * data it reads, and, when it exists, one `owns` recognizes as convkit's.
 */
export async function claimOutputFile(claim: Omit<OutputClaim, 'owns'> & { owns: (path: string) => Promise<boolean> }): Promise<void> {
  const path = resolve(claim.path);
  const real = await realPathOf(path);
  for (const input of claim.inputs ?? []) {
    if (isWithin(real, await realPathOf(input.path))) {
      throw new ConvkitError(`${claim.flag} ${path} lies inside ${input.flag} ${resolve(input.path)}`, `write ${claim.what} outside the data folder`);
    }
  }
  const st = await statOrUndefined(path);
  if (st?.isDirectory())
    throw new ConvkitError(`${claim.flag} ${path} is a folder`, `pass a file name for ${claim.what}, e.g. ${claim.flag} ${join(path, 'preview.png')}`);
  if (st && !(await claim.owns(path))) {
    throw new ConvkitError(
      `${claim.flag} ${path} already exists and is not ${claim.what} convkit wrote`,
      'choose a new file name; convkit does not overwrite files it did not write',
    );
  }
  await checkWritable(dirname(path), claim.flag);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

/**
 * Takes a lock on an output folder for one run: a file beside it (the folder
 * itself is swapped whole when a model is saved) holding this process's id.
 * A second run into the same folder is refused instead of interleaving its
 * writes with the first; a lock whose process is gone is taken over.
 * Returns the function that releases it.
 */
export async function lockOutput(path: string, flag: string): Promise<() => Promise<void>> {
  const target = resolve(path);
  await ensureDir(dirname(target));
  const lock = join(dirname(target), `.${basename(target)}.convkit-lock`);
  for (;;) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rm(lock, { force: true });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST')
        throw new ConvkitError(`cannot lock ${flag} ${target}: ${(err as Error).message}`, `choose a ${flag} in a folder you can write to`);
    }
    const pid = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
    // An empty lock is one being written this instant: in use, as a live process's is.
    if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid)) {
      throw new ConvkitError(
        `${flag} ${target} is being written by another convkit run${pid > 0 ? ` (process ${pid})` : ''}`,
        `wait for it to finish or choose another ${flag} (if no convkit run is left, delete ${lock})`,
      );
    }
    await fs.rm(lock, { force: true }); // its process is gone: a killed run's lock
  }
}
