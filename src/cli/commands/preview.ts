import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { initBackend } from '../../backend/index.js';
import { parseCommandArgs, intFlag, numberFlag } from '../args.js';
import type { Command } from '../command.js';
import { ConvkitError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ImageDataGenerator, previewAugmentations, previewBatch, type FillMode, type ImageDataGeneratorOptions, type ShiftRange } from '../../augment/index.js';
import { imageGrid } from '../../report/grid.js';
import { isMarkedPng, markPng } from '../../report/png-mark.js';
import { claimOutputFile } from '../../util/output-guard.js';
import { listSkipped } from '../bad-files.js';
import { PER_IMAGE_AUGMENT_OPTIONS, PER_IMAGE_AUGMENT_USAGE, augmentOverrides } from '../augment-flags.js';

const spec = {
  name: 'preview',
  usage: `convkit preview --data DIR [--out preview.png] [--seed 1] [options]
  Writes a PNG grid of augmented images: one row per image (the image as
  loaded, then --count augmented versions), or with --batch one augmented
  batch captioned with each image's class. DIR is a class-folder root
  (train/cats, train/dogs…) or a plain folder of images. Same seed, same PNG.

  --data DIR               images to preview (class-folder root or plain folder)
  --image FILE             preview this file (repeatable; also as plain arguments)
  --out FILE               output PNG (default preview.png)
  --seed N                 seed of the picks and the augmentation (default 1)
  --count N                augmented versions per image (default 8)
  --images N               images taken from DIR (default 1)
  --random                 take random images from DIR (by seed), not the first sorted
  --batch                  show one augmented, shuffled batch with class captions
  --batch-size N           images in the --batch grid (default 16)
  --image-size N           images are resized to N×N first (default 150, at most 1024)
  --columns N              tiles per row (default: count + 1, or 8 with --batch)
  --skip-bad               leave out images that cannot be read (listed) instead of stopping

  Augmentation (Keras ImageDataGenerator; defaults are the book's):
  --rotation-range DEG     default 40
  --width-shift-range R    default 0.2 (< 1: fraction of the width; ≥ 1: pixels; a,b,c: allowed values)
  --height-shift-range R   default 0.2
  --shear-range DEG        default 0.2 (degrees, as Keras)
  --zoom-range Z | LO,HI   default 0.2 (factors 0.8..1.2)
  --no-horizontal-flip     horizontal flips are on by default
  --vertical-flip
  --fill-mode MODE         nearest (default), constant, reflect or wrap
  --cval V                 fill value for constant (default 0)
  --brightness-range LO,HI e.g. 0.7,1.3
  --channel-shift-range R  e.g. 20
  --interpolation-order N  1 bilinear (default) or 0 nearest

  After the above, per image (none by default):
${PER_IMAGE_AUGMENT_USAGE}`,
  options: {
    data: { type: 'string' },
    image: { type: 'string', multiple: true },
    out: { type: 'string' },
    seed: { type: 'string' },
    count: { type: 'string' },
    images: { type: 'string' },
    random: { type: 'boolean' },
    batch: { type: 'boolean' },
    'batch-size': { type: 'string' },
    'image-size': { type: 'string' },
    columns: { type: 'string' },
    'rotation-range': { type: 'string' },
    'width-shift-range': { type: 'string' },
    'height-shift-range': { type: 'string' },
    'shear-range': { type: 'string' },
    'zoom-range': { type: 'string' },
    'horizontal-flip': { type: 'boolean' },
    'no-horizontal-flip': { type: 'boolean' },
    'vertical-flip': { type: 'boolean' },
    'fill-mode': { type: 'string' },
    cval: { type: 'string' },
    'brightness-range': { type: 'string' },
    'channel-shift-range': { type: 'string' },
    'interpolation-order': { type: 'string' },
    ...PER_IMAGE_AUGMENT_OPTIONS,
    'skip-bad': { type: 'boolean' },
  },
  allowPositionals: true,
} as const;

/** "a,b,c" → numbers, naming the flag when one is not a number. */
function numberList(value: string, flag: string): number[] {
  return value.split(',').map((s) => numberFlag(s.trim(), flag, Number.NaN));
}

function shiftFlag(value: string | undefined, flag: string): ShiftRange {
  if (value === undefined) return 0.2;
  return value.includes(',') ? numberList(value, flag) : numberFlag(value, flag, 0.2);
}

