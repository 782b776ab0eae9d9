/**
 * One shard of a feature extraction: the frozen base over every N-th image
 * of a data folder (see shard-plan.ts), written as one shard file and its
 * manifest. Shards run in separate processes or machines into one shared
 * folder; `mergeFeatureShards` then joins them into the feature cache the
 * `features` recipe reads.
 *
 * A shard is written whole or not at all: the data file, then the manifest
 * that declares it complete, each through a temp file and a rename. A rerun
 * skips a shard whose manifest matches (same settings, files unchanged,
 * data intact) and redoes any other, first clearing the temp files a killed
 * run of the same shard left behind. One shard index runs in one place at a
 * time (an Indexed Job starts a pod's replacement after the pod is gone).
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { backendInfo } from '../backend/index.js';
import type { Interpolation } from '../data/decode.js';
import { DirectoryIterator } from '../data/iterator.js';
import type { SplitName } from '../data/splits.js';
import { sha256 } from '../util/large-files.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';
import { claimOutputDir } from '../util/output-guard.js';
import { Progress } from '../util/progress.js';
import { getBase, type PretrainedBase } from './bases.js';
import { computeActivations, featureBytes, weightsDigest } from './feature-cache.js';
import { freeze } from './freeze.js';
import { truncate } from './head.js';
import {
  FEATURE_FOLDER,
  SHARD_FORMAT,
  SHARDS_VERSION,
  bodyProblem,
  convkitVersion,
  isProblem,
  manifestProblem,
  markFeatureFolder,
  readJsonOf,
  settingsDifference,
  shardPaths,
  shardStem,
  shardsDir,
  type ShardFileRecord,
  type ShardManifest,
  type ShardSettings,
} from './shard-manifest.js';
import { planData, shardFiles, type DataPlan, type PlannedFile } from './shard-plan.js';
import { shardName, type ShardSpec } from './shard-spec.js';

export interface FeatureShardOptions {
  /** Folder with train/ and validation/ (or val/), optionally test/, one sub-folder per class in each. */
  data: string;
  /** The feature folder all shards write to (new, empty or a feature folder). */
  out: string;
  shard: ShardSpec;
  /** Base name (default mobilenet_v1) or a loaded base. */
  base?: string | PretrainedBase;
  /** [height, width] (default the base's). */
  inputSize?: readonly [number, number];
  interpolation?: Interpolation;
  /** Images per forward pass (the features do not depend on it). */
  batchSize?: number;
  silent?: boolean;
  signal?: AbortSignal;
  /** Where the one-line notices go (default stderr). */
  log?: (line: string) => void;
}

export interface FeatureShardResult {
  shard: ShardSpec;
  /** Images in this shard, in all, and per split. */
  n: number;
  splits: Partial<Record<SplitName, number>>;
  /** True when the shard was already complete and nothing was computed. */
  skipped: boolean;
  /** The manifest of the shard. */
  manifest: string;
  seconds: number;
}

