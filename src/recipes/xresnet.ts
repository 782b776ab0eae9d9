/**
 * The xresnet recipe: a small ResNet with the "bag of tricks" of fast.ai's
 * Imagenette leaderboard entries, trained from random weights.
 *
 *   book — fastai's Imagenette training script (128 px, 5 epochs, batch 64, rate 1e-2 flat then
 *          cosine-annealed, weight decay 1e-2, label smoothing 0.1, random-resized crops of 35–100 %
 *          and flips) on xresnet18, with AdamW standing in for its Ranger optimizer
 *   best — the same at half the stage widths (`--widen 0.5`, a quarter of the parameters), whose
 *          5 epochs fit in about 45 minutes on two cores, at a rate (3e-3) Adam takes without a
 *          warm-up; after one epoch it validated better than the book profile (0.56 against 0.47)
 */
import type * as tf from '@tensorflow/tfjs';
import { RESIZED_CROP_AUGMENTATION } from '../augment/presets.js';
import { xresnet as buildXResNet } from '../models/xresnet.js';
import type { BuildContext, ConvnetSettings, Recipe, RecipeSettings } from './recipe.js';

const XRESNET_OPTIONS = ['filters', 'widen', 'batchNormMomentum'] as const satisfies readonly (keyof ConvnetSettings)[];

function build({ settings, numClasses, seed }: BuildContext): tf.LayersModel {
  const m = settings.model ?? {};
  return buildXResNet({
    inputShape: [settings.imageSize, settings.imageSize, 3],
    numClasses,
    widths: m.filters,
    widen: m.widen,
    batchNormMomentum: m.batchNormMomentum,
    dropout: settings.dropout ?? 0,
    seed,
  });
}

const book: RecipeSettings = {
  imageSize: 128,
  batchSize: 64,
  epochs: 5,
  optimizer: 'adam',
  learningRate: 1e-2,
  weightDecay: 1e-2,
  schedule: 'flat-cosine',
  labelSmoothing: 0.1,
  augmentation: RESIZED_CROP_AUGMENTATION,
  monitor: 'val_acc',
  interpolation: 'bilinear',
};

export const xresnet: Recipe = {
  name: 'xresnet',
  summary: "xresnet18 (fast.ai's Imagenette ResNet) from scratch: flat-then-cosine rate, AdamW, label smoothing, resized crops",
  profiles: {
    book,
    best: { ...book, learningRate: 3e-3, model: { widen: 0.5 } },
  },
  options: XRESNET_OPTIONS,
  // A range of rates spreads over a pretrained base's blocks; this model has none.
  unsupported: ['lowestLearningRate'],
  buildModel: build,
};
