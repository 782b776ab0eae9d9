/**
 * ImageDataGenerator options (Keras names in TF.js camelCase) and their
 * validation: every bad value is a ConvkitError naming the option.
 */
import type * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';

/** How points outside the input are filled (Keras `fill_mode`). */
export type FillMode = 'constant' | 'nearest' | 'reflect' | 'wrap';
export const FILL_MODES: readonly FillMode[] = ['constant', 'nearest', 'reflect', 'wrap'];

/**
 * A shift range, as Keras's `width_shift_range` / `height_shift_range`:
 * - a number < 1: fraction of the image size, drawn uniformly from (-r, r);
 * - an integer ≥ 1: whole pixels from the open interval (-r, r);
 * - any other number ≥ 1: pixels drawn uniformly from (-r, r);
 * - an array: one of its values, with a random sign (fractions of the size if all are < 1).
 */
export type ShiftRange = number | readonly number[];

/** RandAugment's N and M. */
export interface RandAugmentOptions {
  /** Operations per image (N). */
  numOps: number;
  /** Magnitude bin M of every operation, 0..MAX_MAGNITUDE. */
  magnitude: number;
}

/** The highest magnitude bin of RandAugment and TrivialAugment (31 bins, as torchvision). */
export const MAX_MAGNITUDE = 30;

/** The random transformations (what `sampleTransform` draws from). */
export interface AugmentOptions {
  /** Degrees; rotations are drawn from (-rotationRange, rotationRange). */
  rotationRange?: number;
  /** Horizontal shift (see ShiftRange). */
  widthShiftRange?: ShiftRange;
  /** Vertical shift (see ShiftRange). */
  heightShiftRange?: ShiftRange;
  /** Shear angle in degrees, counter-clockwise, drawn from (-shearRange, shearRange). */
  shearRange?: number;
  /** z → zoom factors in [1 - z, 1 + z]; [lo, hi] → [lo, hi]. Drawn separately for x and y; below 1 zooms in. */
  zoomRange?: number | readonly [number, number];
  /** Random channel shift: adds one value from (-r, r) to every channel (pixel units). */
  channelShiftRange?: number;
  /** Brightness factors [lo, hi] (1 = unchanged), multiplied in 0..255 pixel space. */
  brightnessRange?: readonly [number, number] | null;
  horizontalFlip?: boolean;
  verticalFlip?: boolean;
  /**
   * Random-resized crop: the fraction [lo, hi] of the image's area a random
   * crop covers, stretched back to full size (KerasCV's crop_area_factor,
   * torchvision's scale; e.g. [0.35, 1]). Sets the zoom and shift itself.
   */
  cropAreaFactor?: readonly [number, number] | null;
  /** The crop's width/height ratio range (KerasCV's aspect_ratio_factor); default [3/4, 4/3] with cropAreaFactor. */
  aspectRatioFactor?: readonly [number, number] | null;
  /**
   * RandAugment: numOps operations drawn from the standard list, each at
   * magnitude bin 0..30 (torchvision's scale), applied after the affine step.
   */
  randAugment?: RandAugmentOptions | null;
  /** TrivialAugment wide: one operation at a uniformly drawn magnitude, after the affine step (instead of randAugment). */
  trivialAugment?: boolean;
  /** Random erasing: probability that one random box of each image is filled with random values, last of all. */
  randomErasing?: number;
}

/** How transformed images are resampled. */
export interface FillOptions {
  fillMode?: FillMode;
  /** Fill value for fillMode 'constant'. */
  cval?: number;
  /** 1: bilinear (Keras default), 0: nearest neighbour. */
  interpolationOrder?: 0 | 1;
}

