/**
 * The strong augmentation a training run takes beside its ImageDataGenerator
 * `augmentation`, under the names timm and fastai use: per-image
 * RandAugment / TrivialAugment / random erasing (laid over `augmentation`,
 * drawn per image) and batch-level MixUp / CutMix (applied by fit to
 * training batches only).
 */
import { ConvkitError } from '../util/errors.js';
import { batchMixer, type BatchMix } from './mix.js';
import { resolveAugmentOptions, type RandAugmentOptions } from './options.js';
import type { AugmentationSettings } from './presets.js';

export interface StrongAugmentSettings {
  /** MixUp α: each training batch mixed with a shuffled copy of itself, λ ~ Beta(α, α); 0 or absent: off. */
  mixup?: number;
  /**
   * CutMix α: a box of each training image replaced by another image's,
   * labels weighted by area; 0 or absent: off. With mixup, each batch gets one of the two.
   */
  cutmix?: number;
  /** RandAugment: numOps operations at magnitude 0..30 on every training image. */
  randAugment?: RandAugmentOptions;
  /** TrivialAugment wide: one operation at a random magnitude on every training image. */
  trivialAugment?: boolean;
  /** Random erasing: probability of erasing one random box of each training image. */
  randomErasing?: number;
}

/** The per-image settings and their ImageDataGenerator option names (the same). */
const PER_IMAGE = ['randAugment', 'trivialAugment', 'randomErasing'] as const;

export interface TrainingAugmentation {
  /** What the training iterator's ImageDataGenerator draws per image; undefined: no augmentation. */
  augmentation?: AugmentationSettings;
  /** MixUp / CutMix for fit's `mix`; undefined: none. */
  mix?: BatchMix;
}

/**
 * The augmentation of a run from its settings: `augmentation` with the
 * per-image settings laid over it, and the batch mix. Every value is
 * checked here, so a bad one fails before any image is read.
 */
export function trainingAugmentation(settings: { augmentation?: AugmentationSettings } & StrongAugmentSettings): TrainingAugmentation {
  const perImage = Object.fromEntries(PER_IMAGE.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]]));
  if (perImage.randAugment && perImage.trivialAugment)
    throw new ConvkitError('randAugment and trivialAugment are both set', 'use one of them (--rand-augment N,M or --trivial-augment)');
  // A per-image setting that is off (0, false) validates but does not switch augmentation on by itself.
  resolveAugmentOptions(perImage);
  const on = PER_IMAGE.some((k) => Boolean(settings[k]));
  const augmentation = settings.augmentation || on ? { ...settings.augmentation, ...perImage } : undefined;
  if (augmentation) resolveAugmentOptions(augmentation);
  const { mixup = 0, cutmix = 0 } = settings;
  const mix = mixup !== 0 || cutmix !== 0 ? batchMixer({ mixup, cutmix }) : undefined;
  return { augmentation, mix };
}

/** The strong augmentation switched on, for a run's banner (e.g. "RandAugment 2,9, MixUp α 0.2"); empty when none. */
export function describeStrongAugmentation(s: StrongAugmentSettings): string[] {
  return [
    s.randAugment && `RandAugment ${s.randAugment.numOps},${s.randAugment.magnitude}`,
    s.trivialAugment && 'TrivialAugment',
    s.randomErasing && `random erasing p ${s.randomErasing}`,
    s.mixup && `MixUp α ${s.mixup}`,
    s.cutmix && `CutMix α ${s.cutmix}`,
  ].filter((d): d is string => typeof d === 'string');
}
