/**
 * Pictures of what augmentation does: N augmented versions of some images,
 * or one augmented batch as training draws it, as captioned tiles of raw
 * RGB pixels (0..255) ready for an image grid.
 */
import { basename, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import { decodeBatch, flowFromDirectory, listImageFiles, scanImageFolder, subFolderCount, type SkippedFile } from '../data/index.js';
import type { ImageDataGenerator } from './generator.js';

export interface PreviewTile {
  /** HWC uint8 RGB. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  caption?: string;
}

export interface PreviewImage {
  path: string;
  /** Class folder name when the folder is a class-folder root. */
  className?: string;
}

/**
 * The images of `dir`, in sorted order: every class folder's images (class
 * by class) when it is a class-folder root, else the images in it and its
 * sub-folders. Bad files fail, or (skipBad) are listed in `skipped`.
 */
export async function findPreviewImages(dir: string, skipBad = false): Promise<{ images: PreviewImage[]; classRoot: boolean; skipped: SkippedFile[] }> {
  const root = resolve(dir);
  const classRoot = await subFolderCount(root).then(
    (n) => n >= 2,
    () => false,
  );
  if (classRoot) {
    const folder = await scanImageFolder(root, { skipBad });
    return { images: folder.files.map((f) => ({ path: f.path, className: f.className })), classRoot, skipped: folder.skipped };
  }
  const { files, skipped } = await listImageFiles([root], { skipBad });
  if (files.length === 0) {
    throw new ConvkitError(
      `${root} holds no images, neither directly nor in class sub-folders`,
      'pass a folder of images or a class-folder root such as data/train',
    );
  }
  return { images: files.map((path) => ({ path })), classRoot, skipped };
}

/** Decodes `paths` at size × size RGB; a file that fails is listed in `skipped` with skipBad, else thrown. */
function decodeSquare(paths: readonly string[], size: number, skipped: SkippedFile[] | undefined) {
  return decodeBatch(paths, { targetSize: [size, size], colorMode: 'rgb', interpolation: 'bilinear' }, skipped && ((f) => skipped.push(f)));
}

/** float [b, h, w, 3] → one uint8 tile per image. */
function toTiles(x: tf.Tensor4D, captions: (string | undefined)[]): PreviewTile[] {
  const [n, h, w, c] = x.shape;
  const bytes = tf.tidy(() => x.clipByValue(0, 255).round().toInt()).dataSync();
  const size = h * w * c;
  return Array.from({ length: n }, (_, i) => {
    const tile: PreviewTile = { data: Uint8Array.from(bytes.subarray(i * size, (i + 1) * size)), width: w, height: h, channels: 3 };
    const caption = captions[i];
    return caption === undefined ? tile : { ...tile, caption };
  });
}

function pick<T>(items: readonly T[], n: number, random: boolean, rng: Rng): T[] {
  return (random ? rng.shuffle([...items]) : [...items]).slice(0, n);
}

export interface AugmentationsPreviewOptions {
  /** Image files to show; else `numImages` are taken from `data`. */
  files?: string[];
  /** A folder of images or a class-folder root. */
  data?: string;
  numImages?: number;
  /** Pick the images from `data` at random (by seed) instead of the first in sorted order. */
  random?: boolean;
  /** Augmented versions per image (default 8). */
  count?: number;
  /** Images are resized to size × size (default 150). */
  imageSize?: number;
  seed?: number;
  /** Leave out (and list in `skipped`) images that cannot be read instead of failing. */
  skipBad?: boolean;
}

/**
 * One row per image: the image as loaded (captioned with its file name),
 * then `count` augmented versions. Only the generator's augmentation is
 * applied (no rescale or normalisation), so the tiles stay viewable.
 */
export async function previewAugmentations(
  generator: ImageDataGenerator,
  options: AugmentationsPreviewOptions,
): Promise<{ tiles: PreviewTile[]; columns: number; files: string[]; skipped: SkippedFile[] }> {
  const { numImages = 1, random = false, count = 8, imageSize = 150, seed = 1 } = options;
  check(Number.isInteger(count) && count >= 1, 'count', count, 'an integer ≥ 1');
  check(Number.isInteger(numImages) && numImages >= 1, 'numImages', numImages, 'an integer ≥ 1');
  check(Number.isInteger(imageSize) && imageSize >= 2, 'imageSize', imageSize, 'an integer ≥ 2');
  check(Number.isInteger(seed), 'seed', seed, 'an integer');
  const rng = createRng(seed);
  const pickRng = rng.fork(),
    augmentRng = rng.fork();
  const skipped: SkippedFile[] = [];
  let files = options.files ?? [];
  if (files.length > 0) {
    const listed = await listImageFiles(files, { skipBad: options.skipBad });
    files = listed.files;
    skipped.push(...listed.skipped);
  } else {
    if (!options.data) throw new ConvkitError('no images to preview', 'pass a data folder or image files');
    const found = await findPreviewImages(options.data, options.skipBad);
    files = pick(found.images, numImages, random, pickRng).map((im) => im.path);
    skipped.push(...found.skipped);
  }
  const tiles: PreviewTile[] = [];
  const shown: string[] = [];
  for (const file of files) {
    const { files: ok, pixels } = await decodeSquare([file], imageSize, options.skipBad ? skipped : undefined);
    if (ok.length === 0) continue;
    shown.push(file);
    const batch = tf.tidy(() => tf.tensor4d(pixels, [1, imageSize, imageSize, 3]).tile([count + 1, 1, 1, 1]) as tf.Tensor4D);
    const transforms = Array.from({ length: count }, () => generator.randomTransform([imageSize, imageSize], augmentRng));
    const out = tf.tidy(() => tf.concat([batch.slice(0, 1), generator.applyTransform(batch.slice(1), transforms)]) as tf.Tensor4D);
    tiles.push(...toTiles(out, [basename(file)]));
    tf.dispose([batch, out]);
  }
  if (tiles.length === 0) throw new ConvkitError(`none of the images to preview can be read (${files.join(', ')})`, 'check the files listed as skipped');
  return { tiles, columns: count + 1, files: shown, skipped };
}

export interface BatchPreviewOptions {
  data: string;
  batchSize?: number;
  imageSize?: number;
  seed?: number;
  /** Leave out (and list in `skipped`) images that cannot be read instead of failing. */
  skipBad?: boolean;
}

/**
 * One augmented batch as training would draw it from `data` (shuffled by
 * seed), each tile captioned with its class (or file name for a plain folder).
 */
export async function previewBatch(
  generator: ImageDataGenerator,
  options: BatchPreviewOptions,
): Promise<{ tiles: PreviewTile[]; columns: number; skipped: SkippedFile[] }> {
  const { batchSize = 16, imageSize = 150, seed = 1 } = options;
  check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', batchSize, 'an integer ≥ 1');
  check(Number.isInteger(imageSize) && imageSize >= 2, 'imageSize', imageSize, 'an integer ≥ 2');
  check(Number.isInteger(seed), 'seed', seed, 'an integer');
  const columns = Math.min(8, batchSize);
  const { images, classRoot, skipped } = await findPreviewImages(options.data, options.skipBad);
  const augment = generator.augmentTransform();
  if (classRoot) {
    const it = await flowFromDirectory(options.data, {
      targetSize: [imageSize, imageSize],
      batchSize,
      seed,
      classMode: 'none',
      skipBad: options.skipBad,
      transform: augment,
    });
    try {
      const b = await it.nextBatch();
      const tiles = toTiles(
        b.x,
        b.files.map((f) => f.className),
      );
      b.x.dispose();
      return { tiles, columns, skipped: it.skipped };
    } finally {
      it.dispose();
    }
  }
  const rng = createRng(seed);
  const chosen = pick(images, batchSize, true, rng.fork());
  const { files, pixels } = await decodeSquare(
    chosen.map((im) => im.path),
    imageSize,
    options.skipBad ? skipped : undefined,
  );
  if (files.length === 0) throw new ConvkitError(`none of the images picked from ${resolve(options.data)} can be read`, 'check the files listed as skipped');
  const x = tf.tensor4d(pixels, [files.length, imageSize, imageSize, 3]);
  const out = augment(x, rng.fork());
  const tiles = toTiles(
    out,
    files.map((f) => basename(f)),
  );
  tf.dispose([x, out]);
  return { tiles, columns, skipped };
}
