/**
 * Named augmentation settings: the book's and convkit's lighter one. Pixels
 * stay in 0..255; the scaling is part of the model.
 */
import type { AugmentOptions, FillOptions } from './options.js';

/** Random training-time augmentation (ImageDataGenerator options and how borders are filled). */
export type AugmentationSettings = AugmentOptions & FillOptions;

/** The book's augmentation (Deep Learning with Python, 5.2.5). */
export const BOOK_AUGMENTATION: AugmentationSettings = {
  rotationRange: 40,
  widthShiftRange: 0.2,
  heightShiftRange: 0.2,
  shearRange: 0.2,
  zoomRange: 0.2,
  horizontalFlip: true,
  fillMode: 'nearest',
};

/** convkit's lighter augmentation (the best profiles): small rotations and shears, mirrored borders. */
export const LIGHT_AUGMENTATION: AugmentationSettings = {
  rotationRange: 20,
  widthShiftRange: 0.15,
  heightShiftRange: 0.15,
  shearRange: 0.1,
  zoomRange: 0.2,
  horizontalFlip: true,
  fillMode: 'reflect',
};

/** fastai's Imagenette augmentation (RandomResizedCrop(min_scale=0.35) and flips): crops of 35–100 % of the image, mirrored borders. */
export const RESIZED_CROP_AUGMENTATION: AugmentationSettings = {
  cropAreaFactor: [0.35, 1],
  horizontalFlip: true,
  fillMode: 'reflect',
};
