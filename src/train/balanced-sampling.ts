/**
 * Balanced sampling: every epoch draws each class as often as the largest
 * one, so a minority class is seen as often as a majority one (the other
 * remedy for imbalance besides class weights). A class of n_c images shows
 * each of them ⌊max/n_c⌋ times plus a seeded random choice, without
 * repeats, of max mod n_c more; the epoch is then shuffled. Every epoch
 * draws anew from the seed, so runs repeat exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { DirectoryIterator, type BatchTransform } from '../data/iterator.js';
import { ConvkitError } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import type { BatchIteratorLike, LabeledBatch } from './batches.js';

export type SamplingMode = 'balanced' | 'none';

/** One epoch's order of example indices, every class drawn max(n_c) times. */
export function balancedOrder(labels: readonly number[], rng: Rng): number[] {
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => (byClass.get(l) ?? byClass.set(l, []).get(l)!).push(i));
  const most = Math.max(0, ...[...byClass.values()].map((m) => m.length));
  const order: number[] = [];
  for (const members of [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m)) {
    for (let r = 0; r < Math.floor(most / members.length); r++) order.push(...members);
    order.push(...rng.shuffle([...members]).slice(0, most % members.length));
  }
  return rng.shuffle(order);
}

/** Class index of each row of a label tensor: [n, 1] or [n] binary / sparse, [n, k] one-hot. */
function labelsOf(y: tf.Tensor): number[] {
  const v = y.dataSync();
  const k = y.rank === 2 ? y.shape[1]! : 1;
  if (k === 1) return Array.from(v, (x) => Math.round(x));
  const out: number[] = [];
  for (let i = 0; i < y.shape[0]!; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (v[i * k + j]! > v[i * k + best]!) best = j;
    out.push(best);
  }
  return out;
}

function checkClasses(labels: readonly number[], where: string): void {
  if (new Set(labels).size < 2)
    throw new ConvkitError(`--sampling balanced: ${where} holds a single class`, 'balanced sampling needs at least two classes with images');
}

/** Balanced epochs over tensors in memory (cached features). */
export class BalancedTensorBatches implements BatchIteratorLike {
  readonly batchSize: number;
  readonly classMode: string | null;
  readonly n: number;
  private readonly labels: number[];
  private readonly rng: Rng;
  private order: number[] = [];
  private pos = 0;

  constructor(
    private readonly data: { x: tf.Tensor; y: tf.Tensor },
    options: { batchSize?: number; seed?: number; classMode?: string | null } = {},
  ) {
    this.labels = labelsOf(data.y);
    checkClasses(this.labels, 'the training data');
    this.batchSize = options.batchSize ?? 32;
    this.classMode = options.classMode ?? null;
    this.rng = createRng(options.seed ?? 1);
    const counts = new Map<number, number>();
    for (const l of this.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    this.n = Math.max(...counts.values()) * counts.size;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  private newEpoch(): void {
    this.order = balancedOrder(this.labels, this.rng);
    this.pos = 0;
  }

  private take(): LabeledBatch {
    if (this.pos >= this.order.length) this.newEpoch();
    const idx = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += idx.length;
    return tf.tidy(() => {
      const i = tf.tensor1d(idx, 'int32');
      return { x: tf.gather(this.data.x, i) as tf.Tensor4D, y: tf.gather(this.data.y, i) };
    });
  }

  async nextBatch(): Promise<LabeledBatch> {
    return this.take();
  }

  async *epoch(): AsyncGenerator<LabeledBatch> {
    if (this.pos >= this.order.length) this.newEpoch();
    while (this.pos < this.order.length) yield this.take();
  }
}

/**
 * Balanced epochs over a class folder: each epoch is a DirectoryIterator
 * over that epoch's draw of files (repeats included), sharing `base`'s
 * decoded-image cache, its decoding settings and the given augmentation.
 */
export class BalancedFolderBatches implements BatchIteratorLike {
  readonly batchSize: number;
  readonly classMode: string;
  readonly classNames: string[];
  readonly n: number;
  private readonly rng: Rng;
  private current?: DirectoryIterator;
  private taken = 0;
  private epochs = 0;

  constructor(
    private readonly base: DirectoryIterator,
    private readonly options: { seed?: number; transform?: BatchTransform } = {},
  ) {
    checkClasses(base.labels, base.root);
    this.batchSize = base.batchSize;
    this.classMode = base.classMode;
    this.classNames = [...base.classNames];
    this.rng = createRng(options.seed ?? 1);
    const counts = base.labels.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<number, number>());
    this.n = Math.max(...counts.values()) * counts.size;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  private next(): DirectoryIterator {
    const files = this.base.files;
    const order = balancedOrder(
      files.map((f) => f.label),
      this.rng,
    );
    const d = this.base.decodeOptions;
    this.epochs++;
    return new DirectoryIterator(
      { root: this.base.root, classNames: this.classNames, files: order.map((i) => files[i]!), skipped: [] },
      {
        targetSize: d.targetSize,
        colorMode: d.colorMode,
        interpolation: d.interpolation,
        classMode: this.base.classMode,
        batchSize: this.batchSize,
        shuffle: false,
        seed: (this.options.seed ?? 1) * 1000003 + this.epochs,
        cache: this.base.cache,
        transform: this.options.transform,
      },
    );
  }

  async nextBatch(): Promise<LabeledBatch> {
    if (!this.current) {
      this.current = this.next();
      this.taken = 0;
    }
    const batch = await this.current.nextBatch();
    // After the epoch's last batch the next call starts a new draw.
    if (++this.taken >= this.current.stepsPerEpoch) this.current = undefined;
    return batch;
  }

  async *epoch(): AsyncGenerator<LabeledBatch> {
    const it = this.current ?? this.next();
    this.current = undefined;
    yield* it.epoch();
  }
}
