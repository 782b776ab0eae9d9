/**
 * Joins the shards of a feature folder into feature-cache entries, one per
 * split, in the rows the `features` recipe's own extraction gives (each
 * split's scan order) and under the key it computes for the same base,
 * input size and files — so the entries are byte for byte what one process
 * would have cached. Refuses, naming them, missing or damaged shards and
 * shards extracted with other settings.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SplitName } from '../data/splits.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { readLargeFile } from '../util/large-files.js';
import { Progress } from '../util/progress.js';
import { cacheKey, identityOf, stampsDigest, writeFeatureSet, type FeatureSet, type FileStamp } from './feature-cache.js';
import {
  FEATURE_FOLDER,
  MERGED_FORMAT,
  SHARD_FORMAT,
  SHARDS_VERSION,
  bodyProblem,
  isProblem,
  manifestProblem,
  mergedEntriesDir,
  mergedManifestPath,
  readJsonOf,
  settingsDifference,
  shardPaths,
  shardsDir,
  type MergedFileRecord,
  type MergedManifest,
  type ShardManifest,
} from './shard-manifest.js';
import { shardName, type ShardSpec } from './shard-spec.js';

export interface MergeShardsOptions {
  /** How many shards the extraction had (default: what the folder holds, when that is one count). */
  shards?: number;
  silent?: boolean;
  /** Where the one-line notices go (default stderr). */
  log?: (line: string) => void;
}

export interface MergeShardsResult {
  dir: string;
  /** The data folder the shards read (shard 0's view of it). */
  data: string;
  shards: number;
  /** Images and cache key per split. */
  splits: Partial<Record<SplitName, { n: number; key: string }>>;
  /** The merged manifest (what `--features DIR` reads). */
  manifest: string;
}

const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];
const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Merges the shards in feature folder `dir` (see shard-manifest.ts for its layout). */
export async function mergeFeatureShards(folder: string, o: MergeShardsOptions = {}): Promise<MergeShardsResult> {
  const dir = resolve(folder);
  const log = o.log ?? ((line: string) => console.error(line));
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st?.isDirectory() || !(await FEATURE_FOLDER.owns(dir)))
    throw new ConvkitError(`${dir} is not a feature folder`, 'give the --out folder of "convkit features --shard I/N" (it holds shards/)');
  const count = o.shards ?? (await shardCount(dir));
  const manifests = await readShards(dir, count);
  const first = manifests[0]!;
  const settings = first.settings;
  for (const m of manifests.slice(1)) {
    const differs = settingsDifference(m.settings, settings);
    if (differs)
      throw new ConvkitError(
        `${shardName(m.shard)} (${shardPaths(dir, m.shard).manifest}) was extracted with ${differs} of ${shardName(first.shard)}`,
        `extract every shard with the same --data files, --base, --image-size and convkit version: run ${shardName(m.shard)} again with the others' settings (or the others with its settings), then merge again`,
      );
  }
  const backends = [...new Set(manifests.map((m) => m.backend))];
  if (backends.length > 1)
    log(`convkit: the shards were computed on different backends (${backends.join('; ')}); their features agree only to float32 rounding`);

  const bodies = new Progress({ total: manifests.length, label: 'checking shards', unit: 'shard', silent: o.silent });
  for (const m of manifests) {
    const problem = bodyProblem(m, await readLargeFile(shardPaths(dir, m.shard).bin).catch(() => new Uint8Array(0)));
    if (problem)
      throw new ConvkitError(
        `${shardName(m.shard)}'s data ${shardPaths(dir, m.shard).bin} is damaged: ${problem}`,
        `run ${shardName(m.shard)} again (${extractCommand(m, dir)}); it redoes a damaged shard`,
      );
    bodies.tick();
  }
  bodies.finish();

  const merged: MergedManifest = {
    format: MERGED_FORMAT,
    version: SHARDS_VERSION,
    shards: count,
    settings,
    root: first.root,
    backends,
    splits: {},
    createdAt: new Date().toISOString(),
  };
  const splits: MergeShardsResult['splits'] = {};
  for (const split of SPLITS) {
    const n = settings.splits[split];
    if (n === undefined) continue;
    const set = await assembleSplit(dir, manifests, split, n);
    const identity = identityOf({
      baseName: settings.base,
      weights: settings.weights,
      input: settings.input,
      output: settings.output,
      data: stampsDigest(set.stamps),
      classNames: settings.classNames,
      classMode: settings.classMode,
      interpolation: settings.preprocessing.interpolation,
    });
    const key = cacheKey(identity);
    const entry: FeatureSet = {
      x: set.x,
      y: set.y,
      shape: settings.output,
      yShape: first.yShape,
      n,
      files: set.stamps.map((s) => s.path),
      classNames: settings.classNames,
      key,
      hit: false,
    };
    await writeFeatureSet(mergedEntriesDir(dir), entry, identity);
    merged.splits[split] = { key, n, files: set.records };
    splits[split] = { n, key };
  }
  const previous = await readJsonOf<MergedManifest>(mergedManifestPath(dir), MERGED_FORMAT);
  await writeFileAtomic(mergedManifestPath(dir), `${JSON.stringify(merged)}\n`);
  // Entries an earlier merge wrote that this one does not use (the data or settings changed since).
  if (previous && !isProblem(previous)) {
    const kept = new Set(Object.values(merged.splits).map((s) => s.key));
    for (const old of Object.values(previous.splits ?? {})) {
      if (!old || kept.has(old.key) || !/^[0-9a-f]{32}$/.test(old.key)) continue;
      for (const ext of ['bin', 'json']) await fs.rm(join(mergedEntriesDir(dir), `${old.key}.${ext}`), { force: true });
    }
  }
  return { dir, data: first.root, shards: count, splits, manifest: mergedManifestPath(dir) };
}

