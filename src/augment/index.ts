/** Data augmentation: Keras's ImageDataGenerator, random transform sampling and batched, deterministic application. */
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
