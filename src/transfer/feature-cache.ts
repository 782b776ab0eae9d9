/**
 * Features of a frozen base computed once and kept on disk: one pass of the
 * base over a data set (no augmentation), stored as float32 binary plus a
 * JSON header, keyed by the base (name, weights), the image size and the
 * data (paths, sizes, modification times, labels). Training another head on
 * the same data reads the file instead of running the base again. Entries
 * carry a sha256 of their data: a damaged one (truncated, altered, NaN) is
 * never trained on; it is recomputed and replaced, with a notice.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';
import { readLargeFile, sha256 } from '../util/large-files.js';
import { Progress } from '../util/progress.js';
import { batchStream, filePath, type BatchIteratorLike } from '../train/batches.js';
import type { Interpolation } from '../data/decode.js';

export const FEATURE_FORMAT = 'convkit-features';
export const FEATURE_VERSION = 2;

/** Where feature files go: $CONVKIT_CACHE_DIR, else $XDG_CACHE_HOME/convkit, else ~/.cache/convkit (then /features). */
export function defaultCacheDir(): string {
  const root = process.env.CONVKIT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'convkit');
  return join(root, 'features');
}

/** A data source the cache can identify before reading it: a batch iterator that lists its files. */
export type FeatureSource = BatchIteratorLike & {
  readonly files: readonly (string | { path: string; label?: number })[];
  /** How the source resizes its images (a folder iterator's): another resampling gives other features. */
  readonly decodeOptions?: { readonly interpolation?: Interpolation };
};

/** Features (or any per-image activations) of a whole data set, in memory. */
export interface FeatureSet {
  /** [n, ...shape] row-major. */
  x: Float32Array;
  /** Shape of one example's features. */
  shape: number[];
  /** Labels as the source encodes them, [n, ...yShape]. */
  y: Float32Array;
  yShape: number[];
  n: number;
  files: string[];
  classNames: string[];
  /** Key the set is stored under. */
  key: string;
  /** True when it came from the disk cache. */
  hit: boolean;
}

interface Header {
  format: typeof FEATURE_FORMAT;
  version: number;
  key: string;
  identity: Record<string, unknown>;
  n: number;
  shape: number[];
  yShape: number[];
  classNames: string[];
  files: string[];
  bytes: number;
  /** sha256 (hex) of the .bin file. */
  sha256: string;
  createdAt: string;
}

const digestCache = new WeakMap<tf.LayersModel, string>();

/** SHA-256 of a model's weights (names, shapes, values): the identity of "these weights". */
export function weightsDigest(model: tf.LayersModel): string {
  const known = digestCache.get(model);
  if (known) return known;
  const h = createHash('sha256');
  for (const w of model.weights) {
    const v = w.read();
    h.update(`${w.originalName}:${v.shape.join('x')}:${v.dtype};`);
    const data = v.dataSync();
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  h.update(JSON.stringify(model.inputs.map((t) => t.shape)));
  const d = h.digest('hex');
  digestCache.set(model, d);
  return d;
}

/** What identifies one data file in a cache key: its path as read, size, modification time and label ('' for none). */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
  label: string;
}

/** SHA-256 of a file list: paths, sizes, modification times and labels (content edits change mtime). */
export async function dataDigest(files: FeatureSource['files']): Promise<string> {
  const stamps: FileStamp[] = [];
  for (const f of files) {
    const path = resolve(filePath(f));
    let st;
    try {
      st = await fs.stat(path);
    } catch {
      throw new ConvkitError(`data file ${path} is missing`, 'the folder changed while reading it; run again');
    }
    stamps.push({ path, size: st.size, mtimeMs: st.mtimeMs, label: typeof f === 'string' ? '' : String(f.label ?? '') });
  }
  return stampsDigest(stamps);
}

/** dataDigest of files stamped elsewhere (e.g. by the processes that extracted feature shards). */
export function stampsDigest(stamps: readonly FileStamp[]): string {
  const h = createHash('sha256');
  for (const s of stamps) h.update(`${s.path}\0${s.size}\0${s.mtimeMs}\0${s.label}\n`);
  return h.digest('hex');
}

export function cacheKey(identity: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const isDims = (d: unknown): d is number[] => Array.isArray(d) && d.every((x) => Number.isInteger(x) && x >= 0);

/** What is wrong with a stored entry (header + data), or undefined when it is sound. */
function entryProblem(h: Header, key: string, body: Uint8Array): string | undefined {
  if (h.key !== key || !Number.isInteger(h.n) || !isDims(h.shape) || !isDims(h.yShape) || !Array.isArray(h.files) || !Array.isArray(h.classNames))
    return 'its header is malformed';
  const bytes = h.n * (product(h.shape) + product(h.yShape)) * 4;
  if (h.bytes !== bytes || h.files.length !== h.n) return 'its header does not add up';
  if (body.byteLength !== bytes) return `its data holds ${body.byteLength} bytes instead of ${bytes}`;
  if (sha256(body) !== h.sha256) return 'its data does not match its sha256';
  const i = firstNonFinite(new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4));
  if (i >= 0) return `it holds a non-finite value at ${i}`;
  return undefined;
}

