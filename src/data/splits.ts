/** Where a data folder keeps its splits: train/, validation/ (or val/, Imagenette's name) and test/. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { scanImageFolder, type ImageFolder } from './scan.js';

export type SplitName = 'train' | 'validation' | 'test';

/** The folder of `split` in `data`: validation/ when there is one, else val/ when there is that. */
export function splitFolder(data: string, split: SplitName): string {
  if (split === 'validation' && !existsSync(join(data, 'validation')) && existsSync(join(data, 'val'))) return join(data, 'val');
  return join(data, split);
}

/** The splits of a data folder, scanned: train and validation always, test when present; one class list for all. */
export interface ScannedSplits {
  root: string;
  classNames: string[];
  classMode: 'binary' | 'categorical';
  train: ImageFolder;
  validation: ImageFolder;
  test?: ImageFolder;
}

/** Scans train/, validation/ (or val/) and test/ of `data`, refusing a missing split or classes that differ between splits. */
export async function scanSplits(data: string): Promise<ScannedSplits> {
  const root = resolve(data);
  for (const name of ['train', 'validation'] as const) {
    if (!existsSync(splitFolder(root, name)))
      throw new ConvkitError(
        `${splitFolder(root, name)} not found`,
        '--data must hold train/ and validation/ or val/ (and optionally test/), each with one sub-folder per class',
      );
  }
  const testDir = splitFolder(root, 'test');
  const [train, validation, test] = await Promise.all([
    scanImageFolder(splitFolder(root, 'train')),
    scanImageFolder(splitFolder(root, 'validation')),
    existsSync(testDir) ? scanImageFolder(testDir) : undefined,
  ]);
  const classNames = train.classNames;
  for (const [name, scan] of [
    ['validation', validation],
    ['test', test],
  ] as const) {
    if (scan && scan.classNames.join('\n') !== classNames.join('\n'))
      throw new ConvkitError(
        `${splitFolder(root, name)} has classes ${listNames(scan.classNames)} but train has ${listNames(classNames)}`,
        'use the same class folders in every split',
      );
  }
  return { root, classNames, classMode: classNames.length === 2 ? 'binary' : 'categorical', train, validation, test };
}
