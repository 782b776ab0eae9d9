/**
 * Building train/validation/test class folders from a photo collection,
 * as the book does for cats vs. dogs: from a flat folder whose file names
 * carry the class (cat.12.jpg) or from class sub-folders; split per class by
 * counts, fractions (seeded shuffle) or index ranges on the number in the
 * file name. The result is built in a temp folder and renamed into place.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, isAbsolute } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { writeDirAtomic } from '../util/atomic.js';
import { checkWritable, ownedBy } from '../util/output-guard.js';
import { Progress } from '../util/progress.js';
import { fileErrorReason } from './file-errors.js';
import { decodeImage, MIN_IMAGE_SIDE } from './decode.js';
import { isImagePath } from './formats.js';
import { scanImageFolder, subFolderCount, type SkippedFile } from './scan.js';

export type SplitSpec = { kind: 'counts'; counts: number[] } | { kind: 'fractions'; fractions: number[] } | { kind: 'ranges'; ranges: [number, number][] };

export interface PrepareOptions {
  /** A flat folder of images (class in the file name) or a folder of class sub-folders. */
  source: string;
  /** The folder to create: dest/<split>/<class>/<file>. */
  dest: string;
  split: SplitSpec;
  /** For a flat source: a regex whose first capture group is the class (default `^([^.]+)\.`). */
  pattern?: string | RegExp;
  /** Names of the parts (default train, validation, test). */
  names?: string[];
  /** Seed of the per-class shuffle for counts and fractions (default 42). */
  seed?: number;
  /** Hard-link the files instead of copying them. */
  link?: boolean;
  /** Replace a non-empty `dest`. */
  overwrite?: boolean;
  /** Leave out (and list in `skipped`) files that do not decode instead of failing. */
  skipBad?: boolean;
  progress?: boolean;
}

export interface PrepareResult {
  dest: string;
  layout: 'flat' | 'folders';
  classNames: string[];
  /** Files per part and class: counts[part][class]. */
  counts: Record<string, Record<string, number>>;
  /** Source images placed in no part. */
  unused: number;
  /** Source files left out because they do not decode (skipBad). */
  skipped: SkippedFile[];
}

export const DEFAULT_PATTERN = '^([^.]+)\\.';
const DEFAULT_NAMES = ['train', 'validation', 'test'];

/** Marks a destination as prepare's own, so --overwrite may replace it (and nothing else). */
const PREPARED_MARKER = '.convkit-prepared';
/** Folders made before the marker hold only the default part folders. */
const PREPARED_FOLDER = { what: 'a folder prepare made', flag: 'destination', owns: ownedBy(PREPARED_MARKER, (entry) => DEFAULT_NAMES.includes(entry)) };

/** Parses "1000,500,500" (counts per class) or "0.5,0.25,0.25" (fractions per class). */
export function parseSplit(text: string, flag = '--split'): SplitSpec {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  const bad = (why: string) =>
    new ConvkitError(`invalid ${flag}: ${JSON.stringify(text)} (${why})`, `${flag} takes counts per class like 1000,500,500 or fractions like 0.5,0.25,0.25`);
  if (parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v) || v < 0)) throw bad('each part must be a number ≥ 0');
  if (values.every((v) => v === 0)) throw bad('all parts are 0');
  if (parts.some((p) => p.includes('.')) || (values.every((v) => v <= 1) && values.some((v) => v > 0 && v < 1))) {
    if (values.some((v) => v > 1)) throw bad('fractions must each be at most 1');
    const sum = values.reduce((a, b) => a + b, 0);
    if (sum > 1 + 1e-9) throw bad(`fractions add up to ${+sum.toFixed(6)}, over 1`);
    return { kind: 'fractions', fractions: values };
  }
  if (values.some((v) => !Number.isInteger(v))) throw bad('counts must be whole numbers');
  return { kind: 'counts', counts: values };
}

