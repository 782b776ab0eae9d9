/**
 * Drawing one image's random transformation, as Keras's
 * `get_random_transform`: the result is a plain, serialisable object, so a
 * transformation can be logged, stored, replayed or applied to a batch.
 */
import type { Rng } from '../util/rng.js';
import { check } from '../util/errors.js';
import { resolveAugmentOptions, type AugmentOptions, type ShiftRange } from './options.js';
import { sampleResizedCrop } from './resized-crop.js';
import type { ImageOp } from './image-ops.js';
import { sampleRandAugment, sampleTrivialAugment } from './rand-augment.js';
import { sampleErasing, type ErasingParams } from './random-erasing.js';

/**
 * One image's transformation. Geometry follows Keras's matrices, which map
 * output coordinates to input coordinates: the output pixel at offset p
 * from the centre shows the input at R·(Sh·Z·p + t).
 */
export interface TransformParams {
  /** Rotation in degrees, counter-clockwise. */
  theta: number;
  /** Horizontal shift in pixels: the output samples the input tx pixels to the right (content moves left). */
  tx: number;
  /** Vertical shift in pixels: the output samples the input ty pixels lower (content moves up). */
  ty: number;
  /** Shear angle in degrees. */
  shear: number;
  /** Zoom along x (columns) and y (rows): the input area sampled per output pixel; < 1 zooms in. */
  zx: number;
  zy: number;
  flipHorizontal: boolean;
  flipVertical: boolean;
  /** Added to every channel, then clipped to the image's min..max; null: none. */
  channelShiftIntensity: number | null;
  /** Brightness factor (pixel values × factor, clipped to 0..255); null: none. */
  brightness: number | null;
  /** RandAugment / TrivialAugment operations, applied in order after the affine step and brightness; absent: none. */
  ops?: ImageOp[];
  /** Random-erasing box, filled last; absent or null: none. */
  erasing?: ErasingParams | null;
}

/** The transformation that changes nothing. */
export function identityTransform(): TransformParams {
  return { theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1, flipHorizontal: false, flipVertical: false, channelShiftIntensity: null, brightness: null };
}

/** One shift in pixels, with Keras's rules for numbers and arrays (see ShiftRange). */
function sampleShift(r: ShiftRange, size: number, rng: Rng): number {
  let shift: number;
  let max: number;
  if (typeof r === 'number') {
    if (r === 0) return 0;
    max = r;
    // An integer range draws whole pixels from 0..r-1 with a random sign (numpy's choice(int)).
    shift = Number.isInteger(r) ? rng.int(r) * (rng.next() < 0.5 ? -1 : 1) : rng.uniform(-r, r);
  } else {
    max = Math.max(...r);
    shift = r[rng.int(r.length)]! * (rng.next() < 0.5 ? -1 : 1);
  }
  return max < 1 ? shift * size : shift;
}

/**
 * Draws a random transformation for an image of `[height, width]` from
 * `options` (the augmentation options of ImageDataGenerator). Only the
 * enabled transformations consume random numbers, in Keras's order.
 */
export function sampleTransform(options: AugmentOptions, shape: readonly [number, number] | readonly [number, number, number], rng: Rng): TransformParams {
  check(
    Array.isArray(shape) && shape.length >= 2 && shape.slice(0, 2).every((v) => Number.isInteger(v) && v >= 1),
    'shape',
    shape,
    '[height, width] (or [height, width, channels]) of positive integers',
  );
  const p = resolveAugmentOptions(options);
  const [h, w] = shape;
  const t = identityTransform();
  if (p.rotationRange) t.theta = rng.uniform(-p.rotationRange, p.rotationRange);
  t.tx = sampleShift(p.widthShiftRange, w, rng);
  t.ty = sampleShift(p.heightShiftRange, h, rng);
  if (p.shearRange) t.shear = rng.uniform(-p.shearRange, p.shearRange);
  const [zlo, zhi] = p.zoomRange;
  if (zlo !== 1 || zhi !== 1) {
    t.zx = rng.uniform(zlo, zhi);
    t.zy = rng.uniform(zlo, zhi);
  }
  // In place of the zoom and shifts (the options refuse both together).
  if (p.cropAreaFactor) Object.assign(t, sampleResizedCrop(p.cropAreaFactor, p.aspectRatioFactor!, [h, w], rng));
  if (p.horizontalFlip) t.flipHorizontal = rng.next() < 0.5;
  if (p.verticalFlip) t.flipVertical = rng.next() < 0.5;
  if (p.channelShiftRange) t.channelShiftIntensity = rng.uniform(-p.channelShiftRange, p.channelShiftRange);
  if (p.brightnessRange) t.brightness = rng.uniform(p.brightnessRange[0], p.brightnessRange[1]);
  // The per-image ops draw after Keras's transformations, so enabling them leaves those draws as they were.
  if (p.randAugment) t.ops = sampleRandAugment(p.randAugment, [h, w], rng);
  else if (p.trivialAugment) t.ops = sampleTrivialAugment([h, w], rng);
  if (p.randomErasing > 0) t.erasing = sampleErasing(p.randomErasing, [h, w], rng);
  return t;
}