/** Extracts shard `shard` of `data` into `out` (or finds it already there). */
export async function extractFeatureShard(o: FeatureShardOptions): Promise<FeatureShardResult> {
  const t0 = performance.now();
  const log = o.log ?? ((line: string) => console.error(line));
  const out = resolve(o.out);
  await claimOutputDir({ path: out, flag: '--out', ...FEATURE_FOLDER, inputs: [{ path: o.data, flag: '--data' }] });
  await markFeatureFolder(out, writeFileAtomic);
  const plan = await planData(o.data);
  const mine = shardFiles(plan, o.shard);
  const base = typeof o.base === 'object' ? o.base : getBase(o.base ?? 'mobilenet_v1');
  const inputSize = o.inputSize ?? base.inputSize;
  const interpolation = o.interpolation ?? 'bilinear';
  const loaded = await base.load({ inputSize });
  try {
    const features = truncate(loaded.model, loaded.featureLayer);
    freeze(features);
    const settings = shardSettings(plan, base.name, features, interpolation);
    const paths = shardPaths(out, o.shard);
    const result = (n: number, skipped: boolean): FeatureShardResult => ({
      shard: o.shard,
      n,
      splits: countSplits(mine),
      skipped,
      manifest: paths.manifest,
      seconds: (performance.now() - t0) / 1000,
    });
    const stale = await whyNotComplete(paths, o.shard, settings, plan);
    if (stale === undefined) return result(mine.length, true);
    if (stale !== 'absent') log(`convkit: ${shardName(o.shard)} in ${paths.manifest} is extracted again: ${stale}`);
    // A manifest always describes the data beside it: the old one goes before the new data lands.
    await fs.rm(paths.manifest, { force: true });
    await removeLeftovers(out, o.shard);

    log(
      `convkit: ${shardName(o.shard)}: ${mine.length} of ${plan.files.length} images (${describeSplits(countSplits(mine))}) through ${base.name} at ${inputSize.join('×')}`,
    );
    const records = await stampFiles(mine, o);
    const set = await runBase(features, mine, plan, { ...o, inputSize, interpolation });
    const bad = firstNonFinite(set.x);
    if (bad >= 0) {
      const file = mine[Math.floor(bad / (set.x.length / set.n))];
      throw new ConvkitError(
        `the base ${base.name} gives ${set.x[bad]} as a feature of ${file?.file.path ?? 'an image'}`,
        'its weights or the image hold NaN or huge values: check the pretrained files and the image',
      );
    }
    const body = featureBytes(set);
    await writeFileAtomic(paths.bin, body);
    const manifest: ShardManifest = {
      format: SHARD_FORMAT,
      version: SHARDS_VERSION,
      shard: o.shard,
      settings,
      root: plan.root,
      backend: backendDescription(),
      n: set.n,
      yShape: set.yShape,
      bytes: set.x.byteLength + set.y.byteLength,
      sha256: sha256(body),
      files: records,
      seconds: (performance.now() - t0) / 1000,
      createdAt: new Date().toISOString(),
    };
    await writeFileAtomic(paths.manifest, `${JSON.stringify(manifest)}\n`);
    return result(set.n, false);
  } finally {
    loaded.model.dispose();
  }
}

function shardSettings(plan: DataPlan, baseName: string, features: tf.LayersModel, interpolation: Interpolation): ShardSettings {
  return {
    convkit: convkitVersion(),
    base: baseName,
    weights: weightsDigest(features),
    input: features.inputs[0]!.shape.slice(1) as number[],
    output: features.outputs[0]!.shape.slice(1) as number[],
    preprocessing: { pixels: 'RGB 0..255', colorMode: 'rgb', interpolation, inModel: `${baseName} preprocessing (first layers)` },
    classNames: plan.classNames,
    classMode: plan.classMode,
    files: plan.listSha256,
    splits: plan.splits,
  };
}

function backendDescription(): string {
  const info = backendInfo();
  const name = info?.name ?? tf.getBackend();
  return info?.details.isa ? `${name} (${info.details.isa})` : name;
}

function countSplits(files: readonly PlannedFile[]): Partial<Record<SplitName, number>> {
  const counts: Partial<Record<SplitName, number>> = {};
  for (const f of files) counts[f.split] = (counts[f.split] ?? 0) + 1;
  return counts;
}

/** "train 500, validation 250, test 250" */
export function describeSplits(counts: Partial<Record<SplitName, number>>): string {
  return (['train', 'validation', 'test'] as const)
    .filter((s) => counts[s] !== undefined)
    .map((s) => `${s} ${counts[s]}`)
    .join(', ');
}

/**
 * Why the shard must be (re)extracted: 'absent' when it never finished,
 * a reason when its manifest or data disagree with this run, undefined
 * when it is complete.
 */
