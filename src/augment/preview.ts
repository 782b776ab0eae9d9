/**
 * Pictures of what augmentation does: N augmented versions of some images,
 * or one augmented batch as training draws it, as captioned tiles of raw
 * RGB pixels (0..255) ready for an image grid.
 */
import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import { decodeImage, flowFromDirectory, isImagePath, scanImageFolder } from '../data/index.js';
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
 * by class) when it is a class-folder root, else the images directly in it.
 */
export async function findPreviewImages(dir: string): Promise<{ images: PreviewImage[]; classRoot: boolean }> {
  const root = resolve(dir);
  try {
    const folder = await scanImageFolder(root, { skipBad: true });
    return { images: folder.files.map((f) => ({ path: f.path, className: f.className })), classRoot: true };
  } catch (err) {
    if (!(err instanceof ConvkitError)) throw err;
    let entries;
    try {
      entries = await fs.readdir(root, { withFileTypes: true });
    } catch {
      throw err;
    }
    const names = entries.filter((e) => e.isFile() && !e.name.startsWith('.') && isImagePath(e.name)).map((e) => e.name).sort();
    if (names.length === 0) {
      throw new ConvkitError(`${root} holds no images, neither directly nor in class sub-folders`, 'pass a folder of images or a class-folder root such as data/train');
    }
    return { images: names.map((n) => ({ path: join(root, n) })), classRoot: false };
  }
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
}

/**
 * One row per image: the image as loaded (captioned with its file name),
 * then `count` augmented versions. Only the generator's augmentation is
 * applied (no rescale or normalisation), so the tiles stay viewable.
 */
export async function previewAugmentations(generator: ImageDataGenerator, options: AugmentationsPreviewOptions): Promise<{ tiles: PreviewTile[]; columns: number; files: string[] }> {
  const { numImages = 1, random = false, count = 8, imageSize = 150, seed = 1 } = options;
  check(Number.isInteger(count) && count >= 1, 'count', count, 'an integer ≥ 1');
  check(Number.isInteger(numImages) && numImages >= 1, 'numImages', numImages, 'an integer ≥ 1');
  check(Number.isInteger(imageSize) && imageSize >= 2, 'imageSize', imageSize, 'an integer ≥ 2');
  check(Number.isInteger(seed), 'seed', seed, 'an integer');
  const rng = createRng(seed);
  const pickRng = rng.fork(), augmentRng = rng.fork();
  let files = options.files ?? [];
  if (files.length === 0) {
    if (!options.data) throw new ConvkitError('no images to preview', 'pass a data folder or image files');
    const { images } = await findPreviewImages(options.data);
    files = pick(images, numImages, random, pickRng).map((im) => im.path);
  }
  const tiles: PreviewTile[] = [];
  for (const file of files) {
    const img = await decodeImage(file, { targetSize: [imageSize, imageSize], colorMode: 'rgb' });
    const batch = tf.tidy(() => tf.tensor4d(Float32Array.from(img.data), [1, imageSize, imageSize, 3]).tile([count + 1, 1, 1, 1]) as tf.Tensor4D);
    const transforms = Array.from({ length: count }, () => generator.randomTransform([imageSize, imageSize], augmentRng));
    const out = tf.tidy(() => tf.concat([batch.slice(0, 1), generator.applyTransform(batch.slice(1), transforms)]) as tf.Tensor4D);
    tiles.push(...toTiles(out, [basename(file)]));
    tf.dispose([batch, out]);
  }
  return { tiles, columns: count + 1, files };
}

export interface BatchPreviewOptions {
  data: string;
  batchSize?: number;
  imageSize?: number;
  seed?: number;
}

/**
 * One augmented batch as training would draw it from `data` (shuffled by
 * seed), each tile captioned with its class (or file name for a plain folder).
 */
export async function previewBatch(generator: ImageDataGenerator, options: BatchPreviewOptions): Promise<{ tiles: PreviewTile[]; columns: number }> {
  const { batchSize = 16, imageSize = 150, seed = 1 } = options;
  check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', batchSize, 'an integer ≥ 1');
  check(Number.isInteger(imageSize) && imageSize >= 2, 'imageSize', imageSize, 'an integer ≥ 2');
  check(Number.isInteger(seed), 'seed', seed, 'an integer');
  const columns = Math.min(8, batchSize);
  const { images, classRoot } = await findPreviewImages(options.data);
  const augment = generator.augmentTransform();
  if (classRoot) {
    const it = await flowFromDirectory(options.data, { targetSize: [imageSize, imageSize], batchSize, seed, classMode: 'none', skipBad: true, transform: augment });
    try {
      const b = await it.nextBatch();
      const tiles = toTiles(b.x, b.files.map((f) => f.className));
      b.x.dispose();
      return { tiles, columns };
    } finally {
      it.dispose();
    }
  }
  const rng = createRng(seed);
  const chosen = pick(images, batchSize, true, rng.fork());
  const decoded = await Promise.all(chosen.map((im) => decodeImage(im.path, { targetSize: [imageSize, imageSize], colorMode: 'rgb' })));
  const size = imageSize * imageSize * 3;
  const data = new Float32Array(decoded.length * size);
  decoded.forEach((d, i) => data.set(d.data, i * size));
  const x = tf.tensor4d(data, [decoded.length, imageSize, imageSize, 3]);
  const out = augment(x, rng.fork());
  const tiles = toTiles(out, chosen.map((im) => basename(im.path)));
  tf.dispose([x, out]);
  return { tiles, columns };
}
