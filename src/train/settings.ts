/** The settings of one training run, shared by every recipe. */
import type { AugmentationSettings } from '../augment/presets.js';
import type { ScheduleName, OptimizerName } from './optimizers.js';

/** Everything about one training run that is not the model: input size, optimizer, schedule, augmentation, what is kept. */
export interface TrainSettings {
  /** Square input side in pixels. */
  imageSize: number;
  batchSize: number;
  epochs: number;
  optimizer: OptimizerName;
  learningRate: number;
  momentum?: number;
  schedule?: ScheduleName;
  labelSmoothing?: number;
  /** Dropout before the classifier's hidden Dense layer (0 = none). */
  dropout?: number;
  /** Training-set augmentation; absent = none (pixels only rescaled, inside the model). */
  augmentation?: AugmentationSettings;
  /** Metric that picks the checkpoint kept (default val_loss). */
  monitor?: string;
  /** Stop after this many epochs without improvement of `monitor`. */
  earlyStoppingPatience?: number;
  /** Divide the learning rate by 10 after this many epochs without improvement. */
  reduceLrPatience?: number;
  /** Test-time augmentation: views averaged when scoring the test set (1 = none). */
  ttaViews?: number;
  stepsPerEpoch?: number;
  validationSteps?: number;
  /** Resize filter for reading images. */
  interpolation?: 'nearest' | 'bilinear' | 'bicubic' | 'area';
}
