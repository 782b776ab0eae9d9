/**
 * Before a study (or `convkit train`) trains anything, every image of
 * train/validation/test is decoded once (at the first step's size, into the
 * decoded-image disk cache the steps reuse) and the splits' class folders
 * are compared. A file that does not decode stops the study with its
 * name; with skipBad it is left out instead: the steps then read a clean
 * view of the data (hard links, or copies across file systems) in the cache
 * folder, and the report lists the files left out.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { ImageCache } from './cache.js';
import type { Interpolation } from './decode.js';
import { scanImageFolder, type ImageFile, type SkippedFile } from './scan.js';
import { splitFolder } from './splits.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { ownedBy } from '../util/output-guard.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { Progress } from '../util/progress.js';

const SPLITS = ['train', 'validation', 'test'] as const;

export interface DataCheckOptions {
  skipBad?: boolean;
  /** Decode size and filter (the first step's, so its decoded-image cache is warm). */
  imageSize: number;
  interpolation: Interpolation;
  /** Decoded-image disk cache. */
  imageCacheDir?: string;
  /** Where a clean view of the data is built when files are left out (default: the system's temp folder). */
  viewsDir?: string;
  /** Where the result is remembered, so a re-run over unchanged files does not decode again. */
  stateFile?: string;
  silent?: boolean;
  log?: (line: string) => void;
  /** Stops between chunks of images when aborted (decoding thousands takes a while). */
  signal?: AbortSignal;
}

export interface DataCheckResult {
  /** The folder the steps read: the data folder itself, or the clean view. */
  root: string;
  classNames: string[];
  counts: Record<string, number>;
  /** Files left out (skipBad), with the reason. */
  skipped: SkippedFile[];
}

async function signature(files: ImageFile[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    const st = await fs.stat(f.path);
    h.update(`${f.path}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return h.digest('hex');
}

export async function checkData(data: string, options: DataCheckOptions): Promise<DataCheckResult> {
  const root = resolve(data);
  const st = await fs.stat(root).catch(() => undefined);
  if (!st) throw new ConvkitError(`--data ${root} not found`, 'give the folder that holds train/ and validation/ (and test/)');
  if (!st.isDirectory()) throw new ConvkitError(`--data ${root} is a file, not a folder`, 'give the folder that holds train/ and validation/ (and test/)');
  const log = options.silent ? () => undefined : (options.log ?? ((l: string) => console.error(l)));
  for (const split of ['train', 'validation'] as const) {
    if (!existsSync(splitFolder(root, split)))
      throw new ConvkitError(
        `${join(root, split)} not found`,
        '--data must hold train/, validation/ (or val/) and test/ folders, each with one sub-folder per class (convkit prepare can make them)',
      );
  }
  const splits = SPLITS.filter((s) => existsSync(splitFolder(root, s)));
  const files: ImageFile[] = [];
  const bad: SkippedFile[] = [];
  let classNames: string[] | undefined;
  const counts: Record<string, number> = {};
  for (const split of splits) {
    const folder = await scanImageFolder(splitFolder(root, split), { skipBad: true });
    if (classNames && folder.classNames.join('\n') !== classNames.join('\n')) {
      throw new ConvkitError(
        `${splitFolder(root, split)} has classes ${listNames(folder.classNames)} but train has ${listNames(classNames)}`,
        'use the same class folders in every split',
      );
    }
    classNames ??= folder.classNames;
    files.push(...folder.files);
    counts[split] = folder.files.length;
    bad.push(...folder.skipped);
  }
  if (!classNames || classNames.length < 2)
    throw new ConvkitError(`${join(root, 'train')} has ${classNames?.length ?? 0} class folder(s)`, 'put each class in its own sub-folder (at least two)');

  const sig = await signature(files);
  const remembered =
    options.stateFile && existsSync(options.stateFile)
      ? (JSON.parse(await fs.readFile(options.stateFile, 'utf8')) as { signature: string; bad: SkippedFile[] })
      : undefined;
  if (remembered?.signature === sig) {
    bad.splice(0, bad.length, ...remembered.bad);
  } else {
    const cache = new ImageCache({ cacheDir: options.imageCacheDir, concurrency: 2 });
    const decode = { targetSize: [options.imageSize, options.imageSize] as const, colorMode: 'rgb' as const, interpolation: options.interpolation };
    const progress = new Progress({ total: files.length, label: 'checking images', unit: 'img', silent: options.silent });
    for (let i = 0; i < files.length; i += 64) {
      options.signal?.throwIfAborted();
      const chunk = files.slice(i, i + 64);
      const results = await cache.getMany(
        chunk.map((f) => f.path),
        decode,
      );
      results.forEach((r, j) => {
        if (r instanceof ConvkitError) bad.push({ path: chunk[j]!.path, reason: r.message.split('\n')[0]! });
      });
      cache.clear();
      progress.tick(chunk.length);
    }
    progress.finish();
    if (options.stateFile) await writeFileAtomic(options.stateFile, JSON.stringify({ signature: sig, bad }, null, 2) + '\n');
  }

  if (bad.length === 0) return { root, classNames, counts, skipped: [] };
  if (!options.skipBad) {
    const first = bad[0]!;
    const more =
      bad.length > 1
        ? ` (and ${bad.length - 1} more: ${bad
            .slice(1, 4)
            .map((b) => b.path)
            .join(', ')}${bad.length > 4 ? ', …' : ''})`
        : '';
    throw new ConvkitError(
      `bad image ${first.path}: ${first.reason}${more}`,
      'remove or replace the file, or pass --skip-bad to leave such files out (they are listed in the report)',
    );
  }
  const badPaths = new Set(bad.map((b) => b.path));
  const view = join(options.viewsDir ?? join(tmpdir(), 'convkit-views'), createHash('sha256').update(`${root}\0${sig}`).digest('hex').slice(0, 16));
  if (!existsSync(join(view, '.complete'))) {
    log(`study: leaving out ${bad.length} bad file(s); building a clean view of the data in ${view}`);
    await writeDirAtomic(
      view,
      async (tmp) => {
        for (const f of files) {
          if (badPaths.has(f.path)) continue;
          const target = join(tmp, relative(root, f.path));
          await fs.mkdir(dirname(target), { recursive: true });
          // Hard links cost nothing; a copy is the fallback across file systems.
          await fs.link(f.path, target).catch(() => fs.copyFile(f.path, target));
        }
        await fs.writeFile(join(tmp, '.complete'), '');
      },
      { what: 'a clean data view', owns: ownedBy('.complete') },
    );
  }
  for (const split of splits) counts[split] = files.filter((f) => f.path.startsWith(splitFolder(root, split) + '/') && !badPaths.has(f.path)).length;
  return { root: view, classNames, counts, skipped: bad };
}