function pairFlag(value: string, flag: string): [number, number] {
  const v = numberList(value, flag);
  if (v.length !== 2) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} takes two numbers LO,HI`);
  return [v[0]!, v[1]!];
}

/** Tiles bigger than this show nothing more and cost gigabytes (count + 1 float copies per image). */
const MAX_PREVIEW_SIZE = 1024;

/** A PNG of convkit's own at --out may be replaced; a folder, a user's file or a path in the data may not. Checked before the work. */
async function checkOutFile(out: string, data: string | undefined): Promise<void> {
  const owns = async (path: string) => isMarkedPng(await readFile(path));
  await claimOutputFile({ path: out, flag: '--out', what: 'a preview PNG', owns, inputs: data === undefined ? [] : [{ path: data, flag: '--data' }] });
}

const preview: Command = {
  async run(argv) {
    const { values: v, positionals } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    const files = [...(v.image ?? []), ...positionals];
    if (!v.data && files.length === 0)
      throw new ConvkitError('nothing to preview', 'pass --data DIR (a folder of images or a class-folder root) or --image FILE');
    if (v.batch && !v.data) throw new ConvkitError('--batch needs --data DIR', 'pass the folder to draw the batch from');
    if (v['horizontal-flip'] && v['no-horizontal-flip']) throw new ConvkitError('both --horizontal-flip and --no-horizontal-flip given', 'keep one of them');
    const zoom = v['zoom-range'];
    const { randAugment, trivialAugment, randomErasing } = augmentOverrides(v);
    const options: ImageDataGeneratorOptions = {
      rotationRange: numberFlag(v['rotation-range'], 'rotation-range', 40),
      widthShiftRange: shiftFlag(v['width-shift-range'], 'width-shift-range'),
      heightShiftRange: shiftFlag(v['height-shift-range'], 'height-shift-range'),
      shearRange: numberFlag(v['shear-range'], 'shear-range', 0.2),
      zoomRange: zoom?.includes(',') ? pairFlag(zoom, 'zoom-range') : numberFlag(zoom, 'zoom-range', 0.2),
      horizontalFlip: !v['no-horizontal-flip'],
      verticalFlip: v['vertical-flip'] ?? false,
      fillMode: (v['fill-mode'] ?? 'nearest') as FillMode,
      cval: numberFlag(v.cval, 'cval', 0),
      brightnessRange: v['brightness-range'] === undefined ? null : pairFlag(v['brightness-range'], 'brightness-range'),
      channelShiftRange: numberFlag(v['channel-shift-range'], 'channel-shift-range', 0),
      interpolationOrder: intFlag(v['interpolation-order'], 'interpolation-order', 1) as 0 | 1,
      randAugment,
      trivialAugment,
      randomErasing,
    };
    let generator: ImageDataGenerator;
    try {
      generator = new ImageDataGenerator(options);
    } catch (err) {
      // Name the flag, not the library option.
      if (err instanceof ConvkitError) {
        let message = err.message;
        for (const key of Object.keys(options)) message = message.replaceAll(key, `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        throw new ConvkitError(message);
      }
      throw err;
    }
    const seed = intFlag(v.seed, 'seed', 1);
    const imageSize = intFlag(v['image-size'], 'image-size', 150, 2, MAX_PREVIEW_SIZE);
    const out = v.out ?? 'preview.png';
    await checkOutFile(out, v.data);
    await initBackend();
    const result = v.batch
      ? await previewBatch(generator, { data: v.data!, batchSize: intFlag(v['batch-size'], 'batch-size', 16, 1), imageSize, seed, skipBad: v['skip-bad'] })
      : await previewAugmentations(generator, {
          files,
          data: v.data,
          numImages: intFlag(v.images, 'images', 1, 1),
          random: v.random ?? false,
          count: intFlag(v.count, 'count', 8, 1),
          imageSize,
          seed,
          skipBad: v['skip-bad'],
        });
    listSkipped('preview', result.skipped);
    const columns = intFlag(v.columns, 'columns', result.columns, 1);
    const png = await imageGrid(result.tiles, { columns, tileSize: imageSize, gap: 4, fontSize: 12 });
    await writeFileAtomic(out, markPng(png));
    const what = v.batch ? `one batch of ${result.tiles.length}` : `${result.tiles.length / result.columns} image(s) × ${result.columns - 1} augmented`;
    console.log(`wrote ${out} (${what}; seed ${seed})`);
    for (const f of (result as { files?: string[] }).files ?? []) console.log(`  ${basename(f)}`);
    return 0;
  },
};
export default preview;
