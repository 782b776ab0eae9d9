/**
 * What a feature folder holds and how its files describe themselves:
 *
 *   FEAT_DIR/.convkit-features            marks the folder as convkit's
 *   FEAT_DIR/shards/shard-I-of-N.bin       float32 features, then labels, of shard I's images
 *   FEAT_DIR/shards/shard-I-of-N.json      its manifest, written last: present = complete
 *   FEAT_DIR/features/KEY.bin|json         after `merge`: one feature-cache entry per split
 *   FEAT_DIR/features.json                 after `merge`: which entry is which split, and each file's sha256
 *
 * A shard's settings (base, weights, input size, preprocessing, file list,
 * convkit version) must agree with every other shard's to be merged.
 */
import { readFileSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Interpolation } from '../data/decode.js';
import type { SplitName } from '../data/splits.js';
import { sha256 } from '../util/large-files.js';
import type { ReplacePolicy } from '../util/atomic.js';
import { ownedBy } from '../util/output-guard.js';
import { packageRoot } from '../util/paths.js';
import type { ShardSpec } from './shard-spec.js';

export const SHARD_FORMAT = 'convkit-feature-shard';
export const MERGED_FORMAT = 'convkit-merged-features';
export const SHARDS_VERSION = 1;

const MARKER = '.convkit-features';
const OWN_NAMES = new Set([MARKER, 'shards', 'features', 'features.json']);

/** A feature folder: marked, or holding only what convkit writes there (temp files of a write in progress included). */
export const FEATURE_FOLDER: ReplacePolicy = {
  what: 'a feature folder',
  owns: ownedBy(MARKER, (name) => OWN_NAMES.has(name) || /^\.(convkit-features|features\.json)\.tmp-/.test(name)),
};

/** Marks `dir` as a feature folder (before anything else is written there). */
export async function markFeatureFolder(dir: string, write: (path: string, data: string) => Promise<void>): Promise<void> {
  const path = join(dir, MARKER);
  if (!(await fs.stat(path).catch(() => undefined))) await write(path, `${JSON.stringify({ format: SHARD_FORMAT, version: SHARDS_VERSION })}\n`);
}

let version: string | undefined;

