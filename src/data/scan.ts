/**
 * Scanning a class-folder tree (one sub-folder per class, Keras
 * `flow_from_directory` layout) into a sorted list of labelled files. As in
 * Keras with follow_links and `find -L`, symbolic links are followed and
 * images in nested folders of a class belong to it; a link back to a folder
 * above it is a loop, reported instead of followed.
 */
import { promises as fs, type Dirent } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { fileErrorReason, notRegularFileReason } from './file-errors.js';
import { isImagePath, notImageReason } from './formats.js';

export interface ImageFile {
  path: string;
  /** Class index: position of `className` in the sorted class names. */
  label: number;
  className: string;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface ImageFolder {
  root: string;
  classNames: string[];
  files: ImageFile[];
  skipped: SkippedFile[];
}

export interface ScanOptions {
  /** List bad entries (non-image files, dangling links, link loops, unreadable folders) in `skipped` instead of failing on them. */
  skipBad?: boolean;
}

/** Code-point order, so the class indices do not depend on the locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Hidden files and OS litter that never count as data. */
function ignorable(name: string): boolean {
  return name.startsWith('.') || name === 'Thumbs.db' || name === 'desktop.ini';
}

const SKIP = 'or pass skipBad / --skip-bad to skip it';

/** A folder's identity, so a link back to it is recognised whatever path leads there. */
const folderId = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}`;

type Resolved = { kind: 'dir'; id: string } | { kind: 'file' } | { kind: 'bad'; reason: string; hint: string };

/** What a folder entry is, links followed. */
async function resolveEntry(path: string, entry: Dirent): Promise<Resolved> {
  if (entry.isFile()) return { kind: 'file' };
  let st;
  try {
    st = await fs.stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && entry.isSymbolicLink()) {
      const target = await fs.readlink(path).catch(() => '?');
      return { kind: 'bad', reason: `dangling symbolic link (its target ${target} does not exist)`, hint: `fix or remove the link, ${SKIP}` };
    }
    return {
      kind: 'bad',
      reason: code === 'ELOOP' ? 'symbolic link loop (the link leads to itself)' : fileErrorReason(err),
      hint: `fix or remove it, ${SKIP}`,
    };
  }
  if (st.isDirectory()) return { kind: 'dir', id: folderId(st) };
  const why = notRegularFileReason(st);
  return why ? { kind: 'bad', reason: `it ${why}`, hint: `move it out of the image folder, ${SKIP}` } : { kind: 'file' };
}

/** Walks image folders, failing on the first bad entry or (skipBad) listing it. */
class Walker {
  readonly skipped: SkippedFile[] = [];
  constructor(private readonly skipBad: boolean) {}

  bad(path: string, reason: string, hint: string): void {
    if (!this.skipBad) throw new ConvkitError(`${path}: ${reason}`, hint);
    this.skipped.push({ path, reason });
  }

  /** The identity of folder `path` given by the user; a missing path or a file is an error. */
  async root(path: string, what: string): Promise<string> {
    let st;
    try {
      st = await fs.stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ConvkitError(`${what} ${path} does not exist`, 'check the path; it should hold one sub-folder per class (e.g. train/cats, train/dogs)');
      }
      throw new ConvkitError(`cannot read ${what} ${path}: ${fileErrorReason(err)}`, 'check the path and its permissions');
    }
    if (!st.isDirectory()) throw new ConvkitError(`${what} ${path} is not a folder`, 'pass a folder holding one sub-folder per class');
    return folderId(st);
  }

  /** The sub-folders (with their identities) and files of `dir`; bad entries are reported. */
  async children(dir: string, ancestors: ReadonlyMap<string, string>): Promise<{ dirs: [string, string][]; files: string[] }> {
    const dirs: [string, string][] = [],
      files: string[] = [];
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      this.bad(dir, `cannot read the folder: ${fileErrorReason(err)}`, `check its permissions, ${SKIP}`);
      return { dirs, files };
    }
    entries.sort((a, b) => compareNames(a.name, b.name));
    for (const entry of entries) {
      if (ignorable(entry.name)) continue;
      const path = join(dir, entry.name);
      const r = await resolveEntry(path, entry);
      if (r.kind === 'file') files.push(path);
      else if (r.kind === 'bad') this.bad(path, r.reason, r.hint);
      else if (ancestors.has(r.id)) this.bad(path, `symbolic link loop (it leads back to ${ancestors.get(r.id)})`, `remove the link, ${SKIP}`);
      else dirs.push([path, r.id]);
    }
    return { dirs, files };
  }

  /**
   * The image files under `dir`, nested folders included, in Keras's order:
   * folders sorted by path, each one's files by name.
   */
  async images(dir: string, ancestors: ReadonlyMap<string, string>): Promise<string[]> {
    const byFolder: [string, string[]][] = [];
    const visit = async (folder: string, above: ReadonlyMap<string, string>): Promise<void> => {
      const { dirs, files } = await this.children(folder, above);
      const images: string[] = [];
      for (const file of files) {
        if (isImagePath(file)) images.push(file);
        else this.bad(file, `not an image file: ${notImageReason(file)}`, `move it out of the image folder, ${SKIP}`);
      }
      byFolder.push([folder, images]);
      for (const [sub, id] of dirs) await visit(sub, new Map(above).set(id, sub));
    };
    await visit(dir, ancestors);
    return byFolder.sort((a, b) => compareNames(a[0], b[0])).flatMap(([, images]) => images);
  }
}

/** How many sub-folders (links to folders included, hidden ones not) `dir` has: ≥ 2 makes it a class-folder root. */
export async function subFolderCount(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (ignorable(e.name)) continue;
    if (
      e.isDirectory() ||
      (e.isSymbolicLink() &&
        (await fs.stat(join(dir, e.name)).then(
          (st) => st.isDirectory(),
          () => false,
        )))
    )
      n++;
  }
  return n;
}

/**
 * Lists `root`'s class folders (sorted by name → labels 0..n-1) and the
 * image files in each, nested folders included. Files directly in `root`
 * are ignored, as in Keras. Fails on a missing root, fewer than two classes,
 * an empty class or a bad entry (listed in `skipped` instead with `skipBad`).
 */
export async function scanImageFolder(root: string, options: ScanOptions = {}): Promise<ImageFolder> {
  const absRoot = resolve(root);
  const walker = new Walker(options.skipBad ?? false);
  const rootId = await walker.root(absRoot, 'image folder');
  const { dirs } = await walker.children(absRoot, new Map([[rootId, absRoot]]));
  if (dirs.length < 2) {
    throw new ConvkitError(
      `image folder ${absRoot} has ${dirs.length} class sub-folder${dirs.length === 1 ? '' : 's'}${dirs.length ? ` (${basename(dirs[0]![0])})` : ''}; at least two are needed`,
      "put each class's images in its own sub-folder, e.g. train/cats/*.jpg and train/dogs/*.jpg",
    );
  }
  const classNames: string[] = [];
  const files: ImageFile[] = [];
  for (const [dir, id] of dirs) {
    const className = basename(dir);
    const images = await walker.images(
      dir,
      new Map([
        [rootId, absRoot],
        [id, dir],
      ]),
    );
    if (images.length === 0) {
      throw new ConvkitError(`class folder ${dir} holds no images`, `add images of class "${className}" or remove the empty folder`);
    }
    const label = classNames.push(className) - 1;
    for (const path of images) files.push({ path, label, className });
  }
  return { root: absRoot, classNames, files, skipped: walker.skipped };
}

/**
 * The image files of `paths`: each folder searched recursively (as a class
 * folder is), each file taken if its name is a readable image's. Bad entries
 * fail, or are listed in `skipped` with `skipBad`.
 */
export async function listImageFiles(paths: readonly string[], options: ScanOptions = {}): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  const walker = new Walker(options.skipBad ?? false);
  const files: string[] = [];
  for (const path of paths) {
    let st;
    try {
      st = await fs.stat(path);
    } catch (err) {
      walker.bad(path, fileErrorReason(err), `pass image files or folders of images, ${SKIP}`);
      continue;
    }
    if (st.isDirectory()) files.push(...(await walker.images(path, new Map([[folderId(st), path]]))));
    else if (!st.isFile()) walker.bad(path, `it ${notRegularFileReason(st)}`, `pass image files or folders of images, ${SKIP}`);
    else if (!isImagePath(path)) walker.bad(path, `not an image file: ${notImageReason(path)}`, `pass image files or folders of images, ${SKIP}`);
    else files.push(path);
  }
  return { files, skipped: walker.skipped };
}
