/**
 * Batches from in-memory tensors (Keras `flow(x, y)`): an endless stream,
 * reshuffled every epoch by a seeded Rng, each batch augmented and
 * standardized by the generator's batch transform.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import type { BatchTransform } from '../data/index.js';
import { epochDataset } from '../data/epoch-dataset.js';

export type { BatchTransform };

export interface FlowOptions {
  batchSize?: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles and of the augmentation (default 42). */
  seed?: number;
  /** With the generator's validationSplit: 'validation' is the first part of x, 'training' the rest. */
  subset?: 'training' | 'validation';
}

export interface ArrayBatch {
  /** float32 [b, h, w, c], augmented and standardized. */
  x: tf.Tensor4D;
  /** The matching rows of y, when y was given. */
  y?: tf.Tensor;
  /** Row of each example in the (subset of the) input. */
  indices: number[];
}

export class ArrayIterator implements AsyncIterable<ArrayBatch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  private readonly x: tf.Tensor4D;
  private readonly y?: tf.Tensor;
  private readonly transform: BatchTransform;
  private readonly shuffleRng: Rng;
  private readonly transformRng: Rng;
  /** The rows used: x[base .. base + count). */
  private readonly base: number;
  private readonly count: number;
  private order: number[] = [];
  private pos = 0;
  private epochs = 0;

  /** `x` and `y` stay owned by the caller (kept alive while iterating, never disposed here). */
  constructor(x: tf.Tensor4D, y: tf.Tensor | undefined, transform: BatchTransform, options: FlowOptions = {}, validationSplit = 0) {
    const { batchSize = 32, shuffle = true, seed = 42, subset } = options;
    if (!(x instanceof tf.Tensor) || x.rank !== 4) {
      throw new ConvkitError(
        `flow() needs x as a tensor [n, h, w, c], got ${x instanceof tf.Tensor ? `shape [${x.shape.join(', ')}]` : typeof x}`,
        'stack the images into one 4-D tensor',
      );
    }
    check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', batchSize, 'an integer ≥ 1');
    check(Number.isInteger(seed), 'seed', seed, 'an integer');
    check(subset === undefined || subset === 'training' || subset === 'validation', 'subset', subset, '"training" or "validation"');
    if (y !== undefined && (!(y instanceof tf.Tensor) || y.shape[0] !== x.shape[0])) {
      throw new ConvkitError(
        `flow() got ${x.shape[0]} images but ${y instanceof tf.Tensor ? y.shape[0] : 'no tensor of'} labels`,
        'pass y as a tensor with one row per image',
      );
    }
    let lo = 0,
      hi = x.shape[0];
    if (subset) {
      if (validationSplit === 0)
        throw new ConvkitError(`subset "${subset}" needs the generator's validationSplit`, 'create the ImageDataGenerator with e.g. validationSplit: 0.2');
      const split = Math.floor(x.shape[0] * validationSplit);
      [lo, hi] = subset === 'validation' ? [0, split] : [split, x.shape[0]];
    }
    if (hi <= lo) throw new ConvkitError(`flow() has no examples${subset ? ` in subset "${subset}"` : ''}`, 'pass more images or change validationSplit');
    this.x = x;
    this.y = y;
    this.base = lo;
    this.count = hi - lo;
    this.transform = transform;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    const rng = createRng(seed);
    this.shuffleRng = rng.fork();
    this.transformRng = rng.fork();
  }

  get n(): number {
    return this.count;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.count / this.batchSize);
  }

  get epochIndex(): number {
    return this.epochs;
  }

  /** The next batch of an endless stream; a new, reshuffled epoch starts after the last batch. */
  async nextBatch(): Promise<ArrayBatch> {
    if (this.epochs === 0 || this.pos >= this.order.length) this.startEpoch();
    const indices = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += indices.length;
    const rows = indices.map((i) => i + this.base);
    const x = tf.tidy(() => this.transform(tf.gather(this.x, rows) as tf.Tensor4D, this.transformRng));
    const y = this.y ? tf.tidy(() => tf.gather(this.y!, rows)) : undefined;
    return y ? { x, y, indices } : { x, indices };
  }

  /** The rest of the current epoch (a whole fresh epoch when the last one is finished). */
  async *epoch(): AsyncGenerator<ArrayBatch> {
    if (this.epochs === 0 || this.pos >= this.order.length) this.startEpoch();
    while (this.pos < this.order.length) yield await this.nextBatch();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ArrayBatch> {
    for (;;) yield await this.nextBatch();
  }

  /** Ends the current epoch: the next batch starts a new, reshuffled one. */
  reset(): void {
    this.pos = this.order.length;
  }

  /** Whether batches of the current epoch have been taken. */
  get epochStarted(): boolean {
    return this.pos > 0;
  }

  /** A tf.data.Dataset of `{xs, ys}` for `model.fitDataset`; each iteration is one epoch. */
  toDataset(): tf.data.Dataset<{ xs: tf.Tensor4D; ys?: tf.Tensor }> {
    return epochDataset(this);
  }

  private startEpoch(): void {
    const order = Array.from({ length: this.count }, (_, i) => i);
    this.order = this.shuffle ? this.shuffleRng.shuffle(order) : order;
    this.pos = 0;
    this.epochs++;
  }
}