/** Everything Keras's ImageDataGenerator takes (channels-last only). */
export interface ImageDataGeneratorOptions extends AugmentOptions, FillOptions {
  /** Subtract the data set's per-channel mean (needs fit()). */
  featurewiseCenter?: boolean;
  /** Subtract each image's own mean. */
  samplewiseCenter?: boolean;
  /** Divide by the data set's per-channel standard deviation (needs fit(); implies featurewiseCenter). */
  featurewiseStdNormalization?: boolean;
  /** Divide each image by its own standard deviation (implies samplewiseCenter). */
  samplewiseStdNormalization?: boolean;
  /** Not supported: ZCA whitening. */
  zcaWhitening?: boolean;
  zcaEpsilon?: number;
  /** Multiplies the pixels after augmentation (e.g. 1/255); 0 or null leaves them. */
  rescale?: number | null;
  /** Applied to each augmented batch [b, h, w, c] before rescaling; must return the same shape. */
  preprocessingFunction?: ((x: tf.Tensor4D) => tf.Tensor4D) | null;
  /** Fraction of `flow()` data kept for `subset: 'validation'` (the first part, as Keras). */
  validationSplit?: number;
}

export interface ResolvedOptions {
  rotationRange: number;
  widthShiftRange: ShiftRange;
  heightShiftRange: ShiftRange;
  shearRange: number;
  zoomRange: [number, number];
  channelShiftRange: number;
  brightnessRange: [number, number] | null;
  horizontalFlip: boolean;
  verticalFlip: boolean;
  cropAreaFactor: [number, number] | null;
  /** null without cropAreaFactor. */
  aspectRatioFactor: [number, number] | null;
  randAugment: RandAugmentOptions | null;
  trivialAugment: boolean;
  randomErasing: number;
  fillMode: FillMode;
  cval: number;
  interpolationOrder: 0 | 1;
  featurewiseCenter: boolean;
  samplewiseCenter: boolean;
  featurewiseStdNormalization: boolean;
  samplewiseStdNormalization: boolean;
  rescale: number | null;
  preprocessingFunction: ((x: tf.Tensor4D) => tf.Tensor4D) | null;
  validationSplit: number;
}

const KNOWN: readonly string[] = [
  'rotationRange',
  'widthShiftRange',
  'heightShiftRange',
  'shearRange',
  'zoomRange',
  'channelShiftRange',
  'brightnessRange',
  'horizontalFlip',
  'verticalFlip',
  'cropAreaFactor',
  'aspectRatioFactor',
  'randAugment',
  'trivialAugment',
  'randomErasing',
  'fillMode',
  'cval',
  'interpolationOrder',
  'featurewiseCenter',
  'samplewiseCenter',
  'featurewiseStdNormalization',
  'samplewiseStdNormalization',
  'zcaWhitening',
  'zcaEpsilon',
  'rescale',
  'preprocessingFunction',
  'validationSplit',
  'dataFormat',
  'dtype',
];

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const nonNegative = (v: unknown): v is number => finite(v) && v >= 0;
const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function bool(options: Record<string, unknown>, key: string): boolean {
  const v = options[key];
  check(v === undefined || typeof v === 'boolean', key, v, 'true or false');
  return v === true;
}

function range(options: Record<string, unknown>, key: string, unit: string): number {
  const v = options[key] ?? 0;
  check(nonNegative(v), key, v, `a number ≥ 0 (${unit})`);
  return v;
}

function shiftRange(options: Record<string, unknown>, key: string): ShiftRange {
  const v = options[key] ?? 0;
  if (Array.isArray(v)) {
    check(v.length > 0 && v.every(finite), key, v, 'a non-empty array of numbers (allowed shifts)');
    return [...(v as number[])];
  }
  check(nonNegative(v), key, v, 'a number ≥ 0 (< 1: fraction of the size; ≥ 1: pixels) or an array of allowed shifts');
  return v;
}

function pair(v: unknown): v is readonly [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every(finite);
}

/** Most RandAugment operations per image: more only repeats ops of the 14. */
const MAX_OPS = 14;

function randAugment(v: unknown): RandAugmentOptions | null {
  if (v === undefined || v === null) return null;
  const r = v as Partial<RandAugmentOptions>;
  const ok =
    typeof v === 'object' &&
    Number.isInteger(r.numOps) &&
    r.numOps! >= 1 &&
    r.numOps! <= MAX_OPS &&
    Number.isInteger(r.magnitude) &&
    r.magnitude! >= 0 &&
    r.magnitude! <= MAX_MAGNITUDE;
  check(ok, 'randAugment', v, `{ numOps: 1..${MAX_OPS}, magnitude: 0..${MAX_MAGNITUDE} } (integers; e.g. { numOps: 2, magnitude: 9 }) or null`);
  return { numOps: r.numOps!, magnitude: r.magnitude! };
}

