/**
 * Training only what trains: the frozen prefix of a model (the part of the
 * base before the first trainable layer) is the bulk of every step's cost
 * and gives the same output for the same image each epoch. Its activations
 * are computed once (or, with augmentation, for K augmented variants of
 * each image) and the trainable suffix — which shares the model's weights —
 * is trained on them. Each epoch then picks one variant per image (seeded).
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import type { BatchIteratorLike, LabeledBatch } from '../train/batches.js';
import { isFrozen } from './batch-norm.js';
import { extractFeatures, type FeatureCacheOptions, type FeatureSet, type FeatureSource } from './feature-cache.js';
import { graphOf, leafLayers, nodesInOrder } from './graph.js';
import { splitModel, type SplitModel } from './split.js';

/**
 * The last layer of the frozen prefix: the deepest layer such that every
 * layer up to it is frozen (or has no weights) and the graph can be cut
 * there. Undefined when the first layer with weights is trainable.
 */
export function frozenPrefixEnd(model: tf.LayersModel): string | undefined {
  const graph = graphOf(model);
  const nodes = nodesInOrder(model).filter((n) => n.outboundLayer.getClassName() !== 'InputLayer');
  let best: string | undefined;
  const live = new Set<number>(graph.inputs.map((t) => t.id));
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const layer = node.outboundLayer;
    if (leafLayers(graph).includes(layer) && layer.weights.length > 0 && !isFrozen(layer)) break;
    if (layer instanceof tf.LayersModel) break;
    for (const t of node.inputTensors) live.delete(t.id);
    for (const t of node.outputTensors) live.add(t.id);
    // A cut point: this node's single output is the only tensor later nodes still need.
    const later = nodes.slice(i + 1);
    const needed = new Set(later.flatMap((n) => n.inputTensors.map((t) => t.id)));
    const open = [...live].filter((id) => needed.has(id));
    if (node.outputTensors.length === 1 && open.length === 1 && open[0] === node.outputTensors[0]!.id) best = layer.name;
  }
  return best;
}

export interface PrefixCacheOptions extends Omit<FeatureCacheOptions, 'transform' | 'extra'> {
  /** Split after this layer (default: frozenPrefixEnd(model)). */
  at?: string;
  /**
   * Augmentation applied to the input images before the prefix (e.g.
   * ImageDataGenerator's batchTransform()); with it, `variants` augmented
   * copies of each image are cached.
   */
  transform?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
  /** Identity of the transform for the cache key (e.g. its settings as JSON). Required with `transform`. */
  transformId?: string;
  /** Augmented variants per image (default 5 with a transform; 1 without). */
  variants?: number;
  /** Seeds the augmentation draws and the per-epoch choice of variants and order. */
  seed?: number;
  batchSize?: number;
  shuffle?: boolean;
}

/** Cached prefix activations served as batches for the suffix: one variant per image per epoch. */
export class CachedActivations implements BatchIteratorLike {
  readonly batchSize: number;
  readonly classNames: string[];
  readonly classMode: string | null;
  readonly n: number;
  private readonly size: number;
  private readonly ySize: number;
  private readonly rng: Rng;
  private order: { i: number; v: number }[] = [];
  private pos = 0;

  constructor(
    readonly sets: FeatureSet[],
    options: { batchSize?: number; seed?: number; shuffle?: boolean; classMode?: string | null } = {},
  ) {
    if (sets.length === 0) throw new Error('CachedActivations needs at least one set');
    const first = sets[0]!;
    this.n = first.n;
    this.size = first.shape.reduce((a, b) => a * b, 1);
    this.ySize = first.yShape.reduce((a, b) => a * b, 1);
    this.batchSize = options.batchSize ?? 32;
    this.classNames = first.classNames;
    this.classMode = options.classMode ?? null;
    this.rng = createRng(options.seed ?? 1);
    this.shuffle = options.shuffle ?? true;
    for (const s of sets) {
      if (s.n !== this.n || s.files.join('\n') !== first.files.join('\n')) throw new Error('cached variants disagree on their images');
    }
  }