/**
 * Reads a stored set, or undefined when absent, from another version, or
 * damaged; `onDamaged` hears why a damaged one was refused.
 */
export async function readFeatureSet(dir: string, key: string, onDamaged: (reason: string) => void = () => undefined): Promise<FeatureSet | undefined> {
  let text: string;
  try {
    text = await fs.readFile(join(dir, `${key}.json`), 'utf8');
  } catch {
    return undefined;
  }
  const damaged = (reason: string) => {
    onDamaged(reason);
    return undefined;
  };
  let header: Header;
  try {
    header = JSON.parse(text) as Header;
  } catch {
    return damaged('its header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null) return damaged('its header is malformed');
  if (header.format !== FEATURE_FORMAT || header.version !== FEATURE_VERSION) return undefined;
  let buf: Uint8Array;
  try {
    buf = await readLargeFile(join(dir, `${key}.bin`));
  } catch (err) {
    return damaged(`its data cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const problem = entryProblem(header, key, buf);
  if (problem) return damaged(problem);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const xLen = header.n * product(header.shape);
  return {
    x: all.subarray(0, xLen),
    y: all.subarray(xLen),
    shape: header.shape,
    yShape: header.yShape,
    n: header.n,
    files: header.files,
    classNames: header.classNames,
    key,
    hit: true,
  };
}

/** A set's data file as the two views it is (features, then labels): no copy of data that may pass 2 GiB. */
export function featureBytes(set: Pick<FeatureSet, 'x' | 'y'>): Uint8Array[] {
  return [set.x, set.y].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/**
 * Stores a set: the data first, then the header that makes it visible, each
 * through its own temp file and rename, so a concurrent reader sees a whole
 * entry or none (two writers of one key write the same features).
 */
export async function writeFeatureSet(dir: string, set: FeatureSet, identity: Record<string, unknown>): Promise<void> {
  const body = featureBytes(set);
  const bytes = set.x.byteLength + set.y.byteLength;
  await writeFileAtomic(join(dir, `${set.key}.bin`), body);
  const header: Header = {
    format: FEATURE_FORMAT,
    version: FEATURE_VERSION,
    key: set.key,
    identity,
    n: set.n,
    shape: set.shape,
    yShape: set.yShape,
    classNames: set.classNames,
    files: set.files,
    bytes,
    sha256: sha256(body),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, `${set.key}.json`), JSON.stringify(header) + '\n');
}

export interface ComputeOptions {
  /** Label of the progress bar. */
  label?: string;
  /** No progress output. */
  silent?: boolean;
  /** Applied to each input batch before the model (e.g. one augmentation draw); gets the batch index. */
  transform?: (x: tf.Tensor4D, batchIndex: number) => tf.Tensor4D;
  /** Stops between batches when aborted: a pass of a big base over thousands of images takes minutes. */
  signal?: AbortSignal;
}

/** Runs `model` over one pass of `data` and collects its outputs (inference mode). */
export async function computeActivations(model: tf.LayersModel, data: FeatureSource, options: ComputeOptions = {}): Promise<Omit<FeatureSet, 'key' | 'hit'>> {
  const total = data.n ?? data.samples ?? data.files.length;
  const progress = new Progress({ total, label: options.label ?? 'features', unit: 'img', silent: options.silent });
  const outShape = model.outputs[0]!.shape.slice(1) as number[];
  if (outShape.some((d) => d == null))
    throw new ConvkitError(`the base's output shape ${JSON.stringify(outShape)} is not fixed`, 'give the base a fixed input size');
  const size = outShape.reduce((a, b) => a * b, 1);
  let x = new Float32Array(total * size);
  let y: Float32Array | undefined;
  let yShape: number[] = [];
  const files: string[] = [];
  let n = 0,
    b = 0;
  for await (const batch of batchStream(data)) {
    try {
      options.signal?.throwIfAborted();
      const out = tf.tidy(() => {
        const input = options.transform ? options.transform(batch.x, b) : batch.x;
        return model.predict(input) as tf.Tensor;
      });
      const k = batch.x.shape[0];
      if ((n + k) * size > x.length) {
        const grown = new Float32Array((n + k) * size);
        grown.set(x);
        x = grown;
      }
      try {
        // Copied before the tensor goes: a backend may hand out a view of its own memory.
        x.set((await out.data()) as Float32Array, n * size);
      } finally {
        out.dispose();
      }
      if (batch.y) {
        yShape = batch.y.shape.slice(1);
        const ys = yShape.reduce((a, c) => a * c, 1);
        const yv = await batch.y.data();
        if (!y) y = new Float32Array(total * ys);
        if ((n + k) * ys > y.length) {
          const grown = new Float32Array((n + k) * ys);
          grown.set(y);
          y = grown;
        }
        y.set(yv, n * ys);
      }
      for (const f of batch.files ?? []) files.push(resolve(filePath(f)));
      n += k;
      b++;
      progress.tick(k);
    } finally {
      tf.dispose([batch.x, batch.y].filter((t): t is tf.Tensor => t !== undefined));
    }
  }
  progress.finish();
  const ySize = yShape.reduce((a, c) => a * c, 1);
  return {
    x: x.subarray(0, n * size),
    shape: outShape,
    y: (y ?? new Float32Array(0)).subarray(0, n * ySize),
    yShape,
    n,
    files,
    classNames: [...(data.classNames ?? [])],
  };
}

export interface FeatureCacheOptions extends ComputeOptions {
  /** Folder of the cache (default: defaultCacheDir()); never inside the data folder, which may be read-only. */
  cacheDir?: string;
  /** Name of the base (part of the key, with its weights' digest). */
  baseName: string;
  /** Extra identity (e.g. an augmentation's settings and seed). */
  extra?: Record<string, unknown>;
  /** Skip the disk cache entirely. */
  noCache?: boolean;
  /** Where the notice about a damaged cache entry goes (default stderr). */
  log?: (line: string) => void;
}

/** The identity a set is keyed by. */
export async function featureIdentity(base: tf.LayersModel, data: FeatureSource, options: FeatureCacheOptions): Promise<Record<string, unknown>> {
  return identityOf({
    baseName: options.baseName,
    weights: weightsDigest(base),
    input: base.inputs[0]!.shape.slice(1),
    output: base.outputs[0]!.shape.slice(1),
    data: await dataDigest(data.files),
    classNames: data.classNames ?? [],
    classMode: data.classMode ?? null,
    interpolation: data.decodeOptions?.interpolation,
    extra: options.extra,
  });
}

/** The parts of a set's identity, known without the base or the data at hand (merged feature shards record them). */
interface IdentityParts {
  baseName: string;
  /** weightsDigest of the base. */
  weights: string;
  input: readonly (number | null)[];
  output: readonly (number | null)[];
  /** dataDigest (or stampsDigest) of the files. */
  data: string;
  classNames: readonly string[];
  classMode: string | null;
  /** The resize's resampling; bilinear (the default) is left out, so keys made before it was recorded still hold. */
  interpolation?: Interpolation;
  extra?: Record<string, unknown>;
}

/** The identity featureIdentity gives (field order included: the key hashes its JSON). */
export function identityOf(p: IdentityParts): Record<string, unknown> {
  return {
    base: p.baseName,
    weights: p.weights,
    input: p.input,
    output: p.output,
    data: p.data,
    classNames: p.classNames,
    classMode: p.classMode,
    ...(p.interpolation && p.interpolation !== 'bilinear' ? { interpolation: p.interpolation } : {}),
    ...(p.extra ?? {}),
  };
}

/**
 * The features of `data` under the frozen `base`: from the cache when the
 * same base, weights, image size and data were seen before; computed (with
 * a progress bar) and stored otherwise. `data` must not augment.
 */
export async function extractFeatures(base: tf.LayersModel, data: FeatureSource, options: FeatureCacheOptions): Promise<FeatureSet> {
  const identity = await featureIdentity(base, data, options);
  const key = cacheKey(identity);
  const dir = options.cacheDir ?? defaultCacheDir();
  if (!options.noCache) {
    const log = options.log ?? ((line: string) => console.error(line));
    const hit = await readFeatureSet(dir, key, (reason) =>
      log(`convkit: the feature cache entry ${join(dir, key)} is damaged (${reason}); computing it again`),
    );
    if (hit) return hit;
  }
  const set: FeatureSet = { ...(await computeActivations(base, data, options)), key, hit: false };
  const bad = firstNonFinite(set.x);
  if (bad >= 0) {
    throw new ConvkitError(
      `the base ${options.baseName} gives ${set.x[bad]} as a feature of ${set.files[Math.floor(bad / product(set.shape))] ?? 'an image'}`,
      'its weights or the images hold NaN or huge values: load the base again, and check the image',
    );
  }
  if (!options.noCache) {
    try {
      await writeFeatureSet(dir, set, identity);
    } catch (err) {
      throw new ConvkitError(
        `cannot write the feature cache in ${dir}: ${(err as Error).message}`,
        'pass --cache-dir with a writable folder (or set CONVKIT_CACHE_DIR)',
      );
    }
  }
  return set;
}

/** The set as tensors {x: [n, ...shape], y: [n, ...yShape]} (caller disposes). */
export function featureTensors(set: FeatureSet): { x: tf.Tensor; y: tf.Tensor } {
  return { x: tf.tensor(set.x, [set.n, ...set.shape]), y: tf.tensor(set.y, [set.n, ...set.yShape]) };
}
