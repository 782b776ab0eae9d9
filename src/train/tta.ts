/**
 * Test-time augmentation: class probabilities averaged over the original
 * image and k − 1 randomly augmented views (seeded, so repeatable).
 */
import * as tf from '@tensorflow/tfjs';
import { ImageDataGenerator } from '../augment/generator.js';
import type { Rng } from '../util/rng.js';
import { check, ConvkitError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';
import { classProbabilities } from './losses.js';
import type { AugmentationSettings } from '../augment/presets.js';

/** Mild views: flips and small shifts and zooms keep the label of a photo. */
export const DEFAULT_TTA_AUGMENTATION: AugmentationSettings = {
  horizontalFlip: true,
  widthShiftRange: 0.1,
  heightShiftRange: 0.1,
  zoomRange: 0.1,
  fillMode: 'reflect',
};

export interface TtaOptions {
  /** Views averaged, the original included (1 = no augmentation). */
  views: number;
  augmentation?: AugmentationSettings;
}

export type ViewTransform = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

export function ttaTransform(augmentation: AugmentationSettings = DEFAULT_TTA_AUGMENTATION): ViewTransform {
  return new ImageDataGenerator({ ...augmentation, rescale: null }).batchTransform();
}

/** Validation scores of a model without and with test-time augmentation. */
export interface TtaChoice {
  views: number;
  validation: { plain: { accuracy: number; loss: number }; tta: { accuracy: number; loss: number } };
  /** Whether TTA is worth using for this model: it scored better on validation. */
  use: boolean;
}

/**
 * Decides TTA on validation, never on test: views that a model did not see in
 * training (a convnet trained on aligned faces, say) can cost accuracy. TTA is
 * kept when it raises validation accuracy, or keeps it and lowers the log-loss.
 */
export function chooseTta(views: number, plain: { accuracy: number; loss: number }, tta: { accuracy: number; loss: number }): TtaChoice {
  const use = tta.accuracy > plain.accuracy || (tta.accuracy === plain.accuracy && tta.loss < plain.loss);
  const score = ({ accuracy, loss }: { accuracy: number; loss: number }) => ({ accuracy, loss }); // not the whole EvaluationResult
  return { views, validation: { plain: score(plain), tta: score(tta) }, use };
}

/** Class probabilities [b, n] of `x`: the mean over `views` views when > 1. */
export function predictProbabilities(model: tf.LayersModel, x: tf.Tensor4D, views = 1, transform?: ViewTransform, rng?: Rng): tf.Tensor2D {
  check(Number.isInteger(views) && views >= 1, 'tta views', views, 'an integer ≥ 1');
  let sum = tf.tidy(() => classProbabilities(model.predict(x) as tf.Tensor));
  for (let v = 1; v < views; v++) {
    if (!transform || !rng) throw new Error('predictProbabilities: views > 1 needs a transform and an rng');
    const xv = transform(x, rng);
    const next = tf.tidy(() => sum.add(classProbabilities(model.predict(xv) as tf.Tensor)) as tf.Tensor2D);
    if (xv !== x) xv.dispose();
    sum.dispose();
    sum = next;
  }
  if (views === 1) return sum;
  const mean = tf.tidy(() => sum.div(views) as tf.Tensor2D);
  sum.dispose();
  return mean;
}

/** Throws naming the first image whose probabilities are NaN or ±Infinity, so no broken score is ever printed or averaged. */
export function checkFiniteProbabilities(rows: readonly number[][], imageName: (row: number) => string | undefined): void {
  const bad = rows.findIndex((r) => firstNonFinite(r) >= 0);
  if (bad < 0) return;
  const image = imageName(bad);
  throw new ConvkitError(
    `the model gives ${rows[bad]![firstNonFinite(rows[bad]!)]} as a class probability${image ? ` for ${image}` : ''}`,
    'its weights or the input pixels hold NaN or huge values: check the image, or copy or train the model again',
  );
}
