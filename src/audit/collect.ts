/**
 * The images an audit looks at: a folder of class sub-folders, or
 * train/validation(val)/test splits of the same classes, scanned together.
 * Bad entries are collected, not fatal: finding them is part of the audit.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { scanImageFolder, type ImageFolder } from '../data/scan.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import type { AuditImage, UnreadableFinding } from './types.js';

/** Split folder names, in the order a leak is reported (the copy in the later split is the suspect). */
export const AUDIT_SPLITS = ['train', 'validation', 'val', 'test'] as const;

export interface CollectedImages {
  root: string;
  layout: 'splits' | 'classes';
  splits: string[];
  classNames: string[];
  images: AuditImage[];
  /** One scanned folder per split ('' for the class layout), as the data pipeline reads it. */
  folders: { split: string; folder: ImageFolder }[];
  unreadable: UnreadableFinding[];
}

async function checkRoot(root: string): Promise<void> {
  const st = await fs.stat(root).catch(() => undefined);
  if (!st) throw new ConvkitError(`--data ${root} does not exist`, 'give a folder of class sub-folders, or one holding train/ (validation/, test/)');
  if (!st.isDirectory())
    throw new ConvkitError(`--data ${root} is a file, not a folder`, 'give a folder of class sub-folders, or one holding train/ (validation/, test/)');
}

/** Scans `data` (class folders, or splits of class folders); bad files are listed in `unreadable`. */
export async function collectImages(data: string): Promise<CollectedImages> {
  const root = resolve(data);
  await checkRoot(root);
  const splits = existsSync(join(root, 'train')) ? AUDIT_SPLITS.filter((s) => existsSync(join(root, s))) : [''];
  const folders: CollectedImages['folders'] = [];
  for (const split of splits) folders.push({ split, folder: await scanImageFolder(join(root, split), { skipBad: true }) });
  const classNames = folders[0]!.folder.classNames;
  for (const { split, folder } of folders) {
    if (folder.classNames.join('\n') !== classNames.join('\n')) {
      throw new ConvkitError(
        `${join(root, split)} has classes ${listNames(folder.classNames)} but ${join(root, splits[0]!)} has ${listNames(classNames)}`,
        'use the same class folders in every split',
      );
    }
  }
  const images = folders.flatMap(({ split, folder }) =>
    folder.files.map((f) => ({ path: f.path, file: relative(root, f.path), split, className: f.className, label: f.label })),
  );
  const unreadable = folders.flatMap(({ folder }) => folder.skipped.map((s) => ({ file: relative(root, s.path), reason: s.reason })));
  return { root, layout: splits[0] === '' ? 'classes' : 'splits', splits: splits.filter(Boolean), classNames, images, folders, unreadable };
}