/** The shard count of the folder's complete shards, when there is exactly one. */
async function shardCount(dir: string): Promise<number> {
  const names = await fs.readdir(shardsDir(dir)).catch(() => [] as string[]);
  const counts = [...new Set(names.map((n) => /^shard-\d+-of-(\d+)\.json$/.exec(n)?.[1]).filter((c): c is string => c !== undefined))].map(Number);
  if (counts.length === 0)
    throw new ConvkitError(
      `${shardsDir(dir)} holds no finished shard`,
      `run "convkit features --data DIR --shard I/N --out ${dir}" for I = 0 … N-1 first (or --shards N in an Indexed Job)`,
    );
  if (counts.length > 1)
    throw new ConvkitError(
      `${shardsDir(dir)} holds shards of extractions split ${counts.sort((a, b) => a - b).join(' and ')} ways`,
      `pass --shards N to merge the N-way one`,
    );
  return counts[0]!;
}

/** Every shard's manifest, in index order; missing or unreadable ones are named. */
async function readShards(dir: string, count: number): Promise<ShardManifest[]> {
  const manifests: ShardManifest[] = [];
  const missing: number[] = [];
  const names = await fs.readdir(shardsDir(dir)).catch(() => [] as string[]);
  for (let index = 0; index < count; index++) {
    const shard: ShardSpec = { index, count };
    const path = shardPaths(dir, shard).manifest;
    const m = await readJsonOf<ShardManifest>(path, SHARD_FORMAT);
    if (m === undefined) missing.push(index);
    else if (isProblem(m) || manifestProblem(m))
      throw new ConvkitError(
        `${shardName(shard)}'s manifest ${path} is damaged: ${isProblem(m) ? m.problem : manifestProblem(m)}`,
        `run ${shardName(shard)} again`,
      );
    else if (m.shard?.index !== index || m.shard?.count !== count)
      throw new ConvkitError(`${path} describes ${shardName(m.shard)}, not ${shardName(shard)}`, `run ${shardName(shard)} again`);
    else manifests.push(m);
  }
  if (missing.length > 0) {
    const interrupted = missing.filter((i) => names.some((n) => n.startsWith(`.shard-${i}-of-${count}.`) || n === `shard-${i}-of-${count}.bin`));
    const which = `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')}`;
    const example = manifests[0];
    throw new ConvkitError(
      `${dir} lacks ${which} of ${count} (${count - missing.length} finished)${interrupted.length ? `; ${interrupted.map((i) => `${i}/${count}`).join(', ')} started but did not finish` : ''}`,
      `run ${missing.length > 1 ? 'each missing shard' : 'it'} (${example ? extractCommand(example, dir, missing[0]) : `convkit features --data DIR --shard ${missing[0]}/${count} --out ${dir}`}), then merge again`,
    );
  }
  return manifests;
}

/** The command that extracts shard `index` with the settings of `m`. */
function extractCommand(m: ShardManifest, dir: string, index = m.shard.index): string {
  return `convkit features --data ${m.root} --base ${m.settings.base} --image-size ${m.settings.input[0]} --shard ${index}/${m.shard.count} --out ${dir}`;
}

/** One split's rows from every shard, in the split's scan order, with the stamps of its files. */
async function assembleSplit(dir: string, manifests: readonly ShardManifest[], split: SplitName, n: number) {
  const settings = manifests[0]!.settings;
  const root = manifests[0]!.root;
  const featureSize = product(settings.output),
    labelSize = product(manifests[0]!.yShape);
  const x = new Float32Array(n * featureSize),
    y = new Float32Array(n * labelSize);
  const stamps: FileStamp[] = new Array(n);
  const records: MergedFileRecord[] = new Array(n);
  const seen = new Uint8Array(n);
  for (const m of manifests) {
    if (!m.files.some((f) => f.split === split)) continue;
    const buf = await readLargeFile(shardPaths(dir, m.shard).bin);
    const xs = new Float32Array(buf.buffer, buf.byteOffset, m.n * featureSize);
    const ys = new Float32Array(buf.buffer, buf.byteOffset + m.n * featureSize * 4, m.n * labelSize);
    for (const [row, f] of m.files.entries()) {
      if (f.split !== split) continue;
      if (!(f.index >= 0 && f.index < n) || seen[f.index])
        throw new ConvkitError(
          `${shardName(m.shard)} places ${f.path} at row ${f.index} of ${split}, which is taken or out of range`,
          'extract the shards again',
        );
      seen[f.index] = 1;
      x.set(xs.subarray(row * featureSize, (row + 1) * featureSize), f.index * featureSize);
      y.set(ys.subarray(row * labelSize, (row + 1) * labelSize), f.index * labelSize);
      stamps[f.index] = { path: join(root, ...f.path.split('/')), size: f.size, mtimeMs: f.mtimeMs, label: String(f.label) };
      records[f.index] = { path: f.path, label: f.label, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256 };
    }
  }
  const gap = seen.indexOf(0);
  if (gap >= 0) throw new ConvkitError(`no shard holds row ${gap} of ${split}`, 'extract the shards again with one --data folder');
  return { x, y, stamps, records };
}