/** The version of this convkit (features of other versions are not mixed). */
export function convkitVersion(): string {
  version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** What every shard of one extraction shares. */
export interface ShardSettings {
  convkit: string;
  base: string;
  /** weightsDigest of the truncated base. */
  weights: string;
  /** One image's input and feature shapes. */
  input: number[];
  output: number[];
  preprocessing: { pixels: string; colorMode: 'rgb'; interpolation: Interpolation; inModel: string };
  classNames: string[];
  classMode: 'binary' | 'categorical';
  /** listSha256 of the data plan: the whole sorted file list with labels. */
  files: string;
  /** Images per split. */
  splits: Partial<Record<SplitName, number>>;
}

/** One image of a shard, in the row order of its .bin. */
export interface ShardFileRecord {
  split: SplitName;
  /** Relative to the data folder, '/'-separated. */
  path: string;
  /** Row in its split's feature set. */
  index: number;
  label: number;
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  version: number;
  shard: ShardSpec;
  settings: ShardSettings;
  /** The data folder as this shard saw it (absolute). */
  root: string;
  /** Backend and vector ISA the features were computed with (informative: features agree across them only to rounding). */
  backend: string;
  n: number;
  yShape: number[];
  bytes: number;
  /** sha256 of the .bin. */
  sha256: string;
  files: ShardFileRecord[];
  seconds: number;
  createdAt: string;
}

/** A file of a merged split (its row is its position in the list). */
export type MergedFileRecord = Omit<ShardFileRecord, 'split' | 'index'>;

/** The merged manifest: one feature-cache entry per split and what it was made from. */
export interface MergedManifest {
  format: typeof MERGED_FORMAT;
  version: number;
  shards: number;
  settings: ShardSettings;
  /** The data folder the cache keys refer to (shard 0's). */
  root: string;
  backends: string[];
  splits: Partial<Record<SplitName, { key: string; n: number; files: MergedFileRecord[] }>>;
  createdAt: string;
}

export const shardsDir = (dir: string) => join(dir, 'shards');
export const mergedEntriesDir = (dir: string) => join(dir, 'features');
export const mergedManifestPath = (dir: string) => join(dir, 'features.json');

/** Base name of shard I of N's files. */
export const shardStem = (s: ShardSpec) => `shard-${s.index}-of-${s.count}`;

export function shardPaths(dir: string, s: ShardSpec): { bin: string; manifest: string } {
  const stem = join(shardsDir(dir), shardStem(s));
  return { bin: `${stem}.bin`, manifest: `${stem}.json` };
}

/** The JSON at `path`: undefined when absent, `{problem}` when unreadable or not an object of `format`. */
export async function readJsonOf<T extends { format: string; version: number }>(path: string, format: string): Promise<T | { problem: string } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { problem: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  let parsed: T;
  try {
    parsed = JSON.parse(text) as T;
  } catch {
    return { problem: 'it is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.format !== format) return { problem: `it is not a ${format} file` };
  if (parsed.version !== SHARDS_VERSION) return { problem: `it has version ${parsed.version} (this convkit reads ${SHARDS_VERSION})` };
  return parsed;
}

export const isProblem = (x: unknown): x is { problem: string } => typeof x === 'object' && x !== null && 'problem' in x;

const isDims = (d: unknown): d is number[] => Array.isArray(d) && d.every((x) => Number.isInteger(x) && x >= 0);

/** What is wrong with the fields of a parsed shard manifest, or undefined (its data is checked by bodyProblem). */
export function manifestProblem(m: ShardManifest): string | undefined {
  const s = m.settings as Partial<ShardSettings> | undefined;
  const sound =
    Number.isInteger(m.shard?.index) &&
    Number.isInteger(m.shard?.count) &&
    typeof s === 'object' &&
    isDims(s.input) &&
    isDims(s.output) &&
    Array.isArray(s.classNames) &&
    typeof s.splits === 'object' &&
    isDims(m.yShape) &&
    Number.isInteger(m.n) &&
    Array.isArray(m.files) &&
    m.files.length === m.n &&
    typeof m.root === 'string' &&
    typeof m.sha256 === 'string';
  if (!sound) return 'its manifest is malformed';
  const rowBytes = 4 * (s.output!.reduce((a, b) => a * b, 1) + m.yShape.reduce((a, b) => a * b, 1));
  return m.bytes === m.n * rowBytes ? undefined : 'its manifest does not add up';
}

/** What is wrong with a shard's .bin given its manifest, or undefined. */
export function bodyProblem(m: ShardManifest, body: Uint8Array): string | undefined {
  if (body.byteLength !== m.bytes) return `its data holds ${body.byteLength} bytes instead of ${m.bytes}`;
  if (sha256(body) !== m.sha256) return 'its data does not match its sha256';
  return undefined;
}

const NAMES: Record<keyof ShardSettings, string> = {
  convkit: 'convkit version',
  base: 'base',
  // Before the weights: their digest covers the input shape too.
  input: 'input shape (--image-size)',
  weights: 'base weights (sha256)',
  output: 'feature shape',
  preprocessing: 'preprocessing',
  classNames: 'class names',
  classMode: 'class mode',
  files: 'file list (sha256)',
  splits: 'images per split',
};

/** "input shape (--image-size) [96,96,3] instead of [128,128,3]" for the first setting of `a` that differs from `b`, or undefined. */
export function settingsDifference(a: ShardSettings, b: ShardSettings): string | undefined {
  for (const key of Object.keys(NAMES) as (keyof ShardSettings)[]) {
    const x = JSON.stringify(a[key]),
      y = JSON.stringify(b[key]);
    if (x !== y) return `${NAMES[key]} ${x} instead of ${y}`;
  }
  return undefined;
}
