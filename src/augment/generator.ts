/**
 * Keras's ImageDataGenerator on TF.js tensors: random transformations are
 * drawn per image as plain objects (randomTransform), applied to whole
 * batches at once (applyTransform), then normalised (standardize).
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import { flowFromDirectory as dataFlowFromDirectory, type DirectoryIterator, type DirectoryIteratorOptions } from '../data/index.js';
import { resolveOptions, type ImageDataGeneratorOptions, type ResolvedOptions } from './options.js';
import { sampleTransform, type TransformParams } from './sample.js';
import { applyTransform, type ResampleEngine } from './apply.js';
import { StatsAccumulator, needsFit, notFittedError, standardizeBatch, type FeatureStats } from './standardize.js';
import { ArrayIterator, type BatchTransform, type FlowOptions } from './flow.js';

/** Whether the options draw RandAugment / TrivialAugment ops or erasing boxes. */
function hasPerImageOps(o: ResolvedOptions): boolean {
  return o.randAugment !== null || o.trivialAugment || o.randomErasing > 0;
}

export interface StatisticsFitOptions {
  /** Compute the statistics on randomly augmented copies (default false). */
  augment?: boolean;
  /** Augmented passes over x when augment is set (default 1). */
  rounds?: number;
  /** Seed of the augmentation (default 42). */
  seed?: number;
}

/** Images processed at once by fit(). */
const FIT_CHUNK = 64;

export class ImageDataGenerator {
  readonly options: Readonly<ResolvedOptions>;
  /** Resampling engine for the affine step (see ResampleEngine). */
  engine: ResampleEngine = 'auto';
  private stats: FeatureStats | null = null;

  constructor(options: ImageDataGeneratorOptions = {}) {
    this.options = Object.freeze(resolveOptions(options));
  }

  /** Per-channel mean found by fit(), or null. */
  get mean(): number[] | null {
    return this.stats ? [...this.stats.mean] : null;
  }

  /** Per-channel standard deviation found by fit(), or null. */
  get std(): number[] | null {
    return this.stats ? [...this.stats.std] : null;
  }

  /**
   * Computes the per-channel statistics featurewiseCenter and
   * featurewiseStdNormalization need, from sample images x [n, h, w, c]
   * (pixel values as the batches will have them, before rescale).
   */
  fit(x: tf.Tensor4D, options: StatisticsFitOptions = {}): this {
    const { augment = false, rounds = 1, seed = 42 } = options;
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[0] === 0) {
      throw new ConvkitError(
        `fit() needs sample images as a tensor [n, h, w, c] with n ≥ 1, got ${x instanceof tf.Tensor ? `shape [${x.shape.join(', ')}]` : typeof x}`,
        'stack some training images into one 4-D tensor',
      );
    }
    check(Number.isInteger(rounds) && rounds >= 1, 'rounds', rounds, 'an integer ≥ 1');
    check(Number.isInteger(seed), 'seed', seed, 'an integer');
    const rng = createRng(seed);
    const acc = new StatsAccumulator();
    const [n, h, w] = x.shape;
    for (let r = 0; r < (augment ? rounds : 1); r++) {
      for (let i = 0; i < n; i += FIT_CHUNK) {
        const size = Math.min(FIT_CHUNK, n - i);
        const chunk = tf.tidy(() => {
          // As Keras: rescale first, then augment; but the per-image ops need 0..255 pixel values, so with them the order turns.
          const rescale = this.options.rescale;
          const opsFirst = augment && rescale !== null && hasPerImageOps(this.options);
          let c = x.slice([i, 0, 0, 0], [size, -1, -1, -1]).toFloat();
          if (rescale !== null && !opsFirst) c = c.mul(rescale);
          if (augment)
            c = this.applyTransform(
              c,
              Array.from({ length: size }, () => this.randomTransform([h, w], rng)),
            );
          if (rescale !== null && opsFirst) c = c.mul(rescale);
          return c;
        });
        acc.add(chunk);
        chunk.dispose();
      }
    }
    this.stats = acc.result();
    return this;
  }

  /** Draws one image's random transformation (Keras `get_random_transform`). */
  randomTransform(shape: readonly [number, number] | readonly [number, number, number], rng: Rng): TransformParams {
    return sampleTransform(this.options, shape, rng);
  }

  /** Applies one transformation per image to a batch, with this generator's fill settings. */
  applyTransform(x: tf.Tensor4D, transforms: readonly TransformParams[]): tf.Tensor4D {
    const { fillMode, cval, interpolationOrder } = this.options;
    return applyTransform(x, transforms, { fillMode, cval, interpolationOrder, engine: this.engine });
  }

  /** preprocessingFunction, rescale, samplewise and featurewise normalisation, in Keras's order. */
  standardize(x: tf.Tensor4D): tf.Tensor4D {
    return standardizeBatch(x, this.options, this.stats);
  }

  /** `(x, rng) => standardize(applyTransform(x, one random transform per image))`, for data pipelines. */
  batchTransform(): BatchTransform {
    return (x, rng) => {
      const [n, h, w] = x.shape;
      const transforms = Array.from({ length: n }, () => this.randomTransform([h, w], rng));
      return tf.tidy(() => this.standardize(this.applyTransform(x, transforms)));
    };
  }

  /** `(x, rng) => applyTransform(x, one random transform per image)`: augmentation without standardize. */
  augmentTransform(): BatchTransform {
    return (x, rng) => {
      const [n, h, w] = x.shape;
      return this.applyTransform(
        x,
        Array.from({ length: n }, () => this.randomTransform([h, w], rng)),
      );
    };
  }

  /** Augmented batches from in-memory images x [n, h, w, c] (pixel values 0..255) and optional labels y. */
  flow(x: tf.Tensor4D, y?: tf.Tensor, options: FlowOptions = {}): ArrayIterator {
    this.assertFitted();
    return new ArrayIterator(x, y, this.batchTransform(), options, this.options.validationSplit);
  }

  /** Augmented batches from a class-folder tree (Keras `flow_from_directory`). */
  async flowFromDirectory(directory: string, options: Omit<DirectoryIteratorOptions, 'transform'> = {}): Promise<DirectoryIterator> {
    this.assertFitted();
    if ((options as { transform?: unknown }).transform !== undefined) {
      throw new ConvkitError(
        'flowFromDirectory() of an ImageDataGenerator takes no transform option',
        "the generator supplies the transform; call flowFromDirectory from convkit's data module for a custom one",
      );
    }
    return dataFlowFromDirectory(directory, { ...options, transform: this.batchTransform() });
  }

  /** The options as a plain object (without preprocessingFunction), for logs and saved configs. */
  toJSON(): Record<string, unknown> {
    const { preprocessingFunction, ...rest } = this.options;
    return { ...rest, preprocessingFunction: preprocessingFunction ? 'function' : null, mean: this.mean, std: this.std };
  }

  private assertFitted(): void {
    if (needsFit(this.options) && !this.stats) throw notFittedError(this.options);
  }
}
