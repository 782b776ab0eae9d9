/**
 * The folder an auto study trains on, whatever shape the user's folder
 * has: train/ + validation/ (or val/) [+ test/] are used as they are; a
 * train/ without a validation split, or a single folder of class folders,
 * is split per class as Keras's validation_split does (the first
 * ⌊fraction·n⌋ files of each class are validation, the rest training),
 * after a seeded shuffle of each class, into a view of symbolic links in
 * the cache. The user's folder is only read; what was done is described
 * for the report.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { scanImageFolder, type ImageFile } from '../data/scan.js';
import { splitFolder } from '../data/splits.js';
import { writeDirAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { ownedBy } from '../util/output-guard.js';
import { createRng } from '../util/rng.js';

export interface AutoDataOptions {
  /** Fraction of each class held out for validation when the folder has no validation split (default 0.2); refused when it has one. */
  validationSplit?: number;
  seed: number;
  /** Where the split view is built. */
  viewsDir: string;
  skipBad?: boolean;
}

export interface AutoData {
  /** The folder with train/, validation/ (or val/) and maybe test/ the candidates read. */
  root: string;
  /** 'splits': the user's own; 'split-train': validation taken out of train/; 'split-folder': one folder of classes split in two. */
  layout: 'splits' | 'split-train' | 'split-folder';
  /** One sentence for the report. */
  description: string;
}

/** Marks a split view as the auto study's own (and complete). */
const VIEW_MARKER = '.convkit-split-view';

const isDir = (path: string) =>
  fs.stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/**
 * Per class, after a shuffle seeded by the seed and the class name (adding
 * a class leaves the others' split alone): the first ⌊fraction·n⌋ files are
 * validation, the rest training, as flowFromDirectory's validationSplit.
 */
export function splitByClass(files: readonly ImageFile[], fraction: number, seed: number): { train: ImageFile[]; validation: ImageFile[] } {
  const byClass = new Map<string, ImageFile[]>();
  for (const f of files) (byClass.get(f.className) ?? byClass.set(f.className, []).get(f.className)!).push(f);
  const train: ImageFile[] = [],
    validation: ImageFile[] = [];
  for (const [className, members] of byClass) {
    let h = seed >>> 0;
    for (const ch of className) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    const shuffled = createRng(h).shuffle([...members]);
    const cut = Math.floor(fraction * shuffled.length);
    if (cut === 0 || cut === shuffled.length)
      throw new ConvkitError(
        `class "${className}" has ${shuffled.length} image(s): a validation split of ${fraction} leaves ${cut === 0 ? 'no validation image' : 'no training image'}`,
        'add images to the class, or give train/ and validation/ folders',
      );
    validation.push(...shuffled.slice(0, cut));
    train.push(...shuffled.slice(cut));
  }
  return { train, validation };
}

/** The user's folder as train/ + validation/ [+ test/]: itself, or a split view of it. */
export async function resolveAutoData(data: string, options: AutoDataOptions): Promise<AutoData> {
  const root = resolve(data);
  if (!(await isDir(root))) throw new ConvkitError(`--data ${root} is not a folder`, 'give a folder of class sub-folders, or one with train/ and validation/');
  const fraction = options.validationSplit ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new ConvkitError(`validation split ${fraction}`, 'pass a fraction between 0 and 1, such as 0.2');
  const hasTrain = await isDir(join(root, 'train'));
  const validation = splitFolder(root, 'validation');
  if (hasTrain && (await isDir(validation))) {
    if (options.validationSplit !== undefined)
      throw new ConvkitError(
        `--validation-split ${options.validationSplit}, but ${validation} is already the validation split`,
        'leave --validation-split out (it splits a folder without validation/ or val/)',
      );
    const test = (await isDir(join(root, 'test'))) ? ' and test/' : ' (no test/: every candidate is scored on validation only)';
    return { root, layout: 'splits', description: `The folder's own splits: train/, ${relative(root, validation)}/${test}.` };
  }
  if (!hasTrain && (await isDir(join(root, 'test'))))
    throw new ConvkitError(`${root} has test/ but no train/`, 'give train/ and validation/ (and test/) folders, or a single folder of class sub-folders');
  const source = hasTrain ? join(root, 'train') : root;
  const folder = await scanImageFolder(source, { skipBad: options.skipBad });
  const { train, validation: held } = splitByClass(folder.files, fraction, options.seed);
  const test = hasTrain && (await isDir(join(root, 'test'))) ? await scanImageFolder(join(root, 'test'), { skipBad: options.skipBad }) : undefined;
  const key = createHash('sha256')
    .update(JSON.stringify({ source, fraction, seed: options.seed, files: folder.files.map((f) => f.path), test: test?.files.map((f) => f.path) }))
    .digest('hex')
    .slice(0, 16);
  const view = join(options.viewsDir, key);
  if (!existsSync(join(view, VIEW_MARKER))) {
    await writeDirAtomic(
      view,
      async (tmp) => {
        const place = async (files: readonly ImageFile[], split: string, from: string) => {
          for (const f of files) {
            // Images in nested folders of a class keep their sub-path, so equal names do not collide.
            const target = join(tmp, split, f.className, relative(join(from, f.className), f.path));
            await fs.mkdir(dirname(target), { recursive: true });
            await fs.symlink(await fs.realpath(f.path), target);
          }
        };
        await place(train, 'train', source);
        await place(held, 'validation', source);
        if (test) await place(test.files, 'test', join(root, 'test'));
        await fs.writeFile(join(tmp, VIEW_MARKER), `${source}\n`);
      },
      { owns: ownedBy(VIEW_MARKER), what: 'a split view of the data', flag: '--cache-dir' },
    );
  }
  const pct = `${Math.round(fraction * 100)} %`;
  const how = `seeded shuffle (seed ${options.seed}) of each class, then the first ${pct} of each class's images as validation (Keras's validation_split, per class)`;
  return {
    root: view,
    layout: hasTrain ? 'split-train' : 'split-folder',
    description: hasTrain
      ? `train/ has no validation split beside it: ${pct} of train/ was held out for validation by a ${how}; ${test ? 'test/ is used as it is' : 'there is no test/, so every candidate is scored on validation only'}.`
      : `A single folder of class folders: split into training and validation by a ${how}. There is no test split, so validation accuracy both chooses the model and is the only score (an optimistic one); hold out a test/ folder (convkit prepare) for an unbiased figure.`,
  };
}
