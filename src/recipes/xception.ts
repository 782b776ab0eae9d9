/**
 * The mini-Xception recipe (Deep Learning with Python, 2nd ed., 9.3.6):
 * depthwise-separable convolutions, residual connections and batch
 * normalization, trained from scratch on cats vs dogs.
 *
 *   book — the book's: 180 px, batch 32, RMSprop 1e-3 (Keras's default), 100 epochs, Dropout 0.5,
 *          random flip, rotation ±36° (RandomRotation(0.1)) and zoom 0.2 with reflected borders,
 *          the best epoch by validation loss
 *   best — the training ingredients of the ImageNet-from-scratch recipes: AdamW (decoupled weight
 *          decay, kernels only), a one-cycle schedule, label smoothing 0.1, random-resized crops
 *          with flips, and BatchNormalization momentum 0.9 (PyTorch's); the best epoch by validation
 *          accuracy, the test set also scored with 4-view TTA
 */
import type * as tf from '@tensorflow/tfjs';
import { RESIZED_CROP_AUGMENTATION, type AugmentationSettings } from '../augment/presets.js';
import { miniXception } from '../models/xception.js';
import type { BuildContext, ConvnetSettings, Recipe } from './recipe.js';

/**
 * The book's augmentation layers as ImageDataGenerator options. Keras's
 * RandomZoom(0.2) keeps the aspect ratio; zoomRange draws x and y apart.
 */
const BOOK_XCEPTION_AUGMENTATION: AugmentationSettings = { horizontalFlip: true, rotationRange: 36, zoomRange: 0.2, fillMode: 'reflect' };

const XCEPTION_OPTIONS = ['filters', 'batchNormMomentum'] as const satisfies readonly (keyof ConvnetSettings)[];

function buildMiniXception({ settings, numClasses, seed }: BuildContext): tf.LayersModel {
  return miniXception({
    inputShape: [settings.imageSize, settings.imageSize, 3],
    numClasses,
    filters: settings.model?.filters,
    batchNormMomentum: settings.model?.batchNormMomentum,
    dropout: settings.dropout ?? 0.5,
    seed,
  });
}

export const xception: Recipe = {
  name: 'xception',
  summary: "the book's mini-Xception (separable convolutions, residuals, batch normalization) from scratch",
  profiles: {
    book: {
      imageSize: 180,
      batchSize: 32,
      epochs: 100,
      optimizer: 'rmsprop',
      learningRate: 1e-3,
      dropout: 0.5,
      augmentation: BOOK_XCEPTION_AUGMENTATION,
      monitor: 'val_loss',
      interpolation: 'bilinear',
    },
    best: {
      imageSize: 180,
      batchSize: 32,
      epochs: 100,
      optimizer: 'adam',
      learningRate: 2e-3,
      weightDecay: 0.05,
      schedule: 'one-cycle',
      labelSmoothing: 0.1,
      dropout: 0.5,
      augmentation: RESIZED_CROP_AUGMENTATION,
      monitor: 'val_acc',
      ttaViews: 4,
      interpolation: 'bilinear',
      // PyTorch's BatchNorm momentum: Keras's 0.99 leaves the moving averages behind the weights for epochs.
      model: { batchNormMomentum: 0.9 },
    },
  },
  options: XCEPTION_OPTIONS,
  // A range of rates spreads over a pretrained base's blocks; this model has none.
  unsupported: ['lowestLearningRate'],
  buildModel: buildMiniXception,
};