  private readonly shuffle: boolean;

  get stepsPerEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  get shape(): number[] {
    return this.sets[0]!.shape;
  }

  private newEpoch(): void {
    const K = this.sets.length;
    this.order = Array.from({ length: this.n }, (_, i) => ({ i, v: K > 1 ? this.rng.int(K) : 0 }));
    if (this.shuffle) this.rng.shuffle(this.order);
    this.pos = 0;
  }

  private take(): LabeledBatch {
    if (this.pos >= this.order.length) this.newEpoch();
    const picks = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += picks.length;
    const x = new Float32Array(picks.length * this.size);
    const y = new Float32Array(picks.length * this.ySize);
    const first = this.sets[0]!;
    picks.forEach(({ i, v }, k) => {
      const s = this.sets[v]!;
      x.set(s.x.subarray(i * this.size, (i + 1) * this.size), k * this.size);
      y.set(first.y.subarray(i * this.ySize, (i + 1) * this.ySize), k * this.ySize);
    });
    return {
      x: tf.tensor(x, [picks.length, ...first.shape]) as unknown as tf.Tensor4D,
      y: tf.tensor(y, [picks.length, ...first.yShape]),
      files: picks.map(({ i }) => first.files[i]!),
    };
  }

  async nextBatch(): Promise<LabeledBatch> {
    return this.take();
  }

  /** The rest of the current epoch, or a whole new one. */
  async *epoch(): AsyncGenerator<LabeledBatch> {
    if (this.pos >= this.order.length) this.newEpoch();
    while (this.pos < this.order.length) yield this.take();
  }

  /** Bytes held. */
  get bytes(): number {
    return this.sets.reduce((a, s) => a + s.x.byteLength + s.y.byteLength, 0);
  }
}

export interface PrefixCache {
  split: SplitModel;
  data: CachedActivations;
  /** Seconds spent computing (or reading) the activations. */
  seconds: number;
  /** Variants read from disk rather than computed. */
  hits: number;
}

/**
 * Splits `model` after its frozen prefix, computes the prefix activations
 * of `data` (K augmented variants with a transform; `data` itself must not
 * augment) and returns the suffix with batches to train it on. Training the
 * suffix trains `model`.
 */
export async function cachePrefix(model: tf.LayersModel, data: FeatureSource, options: PrefixCacheOptions): Promise<PrefixCache> {
  const at = options.at ?? frozenPrefixEnd(model);
  if (!at) throw new ConvkitError(`model ${model.name} has no frozen prefix to cache`, 'freeze the base (or its lower blocks) first');
  const t0 = performance.now();
  const split = splitModel(model, at);
  const K = options.variants ?? (options.transform ? 5 : 1);
  if (!Number.isInteger(K) || K < 1) throw new ConvkitError(`invalid variants: ${K}`, 'pass a whole number ≥ 1');
  if (options.transform && !options.transformId)
    throw new ConvkitError('a prefix cache with augmentation needs transformId', 'pass the augmentation settings as transformId (they key the cache)');
  const seed = options.seed ?? 1;
  const sets: FeatureSet[] = [];
  let hits = 0;
  for (let v = 0; v < K; v++) {
    let rng: Rng | undefined;
    const set = await extractFeatures(split.prefix, data, {
      ...options,
      label: options.label ?? (K > 1 ? `prefix ${at} variant ${v + 1}/${K}` : `prefix ${at}`),
      extra: { prefixAt: at, ...(options.transform ? { transform: options.transformId, seed, variant: v } : {}) },
      transform: options.transform
        ? (x, b) => {
            if (b === 0) rng = createRng(seed * 1000003 + v);
            return options.transform!(x, rng!);
          }
        : undefined,
    });
    if (set.hit) hits++;
    sets.push(set);
  }
  const cached = new CachedActivations(sets, { batchSize: options.batchSize, seed: seed + 17, shuffle: options.shuffle, classMode: data.classMode ?? null });
  return { split, data: cached, seconds: (performance.now() - t0) / 1000, hits };
}