/** Parses "0-999,1000-1499,1500-1999" (inclusive ranges of the number in the file name). */
export function parseRanges(text: string, flag = '--ranges'): SplitSpec {
  const bad = (why: string) =>
    new ConvkitError(`invalid ${flag}: ${JSON.stringify(text)} (${why})`, `${flag} takes inclusive ranges like 0-999,1000-1499,1500-1999`);
  const ranges = text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (!m) throw bad(`"${part}" is not FROM-TO`);
    const lo = Number(m[1]),
      hi = Number(m[2]);
    if (lo > hi) throw bad(`${part} runs backwards`);
    return [lo, hi] as [number, number];
  });
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]![0] <= sorted[i - 1]![1]) throw bad(`${sorted[i - 1]!.join('-')} and ${sorted[i]!.join('-')} overlap`);
  }
  return { kind: 'ranges', ranges };
}

/** The last run of digits in the file's name without extension (cat.12.jpg → 12). */
export function fileNumber(name: string): number | undefined {
  const stem = basename(name, extname(name));
  const m = /(\d+)(?!.*\d)/.exec(stem);
  return m ? Number(m[1]) : undefined;
}

const natural = new Intl.Collator('en', { numeric: true }).compare;

function compilePattern(pattern: string | RegExp): RegExp {
  let re: RegExp;
  try {
    re = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
  } catch (err) {
    throw new ConvkitError(
      `invalid --pattern ${JSON.stringify(String(pattern))}: ${(err as Error).message}`,
      'pass a JavaScript regular expression with one capture group for the class, e.g. "^([^.]+)\\."',
    );
  }
  if (!/\((?!\?[:=!<])|\(\?<[A-Za-z]/.test(re.source)) {
    throw new ConvkitError(
      `--pattern ${JSON.stringify(re.source)} has no capture group`,
      'wrap the part of the file name that names the class in parentheses, e.g. "^([^.]+)\\."',
    );
  }
  return re;
}

function within(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Groups the source's images by class: from sub-folders if it has any, else from file names. */
async function collect(
  source: string,
  pattern: string | RegExp,
  skipBad: boolean,
): Promise<{ layout: 'flat' | 'folders'; byClass: Map<string, string[]>; skipped: SkippedFile[] }> {
  let folders;
  try {
    folders = await subFolderCount(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ConvkitError(`source folder ${source} does not exist`, 'pass a folder of images named by class (cat.1.jpg) or of class sub-folders');
    if (code === 'ENOTDIR')
      throw new ConvkitError(`source ${source} is not a folder`, 'pass a folder of images named by class (cat.1.jpg) or of class sub-folders');
    throw new ConvkitError(`cannot read source folder ${source}: ${fileErrorReason(err)}`, "check the folder's permissions");
  }
  const byClass = new Map<string, string[]>();
  if (folders > 0) {
    const folder = await scanImageFolder(source, { skipBad });
    for (const name of folder.classNames) byClass.set(name, []);
    for (const f of folder.files) byClass.get(f.className)!.push(f.path);
    return { layout: 'folders', byClass, skipped: folder.skipped };
  }
  const re = compilePattern(pattern);
  // Other files beside the photos (a README, a labels.csv) are not data; the images are checked by decoding.
  const names = (await fs.readdir(source)).filter((n) => !n.startsWith('.') && isImagePath(n));
  for (const name of names) {
    const path = join(source, name);
    const m = re.exec(name);
    const cls = m?.groups?.class ?? m?.[1];
    if (!cls) {
      throw new ConvkitError(
        `file name ${path} does not match --pattern ${JSON.stringify(re.source)}`,
        'pass a --pattern whose first capture group picks the class out of every file name, or move the file out',
      );
    }
    if (cls.includes('/') || cls === '.' || cls === '..') throw new ConvkitError(`class "${cls}" from ${name} is not a usable folder name`, 'adjust --pattern');
    if (!byClass.has(cls)) byClass.set(cls, []);
    byClass.get(cls)!.push(path);
  }
  if (byClass.size < 2) {
    throw new ConvkitError(
      `found ${byClass.size} class${byClass.size === 1 ? '' : 'es'} in ${source}${byClass.size ? ` (${[...byClass.keys()].join(', ')})` : ''} with --pattern ${JSON.stringify(re.source)}; at least two are needed`,
      'check --pattern (its first capture group is the class) or give class sub-folders',
    );
  }
  return { layout: 'flat', byClass, skipped: [] };
}

/**
 * Decodes every file (as training will, strictly) before anything is
 * written: the first that fails stops the run, or (skipBad) each one is
 * taken out of `byClass` and listed.
 */
async function dropUndecodable(byClass: Map<string, string[]>, skipBad: boolean, progress: boolean): Promise<SkippedFile[]> {
  const files = [...byClass.values()].flat().sort(natural);
  const errors = new Map<string, ConvkitError>();
  const bar = new Progress({ total: files.length, label: 'checking', unit: 'img', silent: !progress });
  await pool(files, 3, async (file) => {
    // The smallest size costs least; the decoder's checks run at any size.
    await decodeImage(file, { targetSize: [MIN_IMAGE_SIDE, MIN_IMAGE_SIDE] }).catch((err: unknown) => {
      if (!(err instanceof ConvkitError)) throw err;
      errors.set(file, err);
    });
    bar.tick();
  });
  bar.finish();
  const bad = files.filter((f) => errors.has(f));
  if (bad.length > 0 && !skipBad) throw errors.get(bad[0]!)!;
  for (const [cls, list] of byClass)
    byClass.set(
      cls,
      list.filter((f) => !errors.has(f)),
    );
  return bad.map((path) => ({ path, reason: errors.get(path)!.message.split('\n')[0]! }));
}

/** Assigns one class's files (naturally sorted) to the parts. */
function splitClass(cls: string, files: string[], split: SplitSpec, seed: number): string[][] {
  if (split.kind === 'ranges') {
    const parts = split.ranges.map((): string[] => []);
    for (const f of files) {
      const n = fileNumber(f);
      if (n === undefined)
        throw new ConvkitError(`file name ${f} holds no number for --ranges`, 'use --split with counts or fractions for files not numbered like cat.12.jpg');
      const i = split.ranges.findIndex(([lo, hi]) => n >= lo && n <= hi);
      if (i >= 0) parts[i]!.push(f);
    }
    return parts;
  }
  // A per-class generator, so adding a class does not change the others' splits.
  let h = seed >>> 0;
  for (const ch of cls) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const shuffled = createRng(h).shuffle([...files]);
  const sizes = split.kind === 'counts' ? split.counts : cumulativeSizes(files.length, split.fractions);
  const need = sizes.reduce((a, b) => a + b, 0);
  if (need > files.length) {
    throw new ConvkitError(
      `class "${cls}" has ${files.length} images, but --split ${sizes.join(',')} needs ${need}`,
      'lower the counts, or use fractions such as 0.5,0.25,0.25',
    );
  }
  const parts: string[][] = [];
  let at = 0;
  for (const s of sizes) {
    parts.push(shuffled.slice(at, at + s).sort(natural));
    at += s;
  }
  return parts;
}

function cumulativeSizes(n: number, fractions: number[]): number[] {
  const sizes: number[] = [];
  let acc = 0,
    prev = 0;
  for (const f of fractions) {
    acc += f;
    const end = Math.min(n, Math.round(n * acc + 1e-9));
    sizes.push(end - prev);
    prev = end;
  }
  return sizes;
}

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Builds dest/<part>/<class>/ folders from `source`; returns how many files went where. */
export async function prepareSplits(options: PrepareOptions): Promise<PrepareResult> {
  const source = resolve(options.source),
    dest = resolve(options.dest);
  const { split, seed = 42, link = false, overwrite = false, skipBad = false, pattern = DEFAULT_PATTERN } = options;
  const nParts = split.kind === 'counts' ? split.counts.length : split.kind === 'fractions' ? split.fractions.length : split.ranges.length;
  const names = options.names ?? DEFAULT_NAMES.slice(0, nParts);
  if (names.length !== nParts || new Set(names).size !== names.length || names.some((n) => !n || n.includes('/') || n.startsWith('.'))) {
    throw new ConvkitError(
      `invalid --names ${JSON.stringify(names.join(','))} for ${nParts} parts`,
      `give ${nParts} distinct folder names, e.g. --names ${[...DEFAULT_NAMES, 'extra1', 'extra2'].slice(0, nParts).join(',')}`,
    );
  }
  if (within(dest, source) || within(source, dest)) {
    throw new ConvkitError(`destination ${dest} and source ${source} overlap`, 'write the prepared folders outside the source folder');
  }
  try {
    const st = await fs.stat(dest);
    if (!st.isDirectory()) throw new ConvkitError(`destination ${dest} exists and is not a folder`, 'choose another destination');
    const inside = (await fs.readdir(dest)).length;
    if (inside > 0 && !overwrite) {
      throw new ConvkitError(`destination ${dest} is not empty (${inside} entries)`, 'choose an empty or new folder, or pass --overwrite to replace it');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Before any image is read: an unwritable destination (a read-only mount, /proc) would otherwise fail at the end.
  await checkWritable(dest, 'destination');

  const { layout, byClass, skipped } = await collect(source, pattern, skipBad);
  skipped.push(...(await dropUndecodable(byClass, skipBad, options.progress ?? false)));
  const classNames = [...byClass.keys()].sort();
  const jobs: { from: string; to: string }[] = [];
  const sizes = new Map<string, number[]>();
  let total = 0;
  for (const cls of classNames) {
    const files = byClass.get(cls)!.sort(natural);
    total += files.length;
    const parts = splitClass(cls, files, split, seed);
    sizes.set(
      cls,
      parts.map((part) => part.length),
    );
    parts.forEach((part, i) => {
      // Images from nested folders of a class keep their sub-path, so equal file names do not collide.
      for (const f of part) jobs.push({ from: f, to: join(names[i]!, cls, layout === 'folders' ? relative(join(source, cls), f) : basename(f)) });
    });
  }
  names.forEach((name, i) => {
    for (const cls of classNames) {
      if (!sizes.get(cls)![i])
        throw new ConvkitError(
          `part "${name}" would get no images of class "${cls}"`,
          split.kind === 'ranges' ? 'check that --ranges covers the numbers in the file names' : 'raise the counts or fractions',
        );
    }
  });
  // Built from entries: assigning counts[part]["__proto__"] would set a prototype, not count a class.
  const counts = Object.fromEntries(names.map((name, i) => [name, Object.fromEntries(classNames.map((cls) => [cls, sizes.get(cls)![i]!]))]));

  const progress = new Progress({ total: jobs.length, label: link ? 'linking' : 'copying', unit: 'files', silent: !options.progress });
  await writeDirAtomic(
    dest,
    async (tmp) => {
      for (const name of names) for (const cls of classNames) await fs.mkdir(join(tmp, name, cls), { recursive: true });
      await pool(jobs, 8, async ({ from, to }) => {
        await fs.mkdir(dirname(join(tmp, to)), { recursive: true });
        if (link) {
          try {
            // link(2) would link a symbolic link itself, not the image it leads to.
            await fs.link(await fs.realpath(from), join(tmp, to));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EXDEV' || (err as NodeJS.ErrnoException).code === 'EPERM') {
              throw new ConvkitError(
                `cannot hard-link ${from} into ${dest}: ${(err as Error).message}`,
                'hard links need source and destination on the same file system; drop --link to copy',
              );
            }
            throw err;
          }
        } else {
          await fs.copyFile(from, join(tmp, to));
        }
        progress.tick();
      });
      await fs.writeFile(join(tmp, PREPARED_MARKER), 'made by convkit prepare\n');
    },
    PREPARED_FOLDER,
  );
  progress.finish();
  return { dest, layout, classNames, counts, unused: total - jobs.length, skipped };
}
