/**
 * Keras's `standardize` for a batch, in Keras's order: preprocessingFunction,
 * rescale, samplewise centre / std, featurewise centre / std; and the
 * data-set statistics that `fit` computes for the featurewise steps.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import type { ResolvedOptions } from './options.js';

/** Per-channel statistics of a sample of the data (after rescale), as fit() computes them. */
export interface FeatureStats {
  mean: number[];
  /** Population standard deviation per channel. */
  std: number[];
}

const EPSILON = 1e-6;

type StandardizeOptions = Pick<
  ResolvedOptions,
  'preprocessingFunction' | 'rescale' | 'samplewiseCenter' | 'samplewiseStdNormalization' | 'featurewiseCenter' | 'featurewiseStdNormalization'
>;

export function needsFit(o: StandardizeOptions): boolean {
  return o.featurewiseCenter || o.featurewiseStdNormalization;
}

export function notFittedError(o: StandardizeOptions): ConvkitError {
  const which = o.featurewiseStdNormalization ? 'featurewiseStdNormalization' : 'featurewiseCenter';
  return new ConvkitError(
    `ImageDataGenerator has ${which} set but has not been fit on any data`,
    'call generator.fit(x) with a sample of the training images [n, h, w, c] first',
  );
}

/**
 * Streams per-channel mean and population std over chunks of images
 * (Chan et al.'s pairwise update), so fit() never holds a rescaled or
 * augmented copy of the whole sample.
 */
export class StatsAccumulator {
  private count = 0;
  private mean: number[] = [];
  private m2: number[] = [];

  /** Adds a chunk [n, h, w, c] (not disposed). */
  add(chunk: tf.Tensor4D): void {
    const [n, h, w, c] = chunk.shape;
    const nb = n * h * w;
    if (nb === 0) return;
    const { mean, variance } = tf.tidy(() => tf.moments(chunk.toFloat(), [0, 1, 2]));
    const mb = mean.dataSync(),
      vb = variance.dataSync();
    mean.dispose();
    variance.dispose();
    if (this.count === 0) {
      this.mean = Array.from(mb);
      this.m2 = Array.from(vb, (v) => v * nb);
      this.count = nb;
      return;
    }
    if (c !== this.mean.length) throw new ConvkitError(`fit() got chunks with ${this.mean.length} and ${c} channels`, 'pass images of one colour mode');
    const na = this.count,
      total = na + nb;
    for (let i = 0; i < c; i++) {
      const delta = mb[i]! - this.mean[i]!;
      this.mean[i] = this.mean[i]! + (delta * nb) / total;
      this.m2[i] = this.m2[i]! + vb[i]! * nb + (delta * delta * na * nb) / total;
    }
    this.count = total;
  }

  result(): FeatureStats {
    return { mean: [...this.mean], std: this.m2.map((m) => Math.sqrt(Math.max(0, m) / this.count)) };
  }
}

/** Returns the standardized batch (a new tensor; `x` is not disposed). */
export function standardizeBatch(x: tf.Tensor4D, o: StandardizeOptions, stats: FeatureStats | null): tf.Tensor4D {
  if (needsFit(o) && !stats) throw notFittedError(o);
  const c = x.shape[3];
  if (stats && needsFit(o) && stats.mean.length !== c) {
    throw new ConvkitError(
      `ImageDataGenerator was fit on images with ${stats.mean.length} channels, but this batch has ${c}`,
      'fit on images of the same colour mode as the batches',
    );
  }
  return tf.tidy(() => {
    let y = x.toFloat();
    if (o.preprocessingFunction) {
      const out = o.preprocessingFunction(y);
      if (!(out instanceof tf.Tensor) || out.rank !== 4 || out.shape.some((d, i) => d !== y.shape[i])) {
        throw new ConvkitError(
          `preprocessingFunction returned ${out instanceof tf.Tensor ? `shape [${out.shape.join(', ')}]` : typeof out}, expected [${y.shape.join(', ')}]`,
          'return a tensor of the same shape as its input batch',
        );
      }
      y = out.toFloat();
    }
    if (o.rescale !== null) y = y.mul(o.rescale);
    if (o.samplewiseCenter) y = y.sub(y.mean([1, 2, 3], true));
    if (o.samplewiseStdNormalization) {
      const { variance } = tf.moments(y, [1, 2, 3], true);
      y = y.div(variance.sqrt().add(EPSILON));
    }
    if (o.featurewiseCenter && stats) y = y.sub(tf.tensor1d(stats.mean));
    if (o.featurewiseStdNormalization && stats) y = y.div(tf.tensor1d(stats.std).add(EPSILON));
    return y;
  });
}
