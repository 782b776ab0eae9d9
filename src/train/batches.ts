/**
 * What training and evaluation read: either a batch iterator over class
 * folders (src/data's DirectoryIterator, or anything with the same shape) or
 * tensors already in memory. Both become one stream of {x, y} batches that
 * the consumer owns and disposes.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/** One batch: x is RGB floats in [0, 255], y the labels in the class mode's encoding. */
export interface LabeledBatch {
  x: tf.Tensor4D;
  /** Absent for unlabeled data (classMode 'none'). */
  y?: tf.Tensor;
  /** Paths, or src/data's ImageFile records ({path, ...}). */
  files?: readonly (string | { path: string })[];
}

/**
 * The part of a directory iterator that convkit's training relies on:
 * `nextBatch()` loops over the data forever (Keras generator semantics),
 * reshuffling at each pass when the iterator shuffles.
 */
export interface BatchIteratorLike {
  nextBatch(): Promise<LabeledBatch>;
  /** One pass over the data (optional; nextBatch is used otherwise). */
  epoch?(): AsyncIterable<LabeledBatch>;
  readonly classNames?: readonly string[];
  readonly batchSize?: number;
  readonly classMode?: string | null;
  /** Number of images (src/data calls it `n`; Keras calls it `samples`). */
  readonly n?: number;
  readonly samples?: number;
  /** Batches per full pass, when the iterator knows it. */
  readonly stepsPerEpoch?: number;
}

/** Tensors in memory; batches are drawn in a seeded shuffled order when `shuffle` holds. */
export interface TensorData {
  x: tf.Tensor4D;
  y: tf.Tensor;
  batchSize?: number;
  shuffle?: boolean;
}

export type BatchData = BatchIteratorLike | TensorData;

export function isTensorData(d: BatchData): d is TensorData {
  return typeof d === 'object' && d !== null && (d as TensorData).x instanceof tf.Tensor;
}

export function isBatchIterator(d: unknown): d is BatchIteratorLike {
  return typeof d === 'object' && d !== null && typeof (d as BatchIteratorLike).nextBatch === 'function';
}

/** A file entry's path. */
export function filePath(f: string | { path: string }): string {
  return typeof f === 'string' ? f : f.path;
}

/** Image count of a data source, if known. */
export function sampleCount(d: BatchData): number | undefined {
  if (isTensorData(d)) return d.x.shape[0];
  return d.n ?? d.samples;
}

/** Batches per full pass, if known. */
export function stepsPerPass(d: BatchData, defaultBatchSize = 32): number | undefined {
  if (!isTensorData(d) && d.stepsPerEpoch) return d.stepsPerEpoch;
  const n = sampleCount(d);
  const bs = isTensorData(d) ? (d.batchSize ?? defaultBatchSize) : d.batchSize;
  return n !== undefined && bs ? Math.ceil(n / bs) : undefined;
}

export interface BatchStreamOptions {
  /** Batches to draw; omitted means one full pass. */
  steps?: number;
  /** Shuffles in-memory tensors (a directory iterator shuffles itself). */
  rng?: Rng;
  defaultBatchSize?: number;
}

/**
 * A stream of batches: `steps` batches when given (looping over the data as
 * Keras does), else one pass. Each yielded batch is new and owned by the caller.
 */
export async function* batchStream(data: BatchData, options: BatchStreamOptions = {}): AsyncGenerator<LabeledBatch> {
  const { steps, rng, defaultBatchSize = 32 } = options;
  if (isTensorData(data)) {
    const n = data.x.shape[0];
    const bs = data.batchSize ?? defaultBatchSize;
    if (data.y.shape[0] !== n) throw new ConvkitError(`x has ${n} images but y has ${data.y.shape[0]} labels`, 'pass one label per image');
    const total = steps ?? Math.ceil(n / bs);
    let order: number[] = [];
    let pos = 0;
    for (let s = 0; s < total; s++) {
      if (pos >= order.length) {
        order = Array.from({ length: n }, (_, i) => i);
        if (data.shuffle !== false && rng) rng.shuffle(order);
        pos = 0;
      }
      const idx = order.slice(pos, pos + bs);
      pos += bs;
      const batch = tf.tidy(() => {
        const i = tf.tensor1d(idx, 'int32');
        return { x: tf.gather(data.x, i) as tf.Tensor4D, y: tf.gather(data.y, i) as tf.Tensor };
      });
      yield batch;
    }
    return;
  }
  if (!isBatchIterator(data)) throw new ConvkitError('training data is neither a batch iterator nor {x, y} tensors', 'pass flowFromDirectory(...) or {x, y}');
  if (steps === undefined && data.epoch) {
    yield* data.epoch();
    return;
  }
  const total = steps ?? stepsPerPass(data);
  if (total === undefined) throw new ConvkitError('cannot tell how many batches make one pass over the data', 'pass stepsPerEpoch (--steps-per-epoch)');
  for (let s = 0; s < total; s++) yield await data.nextBatch();
}
