/**
 * What every finder works on: one embedding per image (a pretrained base's
 * features, globally average-pooled and L2-normalised), the sha256 of its
 * bytes and its perceptual hashes. Embeddings go through the feature cache
 * and hashes through a cache of their own, so a second audit of the same
 * folder decodes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../data/decode.js';
import { DirectoryIterator } from '../data/iterator.js';
import type { SkippedFile } from '../data/scan.js';
import { getBase, type PretrainedBase } from '../transfer/bases.js';
import { dataDigest, defaultCacheDir, extractFeatures } from '../transfer/feature-cache.js';
import { truncate } from '../transfer/head.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import type { CollectedImages } from './collect.js';
import { HASH_SIDE, perceptualHashes } from './phash.js';
import type { AuditImage, UnreadableFinding } from './types.js';

export interface ImageHashes {
  /** sha256 of the file's bytes (hex). */
  sha256: string;
  /** Perceptual hash and the hash of the mirror image (16 hex digits each). */
  phash: string;
  mirror: string;
}

/** The audited images with their embeddings and hashes, row i ↔ images[i]. */
export interface AuditFeatures {
  images: AuditImage[];
  /** [n, dim] row-major, each row of unit length. */
  embeddings: Float32Array;
  dim: number;
  hashes: ImageHashes[];
  /** Files that could not be decoded (found while embedding). */
  unreadable: UnreadableFinding[];
  /** Whether every embedding came from the cache. */
  cacheHit: boolean;
}

export interface AuditFeatureOptions {
  /** Pretrained base (default mobilenet_v1). */
  base?: string | PretrainedBase;
  /** Cache root (default ~/.cache/convkit): embeddings in features/, hashes in audit/. */
  cacheDir?: string;
  batchSize?: number;
  silent?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Embeds and hashes every readable image of `collected`. */
export async function auditFeatures(collected: CollectedImages, options: AuditFeatureOptions = {}): Promise<AuditFeatures> {
  const spec = typeof options.base === 'string' || options.base === undefined ? getBase(options.base ?? 'mobilenet_v1') : options.base;
  const loaded = await spec.load({ inputSize: spec.inputSize });
  const pooled = pooledModel(truncate(loaded.model, loaded.featureLayer));
  try {
    const embedded = await embedSplits(collected, pooled, spec, options);
    const byPath = new Map(collected.images.map((i) => [i.path, i]));
    const images = embedded.files.map((path) => byPath.get(path)!);
    const hashes = await hashImages(images, collected.root, options);
    return { ...embedded, images, hashes };
  } finally {
    // The pooled model shares the base's layers (the pooling layer has no weights): disposing the base frees both.
    loaded.model.dispose();
  }
}

/** The base's feature map averaged over space: one vector an image, small enough to cache for thousands. */
function pooledModel(features: tf.LayersModel): tf.LayersModel {
  const pooled = tf.layers.globalAveragePooling2d({ name: 'audit_pool' }).apply(features.outputs[0]!) as tf.SymbolicTensor;
  return tf.model({ inputs: features.inputs, outputs: pooled, name: `${features.name}_pooled` });
}

async function embedSplits(collected: CollectedImages, pooled: tf.LayersModel, spec: PretrainedBase, options: AuditFeatureOptions) {
  const [h, w] = spec.inputSize;
  const rows: Float32Array[] = [];
  const files: string[] = [];
  const unreadable: UnreadableFinding[] = [];
  let hits = 0;
  for (const { split, folder } of collected.folders) {
    // Sorted, unshuffled, unaugmented: the same files give the same cache key every time.
    const iterator = new DirectoryIterator(folder, {
      targetSize: [h, w],
      classMode: 'sparse',
      shuffle: false,
      batchSize: options.batchSize ?? 32,
      skipBad: true,
    });
    try {
      const set = await extractFeatures(pooled, iterator, {
        baseName: `${spec.name}-pooled`,
        cacheDir: join(options.cacheDir ?? join(defaultCacheDir(), '..'), 'features'),
        label: split ? `embedding ${split}` : 'embedding',
        silent: options.silent,
        signal: options.signal,
        log: options.log,
      });
      if (set.hit) hits++;
      for (let i = 0; i < set.n; i++) rows.push(normalised(set.x.subarray(i * set.shape[0]!, (i + 1) * set.shape[0]!)));
      files.push(...set.files);
      unreadable.push(...(await undecodable(folder.files, set.files, iterator.skipped, collected.root)));
    } finally {
      iterator.dispose();
    }
  }
  const dim = rows[0]?.length ?? 0;
  const embeddings = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => embeddings.set(r, i * dim));
  return { embeddings, dim, files, unreadable, cacheHit: hits === collected.folders.length };
}

/**
 * The files the embedding left out, with the decoder's reason: from this
 * pass, or (when the embeddings came from the cache) by decoding them again.
 */
async function undecodable(
  listed: readonly { path: string }[],
  embedded: readonly string[],
  skipped: readonly SkippedFile[],
  root: string,
): Promise<UnreadableFinding[]> {
  const done = new Set(embedded);
  const known = new Map(skipped.map((s) => [s.path, s.reason]));
  const out: UnreadableFinding[] = [];
  for (const { path } of listed) {
    if (done.has(path)) continue;
    const reason =
      known.get(path) ??
      (await decodeImage(path).then(
        () => 'could not be decoded',
        (err: Error) => err.message,
      ));
    out.push({ file: relative(root, path), reason });
  }
  return out;
}

function normalised(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return v.map((x) => x * inv);
}

/** sha256 and perceptual hashes of each image, from the hash cache where the file is unchanged. */
async function hashImages(images: AuditImage[], root: string, options: AuditFeatureOptions): Promise<ImageHashes[]> {
  const cachePath = join(
    options.cacheDir ?? join(defaultCacheDir(), '..'),
    'audit',
    `hashes-${(await dataDigest(images.map((i) => i.path))).slice(0, 24)}.json`,
  );
  const cached = await readHashCache(cachePath, images.length);
  if (cached) return cached;
  const progress = new Progress({ total: images.length, label: 'hashing', unit: 'img', silent: options.silent });
  const out: ImageHashes[] = new Array(images.length);
  // Four decodes at a time keep both cores busy while one file is read.
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < images.length; i = next++) {
      options.signal?.throwIfAborted();
      out[i] = await hashFile(images[i]!.path);
      progress.tick();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  progress.finish();
  await writeFileAtomic(cachePath, JSON.stringify({ root, hashes: out }));
  return out;
}

async function readHashCache(path: string, n: number): Promise<ImageHashes[] | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path, 'utf8')) as { hashes?: ImageHashes[] };
    return Array.isArray(parsed.hashes) && parsed.hashes.length === n ? parsed.hashes : undefined;
  } catch {
    return undefined;
  }
}

/** The file's hashes: its bytes as they are, its pixels as a 32×32 grayscale image (EXIF orientation applied). */
export async function hashFile(path: string): Promise<ImageHashes> {
  const bytes = await fs.readFile(path);
  const gray = await sharp(bytes).rotate().removeAlpha().grayscale().resize(HASH_SIDE, HASH_SIDE, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
  const { hash, mirror } = perceptualHashes(gray);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), phash: hash, mirror };
}