/** The random-resized crop's ranges; it sets the zoom and shift, so it refuses zoomRange and the shift ranges. */
function resizedCrop(o: Record<string, unknown>, zoomRange: [number, number]): Pick<ResolvedOptions, 'cropAreaFactor' | 'aspectRatioFactor'> {
  const area = o.cropAreaFactor ?? null;
  const ratio = o.aspectRatioFactor ?? null;
  check(
    area === null || (pair(area) && area[0] > 0 && area[0] <= area[1] && area[1] <= 1),
    'cropAreaFactor',
    area,
    'a pair [lo, hi] with 0 < lo ≤ hi ≤ 1 (fractions of the image area, e.g. [0.35, 1]), or null',
  );
  check(
    ratio === null || (pair(ratio) && ratio[0] > 0 && ratio[0] <= ratio[1]),
    'aspectRatioFactor',
    ratio,
    'a pair [lo, hi] of width/height ratios with 0 < lo ≤ hi (e.g. [0.75, 1.333])',
  );
  if (area === null) {
    if (ratio !== null)
      throw new ConvkitError('aspectRatioFactor is set without cropAreaFactor', 'add cropAreaFactor (e.g. [0.35, 1]) or leave aspectRatioFactor out');
    return { cropAreaFactor: null, aspectRatioFactor: null };
  }
  const shifts = (['widthShiftRange', 'heightShiftRange'] as const).filter((k) => o[k] !== undefined && o[k] !== 0);
  const clash = [...(zoomRange[0] !== 1 || zoomRange[1] !== 1 ? ['zoomRange'] : []), ...shifts];
  if (clash.length)
    throw new ConvkitError(
      `cropAreaFactor and ${clash.join(', ')} are both set`,
      `leave ${clash.join(', ')} out: the random-resized crop draws its own zoom and shift`,
    );
  const [lo, hi] = ratio ?? [3 / 4, 4 / 3];
  return { cropAreaFactor: [area[0], area[1]], aspectRatioFactor: [lo, hi] };
}

/** The augmentation part of the options, validated, with Keras's defaults filled in. */
export function resolveAugmentOptions(options: AugmentOptions): Pick<ResolvedOptions, keyof AugmentOptions> {
  const o = options as Record<string, unknown>;
  const zoom = o.zoomRange ?? 0;
  let zoomRange: [number, number];
  if (typeof zoom === 'number') {
    check(nonNegative(zoom) && zoom < 1, 'zoomRange', zoom, 'a number in [0, 1) (factors 1 - z .. 1 + z) or a pair [lo, hi]');
    zoomRange = [1 - zoom, 1 + zoom];
  } else {
    check(pair(zoom) && zoom[0] > 0 && zoom[0] <= zoom[1], 'zoomRange', zoom, 'a number in [0, 1) or a pair [lo, hi] with 0 < lo ≤ hi');
    zoomRange = [zoom[0], zoom[1]];
  }
  const b = o.brightnessRange ?? null;
  check(b === null || (pair(b) && b[0] >= 0 && b[0] <= b[1]), 'brightnessRange', b, 'a pair [lo, hi] of factors with 0 ≤ lo ≤ hi (1 = unchanged), or null');
  const crop = resizedCrop(o, zoomRange);
  const rand = randAugment(o.randAugment);
  const trivialAugment = bool(o, 'trivialAugment');
  if (rand && trivialAugment)
    throw new ConvkitError('randAugment and trivialAugment are both set', 'use one of them: TrivialAugment draws one op per image in place of RandAugment’s N');
  const erasing = o.randomErasing ?? 0;
  check(finite(erasing) && erasing >= 0 && erasing <= 1, 'randomErasing', erasing, 'a probability in [0, 1] (0 = off)');
  return {
    rotationRange: range(o, 'rotationRange', 'degrees'),
    widthShiftRange: shiftRange(o, 'widthShiftRange'),
    heightShiftRange: shiftRange(o, 'heightShiftRange'),
    shearRange: range(o, 'shearRange', 'degrees'),
    zoomRange,
    channelShiftRange: range(o, 'channelShiftRange', 'pixel values'),
    brightnessRange: b === null ? null : [b[0], b[1]],
    horizontalFlip: bool(o, 'horizontalFlip'),
    verticalFlip: bool(o, 'verticalFlip'),
    ...crop,
    randAugment: rand,
    trivialAugment,
    randomErasing: erasing,
  };
}

