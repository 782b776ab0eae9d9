/**
 * Decoding one image file into a resized uint8 pixel array with sharp:
 * EXIF orientation applied, alpha dropped, grayscale/CMYK converted.
 */
import sharp, { type KernelEnum, type Metadata } from 'sharp';
import { ConvkitError } from '../util/errors.js';

export type ColorMode = 'rgb' | 'grayscale';
export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'area';

export interface DecodeOptions {
  /** [height, width]; omitted keeps the file's size. */
  targetSize?: readonly [number, number];
  colorMode?: ColorMode;
  interpolation?: Interpolation;
}

/** A decoded image: HWC uint8, row-major. */
export interface DecodedImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
}

const KERNELS: Record<Interpolation, keyof KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  // sharp has no pure box filter; its shrink-on-load + lanczos matches area averaging closely on downscales.
  area: 'lanczos3',
};

export const MIN_IMAGE_SIDE = 2;

// Each file is decoded once and then cached as pixels, so libvips's operation
// cache would only hold memory.
sharp.cache(false);

/** Decodes `input` (a path or an encoded buffer); `name` is used in errors. */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}, name = typeof input === 'string' ? input : '<buffer>'): Promise<DecodedImage> {
  const { colorMode = 'rgb', interpolation = 'bilinear', targetSize } = options;
  let img = sharp(input, { failOn: 'error' }).rotate();
  let meta: Metadata;
  try {
    meta = await img.metadata();
  } catch (err) {
    throw new ConvkitError(`cannot read image ${name}: ${(err as Error).message}`, 'remove or replace the file, or pass skipBad / --skip-bad to skip unreadable files');
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0, h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE) {
    throw new ConvkitError(`image ${name} is ${w}×${h} px, under the ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} minimum`, 'remove the file, or pass skipBad / --skip-bad to skip such files');
  }
  img = img.toColourspace('srgb').removeAlpha();
  if (colorMode === 'grayscale') img = img.grayscale().toColourspace('b-w');
  if (targetSize) img = img.resize(targetSize[1], targetSize[0], { fit: 'fill', kernel: KERNELS[interpolation] });
  try {
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const channels = colorMode === 'grayscale' ? 1 : 3;
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width, channels };
  } catch (err) {
    if (err instanceof ConvkitError) throw err;
    throw new ConvkitError(`cannot decode image ${name}: ${(err as Error).message}`, 'the file may be truncated or not an image; remove it, or pass skipBad / --skip-bad');
  }
}
