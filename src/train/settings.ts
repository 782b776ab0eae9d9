/** The settings of one training run, shared by every recipe. */
import type { AugmentationSettings } from '../augment/presets.js';
import type { StrongAugmentSettings } from '../augment/training-augmentation.js';
import type { ScheduleName, OptimizerName } from './optimizers.js';
import type { ClassWeightSetting } from './class-balance.js';
import type { SamplingMode } from './balanced-sampling.js';

/**
 * Everything about one training run that is not the model: input size,
 * optimizer, schedule, augmentation (StrongAugmentSettings adds mixup,
 * cutmix, randAugment, trivialAugment, randomErasing), what is kept.
 */
export interface TrainSettings extends StrongAugmentSettings {
  /** Square input side in pixels. */
  imageSize: number;
  batchSize: number;
  epochs: number;
  optimizer: OptimizerName;
  learningRate: number;
  momentum?: number;
  schedule?: ScheduleName;
  labelSmoothing?: number;
  /** Decoupled weight decay (AdamW's, fastai's `wd`) of the kernels; biases and BatchNormalization's γ, β are not decayed. */
  weightDecay?: number;
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
  /** Run the learning-rate finder first and train at its suggestion (`--learning-rate auto`). */
  autoLearningRate?: boolean;
  /** Fine-tuning: the earliest unfrozen block's rate; the head trains at learningRate, the blocks between spread geometrically (`--learning-rate LO:HI`). */
  lowestLearningRate?: number;
  /** Decay of an exponential moving average of the weights, which validation may pick over the trained ones (`--ema`). */
  ema?: number;
  /** Weights of the classes in the loss (default 'auto': balanced when train/ is imbalanced). */
  classWeight?: ClassWeightSetting;
  /** 'balanced': every epoch draws each class as often as the largest (default 'none'). */
  sampling?: SamplingMode;
}