/** Resampling options, validated. */
export function resolveFillOptions(options: FillOptions): Required<FillOptions> {
  const { fillMode = 'nearest', cval = 0, interpolationOrder = 1 } = options;
  check(FILL_MODES.includes(fillMode), 'fillMode', fillMode, `one of ${FILL_MODES.join(', ')}`);
  check(finite(cval), 'cval', cval, 'a finite number');
  check(
    interpolationOrder === 0 || interpolationOrder === 1,
    'interpolationOrder',
    interpolationOrder,
    '0 (nearest) or 1 (bilinear); higher orders are not supported',
  );
  return { fillMode, cval, interpolationOrder };
}

/** Validates every option; unknown keys (e.g. Python spellings) are errors naming the key. */
export function resolveOptions(options: ImageDataGeneratorOptions = {}): ResolvedOptions {
  check(typeof options === 'object' && options !== null && !Array.isArray(options), 'options', options, 'an object of ImageDataGenerator options');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (o[key] === undefined || KNOWN.includes(key)) continue;
    const hint = KNOWN.includes(camel(key))
      ? `write it in camelCase: ${camel(key)}`
      : `known options: ${KNOWN.filter((k) => k !== 'dataFormat' && k !== 'dtype').join(', ')}`;
    throw new ConvkitError(`unknown ImageDataGenerator option ${JSON.stringify(key)}`, hint);
  }
  if (o.dataFormat !== undefined && o.dataFormat !== 'channelsLast') {
    throw new ConvkitError(
      `dataFormat ${JSON.stringify(o.dataFormat)} is not supported`,
      'convkit images are channels-last [batch, height, width, channels]; leave dataFormat out',
    );
  }
  if (o.dtype !== undefined && o.dtype !== 'float32') {
    throw new ConvkitError(`dtype ${JSON.stringify(o.dtype)} is not supported`, 'batches are always float32; leave dtype out');
  }
  if (bool(o, 'zcaWhitening')) {
    throw new ConvkitError(
      'zcaWhitening is not supported',
      'leave zcaWhitening out; use featurewiseCenter / featurewiseStdNormalization for data-set normalisation',
    );
  }
  check(o.zcaEpsilon === undefined || (finite(o.zcaEpsilon) && o.zcaEpsilon > 0), 'zcaEpsilon', o.zcaEpsilon, 'a number > 0');
  const rescale = o.rescale ?? null;
  check(rescale === null || finite(rescale), 'rescale', rescale, 'a finite number (e.g. 1/255) or null');
  const fn = o.preprocessingFunction ?? null;
  check(fn === null || typeof fn === 'function', 'preprocessingFunction', typeof fn, 'a function (x: Tensor4D) => Tensor4D, or null');
  const validationSplit = o.validationSplit ?? 0;
  check(finite(validationSplit) && validationSplit >= 0 && validationSplit < 1, 'validationSplit', validationSplit, 'a number in [0, 1)');
  const featurewiseStdNormalization = bool(o, 'featurewiseStdNormalization');
  const samplewiseStdNormalization = bool(o, 'samplewiseStdNormalization');
  return {
    ...resolveAugmentOptions(options),
    ...resolveFillOptions(options),
    // As Keras: std normalisation implies centring.
    featurewiseCenter: bool(o, 'featurewiseCenter') || featurewiseStdNormalization,
    samplewiseCenter: bool(o, 'samplewiseCenter') || samplewiseStdNormalization,
    featurewiseStdNormalization,
    samplewiseStdNormalization,
    rescale: rescale === 0 ? null : (rescale as number | null),
    preprocessingFunction: fn as ResolvedOptions['preprocessingFunction'],
    validationSplit,
  };
}
