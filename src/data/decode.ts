/**
 * Decoding one image file into a resized uint8 pixel array with sharp:
 * EXIF orientation applied, alpha dropped, grayscale/CMYK converted.
 */
import { promises as fs } from 'node:fs';
import sharp, { type KernelEnum, type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { ConvkitError } from '../util/errors.js';
import { fileErrorReason, notRegularFileReason } from './file-errors.js';
import { isReadableFormat, READABLE_FORMATS } from './formats.js';

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

// libjpeg reports damaged entropy-coded data ("Corrupt JPEG data: premature
// end of data segment") only as a warning and goes on to paint garbage, so
// warnings must fail the file. Every photo of the bundled data sets decodes
// without one.
const FAIL_ON = 'warning';

const SKIP_HINT = 'remove or replace the file, or pass skipBad / --skip-bad to skip unreadable files';

// Each file is decoded once and then cached as pixels, so libvips's operation
// cache would only hold memory.
sharp.cache(false);

/**
 * sharp's error text on one line. A decoder warning failed by FAIL_ON reads
 * "Warning treated as error…" followed by the warnings libvips still held.
 */
function sharpReason(err: unknown): string {
  const lines = (err as Error).message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (!lines[0]?.startsWith('Warning treated as error')) return lines.join('; ');
  return `damaged image data${lines.length > 1 ? ` (${lines.slice(1).join('; ')})` : ''}`;
}

/** The bytes of image file `path`; a folder, a pipe or an unreadable file is an error saying which. */
export async function readImageFile(path: string): Promise<Buffer> {
  try {
    // A named pipe would block the read forever: look first.
    const why = notRegularFileReason(await fs.stat(path));
    if (why) throw new ConvkitError(`cannot read image ${path}: it ${why}`, SKIP_HINT);
    return await fs.readFile(path);
  } catch (err) {
    if (err instanceof ConvkitError) throw err;
    throw new ConvkitError(`cannot read image ${path}: ${fileErrorReason(err)}`, SKIP_HINT);
  }
}

/** Decodes `input` (a path or an encoded buffer); `name` is used in errors. */
export async function decodeImage(
  input: string | Buffer,
  options: DecodeOptions = {},
  name = typeof input === 'string' ? input : '<buffer>',
): Promise<DecodedImage> {
  const { colorMode = 'rgb', interpolation = 'bilinear', targetSize } = options;
  const bytes = typeof input === 'string' ? await readImageFile(input) : input;
  if (bytes.length === 0) throw new ConvkitError(`image ${name} is empty (0 bytes)`, SKIP_HINT);
  let img = sharp(bytes, { failOn: FAIL_ON }).rotate();
  let meta: Metadata;
  try {
    meta = await img.metadata();
  } catch (err) {
    throw new ConvkitError(`cannot read image ${name}: ${sharpReason(err)}; convkit reads ${READABLE_FORMATS}`, SKIP_HINT);
  }
  if (!isReadableFormat(meta.format, meta.compression)) {
    throw new ConvkitError(
      `${name} holds ${String(meta.format).toUpperCase()}${meta.compression ? `/${meta.compression.toUpperCase()}` : ''} image data, which convkit does not read; it reads ${READABLE_FORMATS}`,
      SKIP_HINT,
    );
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0,
    h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE) {
    throw new ConvkitError(
      `image ${name} is ${w}×${h} px, under the ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} minimum`,
      'remove the file, or pass skipBad / --skip-bad to skip such files',
    );
  }
  img = img.toColourspace('srgb').removeAlpha();
  if (targetSize && meta.format === 'jpeg' && (w >= 2 * targetSize[1] || h >= 2 * targetSize[0])) {
    // Shrunk on load (decoded at 1/2..1/8 scale), libjpeg skips the checks that
    // raise its warnings: decode at full size first, then resize the pixels.
    const full = await rawPixels(img, name);
    img = sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } });
  }
  if (colorMode === 'grayscale') img = img.grayscale().toColourspace('b-w');
  if (targetSize) img = img.resize(targetSize[1], targetSize[0], { fit: 'fill', kernel: KERNELS[interpolation] });
  const { data, info } = await rawPixels(img, name);
  const channels = colorMode === 'grayscale' ? 1 : 3;
  if (info.channels !== channels) throw new ConvkitError(`cannot decode image ${name}: decoded ${info.channels} channels, expected ${channels}`, SKIP_HINT);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width, channels };
}

/** The pixels `img` decodes to; a decoding failure is an error naming `name`. */
async function rawPixels(img: Sharp, name: string): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await img.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ConvkitError(
      `cannot decode image ${name}: ${sharpReason(err)}`,
      'the file is truncated or damaged; remove or replace it, or pass skipBad / --skip-bad',
    );
  }
}
