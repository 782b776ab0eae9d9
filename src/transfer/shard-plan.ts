/**
 * The files of a data folder (train/, validation/ or val/, test/; one
 * sub-folder per class in each) and how they are dealt into shards: sorted
 * by their path relative to the folder, file k goes to shard k mod N. Every
 * machine that sees the same files makes the same split, whatever the
 * folder is mounted as.
 */
import { createHash } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { ImageFile, ImageFolder } from '../data/scan.js';
import { scanSplits, type SplitName } from '../data/splits.js';
import type { ShardSpec } from './shard-spec.js';

/** One image of the data set, placed. */
export interface PlannedFile {
  split: SplitName;
  /** Path relative to the data folder, '/'-separated (e.g. "train/cats/cat.1.jpg"). */
  path: string;
  /** Position in its split's scan order: the row of its features in the split's feature set. */
  index: number;
  label: number;
  /** The file as scanned (absolute path). */
  file: ImageFile;
}

export interface DataPlan {
  /** The data folder, absolute. */
  root: string;
  classNames: string[];
  classMode: 'binary' | 'categorical';
  /** Images per split present, in the order train, validation, test. */
  splits: Partial<Record<SplitName, number>>;
  /** Every image, sorted by `path` (code-point order). */
  files: PlannedFile[];
  /** sha256 of the sorted paths, labels and class names: shards of one data set share it. */
  listSha256: string;
}

const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

const byPath = (a: PlannedFile, b: PlannedFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Scans the splits of `data` (train/ and validation/ required, as the transfer recipes read them). */
export async function planData(data: string): Promise<DataPlan> {
  const { root, classNames, classMode, ...bySplit } = await scanSplits(data);
  const scans = SPLITS.flatMap((name) => (bySplit[name] ? [[name, bySplit[name]] as [SplitName, ImageFolder]] : []));
  const files: PlannedFile[] = scans.flatMap(([split, scan]) =>
    scan.files.map((file, index) => ({ split, path: relative(root, file.path).split(sep).join('/'), index, label: file.label, file })),
  );
  files.sort(byPath);
  const h = createHash('sha256').update(JSON.stringify(classNames));
  for (const f of files) h.update(`${f.path}\0${f.label}\n`);
  return {
    root,
    classNames,
    classMode,
    splits: Object.fromEntries(scans.map(([name, scan]) => [name, scan.files.length])),
    files,
    listSha256: h.digest('hex'),
  };
}

/** The files of one shard, in the plan's order. */
export function shardFiles(plan: DataPlan, shard: ShardSpec): PlannedFile[] {
  return plan.files.filter((_, k) => k % shard.count === shard.index);
}