async function whyNotComplete(
  paths: { bin: string; manifest: string },
  shard: ShardSpec,
  settings: ShardSettings,
  plan: DataPlan,
): Promise<string | undefined> {
  const m = await readJsonOf<ShardManifest>(paths.manifest, SHARD_FORMAT);
  if (m === undefined) return 'absent';
  if (isProblem(m)) return `its manifest is damaged (${m.problem})`;
  const malformed = manifestProblem(m);
  if (malformed) return malformed;
  if (m.shard.index !== shard.index || m.shard.count !== shard.count) return 'its manifest names another shard';
  const differs = settingsDifference(settings, m.settings);
  if (differs) return `this run has ${differs}`;
  const expected = shardFiles(plan, shard);
  if (m.files.length !== expected.length) return 'its file list differs';
  for (const [i, f] of expected.entries()) {
    const r = m.files[i]!;
    if (r.path !== f.path || r.split !== f.split || r.index !== f.index || r.label !== f.label) return `its file list differs at ${f.path}`;
    const st = await fs.stat(f.file.path);
    if (st.size !== r.size || st.mtimeMs !== r.mtimeMs) return `${f.path} changed since`;
  }
  let body: Buffer;
  try {
    body = await fs.readFile(paths.bin);
  } catch {
    return `its data ${basename(paths.bin)} is missing`;
  }
  return bodyProblem(m, body);
}

/** Removes the temp files a killed run of this shard left (`.shard-I-of-N.{bin,json}.tmp-…`). */
async function removeLeftovers(out: string, shard: ShardSpec): Promise<void> {
  const dir = shardsDir(out);
  const prefix = `.${shardStem(shard)}.`;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && /^\.shard-\d+-of-\d+\.(bin|json)\.tmp-/.test(name)) await fs.rm(join(dir, name), { force: true });
  }
}

/** Size, modification time and sha256 of each file of the shard. */
async function stampFiles(files: readonly PlannedFile[], o: FeatureShardOptions): Promise<ShardFileRecord[]> {
  const progress = new Progress({ total: files.length, label: `hashing ${shardName(o.shard)}`, unit: 'img', silent: o.silent });
  const out: ShardFileRecord[] = new Array(files.length);
  let next = 0;
  // A few reads in flight keep the disk busy; hashing is far cheaper than the base.
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      o.signal?.throwIfAborted();
      const f = files[i]!;
      const [st, bytes] = await Promise.all([fs.stat(f.file.path), fs.readFile(f.file.path)]);
      out[i] = {
        split: f.split,
        path: f.path,
        index: f.index,
        label: f.label,
        size: st.size,
        mtimeMs: st.mtimeMs,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      progress.tick();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  progress.finish();
  return out;
}

/** The base over the shard's images, in the shard's order (the splits mixed; labels as each split's iterator encodes them). */
async function runBase(
  features: tf.LayersModel,
  files: readonly PlannedFile[],
  plan: DataPlan,
  o: FeatureShardOptions & { inputSize: readonly [number, number]; interpolation: Interpolation },
): Promise<{ x: Float32Array; y: Float32Array; yShape: number[]; n: number }> {
  const yShape = plan.classMode === 'binary' ? [1] : [plan.classNames.length];
  if (files.length === 0) return { x: new Float32Array(0), y: new Float32Array(0), yShape, n: 0 };
  const iterator = new DirectoryIterator(
    { root: plan.root, classNames: plan.classNames, files: files.map((f) => f.file), skipped: [] },
    {
      targetSize: [o.inputSize[0], o.inputSize[1]],
      batchSize: o.batchSize ?? 32,
      shuffle: false,
      classMode: plan.classMode,
      interpolation: o.interpolation,
    },
  );
  try {
    const set = await computeActivations(features, iterator, { label: `features ${shardName(o.shard)}`, silent: o.silent, signal: o.signal });
    if (set.n !== files.length) throw new ConvkitError(`${shardName(o.shard)} yielded ${set.n} of its ${files.length} images`, 'run it again');
    return { x: set.x, y: set.y, yShape: set.yShape, n: set.n };
  } finally {
    iterator.dispose();
  }
}
