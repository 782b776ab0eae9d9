/**
 * Data augmentation: Keras's ImageDataGenerator, random transform sampling and batched, deterministic application;
 * RandAugment, TrivialAugment, random erasing, MixUp and CutMix.
 */
export {
  resolveOptions,
  resolveAugmentOptions,
  resolveFillOptions,
  FILL_MODES,
  type AugmentOptions,
  type FillMode,
  type FillOptions,
  type ImageDataGeneratorOptions,
  type ResolvedOptions,
  type ShiftRange,
  MAX_MAGNITUDE,
  type RandAugmentOptions,
} from './options.js';
export { sampleTransform, identityTransform, type TransformParams } from './sample.js';
export { transformMatrix, isIdentityMatrix } from './matrix.js';
export { resampleAffine } from './resample.js';
export { applyTransform, resampleBatch, type ApplyOptions, type ResampleEngine } from './apply.js';
export { standardizeBatch, StatsAccumulator, type FeatureStats } from './standardize.js';
export { ArrayIterator, type ArrayBatch, type BatchTransform, type FlowOptions } from './flow.js';
export { ImageDataGenerator, type StatisticsFitOptions } from './generator.js';
export {
  previewAugmentations,
  previewBatch,
  findPreviewImages,
  type PreviewTile,
  type PreviewImage,
  type AugmentationsPreviewOptions,
  type BatchPreviewOptions,
} from './preview.js';
export { BOOK_AUGMENTATION, LIGHT_AUGMENTATION, type AugmentationSettings } from './presets.js';
// Strong augmentation: RandAugment / TrivialAugment ops and random erasing per image, MixUp / CutMix per batch.
export { applyImageOp, IMAGE_OPS, OP_FILL, type ImageOp, type ImageOpName, type ImageShape } from './image-ops.js';
export { sampleRandAugment, sampleTrivialAugment, opMagnitude } from './rand-augment.js';
export { sampleErasing, eraseImage, ERASING_AREA, ERASING_ASPECT, type ErasingParams } from './random-erasing.js';
export { applyImageOps, type ImageOpsPlan } from './apply-ops.js';
export { sampleBeta } from './beta.js';
export { sampleMix, applyMix, batchMixer, cutMixBox, type MixOptions, type MixParams, type MixBox, type BatchMix } from './mix.js';
export { trainingAugmentation, describeStrongAugmentation, type StrongAugmentSettings, type TrainingAugmentation } from './training-augmentation.js';
