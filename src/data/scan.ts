/**
 * Scanning a class-folder tree (one sub-folder per class, Keras
 * `flow_from_directory` layout) into a sorted list of labelled files.
 */
import { promises as fs, type Dirent } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ConvkitError } from '../util/errors.js';

/** Extensions of the formats sharp decodes here (BMP needs ImageMagick, which sharp lacks). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

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
  /** Follow symbolic links to class folders and files (default false: links are skipped and listed). */
  followLinks?: boolean;
  /** List non-image files in `skipped` instead of failing on them. */
  skipBad?: boolean;
}

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Code-point order, so the class indices do not depend on the locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Hidden files and OS litter that never count as data. */
function ignorable(name: string): boolean {
  return name.startsWith('.') || name === 'Thumbs.db' || name === 'desktop.ini';
}

async function readDir(path: string, what: string): Promise<Dirent[]> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConvkitError(`${what} ${path} does not exist`, 'check the path; it should hold one sub-folder per class (e.g. train/cats, train/dogs)');
    }
    throw new ConvkitError(`cannot read ${what} ${path}: ${(err as Error).message}`, 'check the permissions of the folder');
  }
  if (!stat.isDirectory()) throw new ConvkitError(`${what} ${path} is not a folder`, 'pass a folder holding one sub-folder per class');
  return fs.readdir(path, { withFileTypes: true });
}

/** Resolves what a directory entry is, following a link only when asked. */
async function kindOf(dir: string, entry: Dirent, followLinks: boolean): Promise<'dir' | 'file' | 'link' | 'other'> {
  if (entry.isSymbolicLink()) {
    if (!followLinks) return 'link';
    try {
      const st = await fs.stat(join(dir, entry.name));
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    } catch {
      return 'other';
    }
  }
  return entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
}

/**
 * Lists `root`'s class folders (sorted by name → labels 0..n-1) and their
 * image files (sorted by name). Files directly in `root` are ignored, as in
 * Keras. Fails on a missing root, fewer than two classes, an empty class or
 * a non-image file (listed in `skipped` instead with `skipBad`).
 */
export async function scanImageFolder(root: string, options: ScanOptions = {}): Promise<ImageFolder> {
  const { followLinks = false, skipBad = false } = options;
  const absRoot = resolve(root);
  const skipped: SkippedFile[] = [];
  const classDirs: string[] = [];
  for (const entry of await readDir(absRoot, 'image folder')) {
    if (ignorable(entry.name)) continue;
    const kind = await kindOf(absRoot, entry, followLinks);
    if (kind === 'dir') classDirs.push(entry.name);
    else if (kind === 'link') skipped.push({ path: join(absRoot, entry.name), reason: 'symbolic link not followed (pass followLinks / --follow-links)' });
  }
  classDirs.sort(compareNames);
  if (classDirs.length < 2) {
    throw new ConvkitError(
      `image folder ${absRoot} has ${classDirs.length} class sub-folder${classDirs.length === 1 ? '' : 's'}${classDirs.length ? ` (${classDirs[0]})` : ''}; at least two are needed`,
      'put each class\'s images in its own sub-folder, e.g. train/cats/*.jpg and train/dogs/*.jpg',
    );
  }
  const files: ImageFile[] = [];
  for (const [label, className] of classDirs.entries()) {
    const dir = join(absRoot, className);
    const names: string[] = [];
    for (const entry of await readDir(dir, 'class folder')) {
      if (ignorable(entry.name)) continue;
      const path = join(dir, entry.name);
      const kind = await kindOf(dir, entry, followLinks);
      if (kind === 'link') {
        skipped.push({ path, reason: 'symbolic link not followed (pass followLinks / --follow-links)' });
      } else if (kind === 'dir') {
        skipped.push({ path, reason: 'nested folder ignored (classes are the first level of sub-folders)' });
      } else if (kind !== 'file' || !isImagePath(entry.name)) {
        if (!skipBad) {
          throw new ConvkitError(
            `${path} is not an image file (recognised: ${IMAGE_EXTENSIONS.join(' ')})`,
            'move it out of the class folder, or pass skipBad / --skip-bad to skip such files',
          );
        }
        skipped.push({ path, reason: 'not an image file' });
      } else {
        names.push(entry.name);
      }
    }
    if (names.length === 0) {
      throw new ConvkitError(`class folder ${dir} holds no images`, `add images of class "${className}" or remove the empty folder`);
    }
    names.sort(compareNames);
    for (const name of names) files.push({ path: join(dir, name), label, className });
  }
  return { root: absRoot, classNames: classDirs, files, skipped };
}
