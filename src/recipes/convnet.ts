/**
 * The book's small-convnet recipes:
 *
 *   scratch  — the small convnet from scratch, no augmentation (book: RMSprop 1e-4, batch 20, 150 px, 30 epochs)
 *   augment  — the same convnet with Dropout 0.5 and ImageDataGenerator augmentation (book: 100 epochs, batch 32)
 */
import type * as tf from '@tensorflow/tfjs';
import { BOOK_AUGMENTATION, LIGHT_AUGMENTATION } from '../augment/presets.js';
import { smallCnn } from '../models/small-cnn.js';
import type { BuildContext, ConvnetSettings, Recipe } from './recipe.js';

/** The small convnet's knobs (`settings.model`) that buildSmallCnn reads. */
const SMALL_CNN_OPTIONS = ['filters', 'denseUnits'] as const satisfies readonly (keyof ConvnetSettings)[];

function buildSmallCnn({ settings, numClasses, seed }: BuildContext): tf.LayersModel {
  const m = settings.model ?? {};
  return smallCnn({
    inputShape: [settings.imageSize, settings.imageSize, 3],
    numClasses,
    dropout: settings.dropout ?? 0,
    seed,
    filters: m.filters,
    denseUnits: m.denseUnits,
  });
}

export const scratch: Recipe = {
  name: 'scratch',
  summary: 'small convnet trained from scratch, no augmentation',
  profiles: {
    book: { imageSize: 150, batchSize: 20, epochs: 30, optimizer: 'rmsprop', learningRate: 1e-4, dropout: 0, monitor: 'val_loss', interpolation: 'nearest' },
    // Adam with warm-up + cosine decay and light label smoothing; the checkpoint keeps the best epoch, so overfitting late costs nothing.
    best: {
      imageSize: 150,
      batchSize: 32,
      epochs: 30,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: 'cosine',
      labelSmoothing: 0.1,
      dropout: 0.5,
      monitor: 'val_acc',
      earlyStoppingPatience: 8,
      ttaViews: 4,
      interpolation: 'bilinear',
    },
  },
  options: SMALL_CNN_OPTIONS,
  unsupported: ['lowestLearningRate'],
  buildModel: buildSmallCnn,
};

export const augment: Recipe = {
  name: 'augment',
  summary: 'small convnet with Dropout 0.5 and data augmentation (rotation, shifts, shear, zoom, flips)',
  profiles: {
    // The book's generator loops: 100 steps of 32 augmented images per epoch (1.6 passes), 50 validation steps.
    book: {
      imageSize: 150,
      batchSize: 32,
      epochs: 100,
      stepsPerEpoch: 100,
      validationSteps: 50,
      optimizer: 'rmsprop',
      learningRate: 1e-4,
      dropout: 0.5,
      augmentation: BOOK_AUGMENTATION,
      monitor: 'val_loss',
      interpolation: 'nearest',
    },
    best: {
      imageSize: 150,
      batchSize: 32,
      epochs: 100,
      optimizer: 'adam',
      learningRate: 1e-3,
      schedule: 'one-cycle',
      labelSmoothing: 0.1,
      dropout: 0.5,
      augmentation: LIGHT_AUGMENTATION,
      monitor: 'val_acc',
      earlyStoppingPatience: 20,
      ttaViews: 4,
      interpolation: 'bilinear',
    },
  },
  options: SMALL_CNN_OPTIONS,
  // A range of rates spreads over a pretrained base's blocks, which the small convnet has not.
  unsupported: ['lowestLearningRate'],
  buildModel: buildSmallCnn,
};
