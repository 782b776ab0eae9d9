import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeImage } from '../src/data/decode.js';
import { ImageCache } from '../src/data/cache.js';
import { ConvkitError } from '../src/util/errors.js';
import { tempDir } from './data-fixtures.js';

const px = (img: { data: Uint8Array; width: number; channels: number }, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x + 1) * img.channels));
const near = (a: number[], b: number[], tol: number, what: string) =>
  assert.ok(a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol), `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);

/** 16×8: left half red, right half blue. */
function halves(): Sharp {
  const raw = Buffer.alloc(16 * 8 * 3);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) raw.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
  return sharp(raw, { raw: { width: 16, height: 8, channels: 3 } });
}

test('EXIF orientation is applied before resizing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'rotated.jpg');
    // Orientation 6: the stored image is shown turned 90° clockwise.
    await halves().jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
    const img = await decodeImage(file);
    assert.deepEqual([img.height, img.width, img.channels], [16, 8, 3]);
    near(px(img, 4, 2), [255, 0, 0], 40, 'top is the old left (red)');
    near(px(img, 4, 13), [0, 0, 255], 40, 'bottom is the old right (blue)');
    const small = await decodeImage(file, { targetSize: [4, 2] });
    assert.deepEqual([small.height, small.width], [4, 2]);
  } finally {
    cleanup();
  }
});

test('alpha is dropped, grayscale expands to RGB, RGB reduces to grayscale, CMYK converts', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rgba = join(dir, 'rgba.png');
    await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 10, g: 120, b: 230, alpha: 0.5 } } })
      .png()
      .toFile(rgba);
    const a = await decodeImage(rgba);
    assert.equal(a.channels, 3);
    assert.equal(a.data.length, 4 * 4 * 3);
    assert.deepEqual(px(a, 1, 1), [10, 120, 230]);

    const grey = join(dir, 'grey.png');
    await sharp(Buffer.alloc(16, 77), { raw: { width: 4, height: 4, channels: 1 } })
      .png()
      .toFile(grey);
    assert.deepEqual(px(await decodeImage(grey), 2, 2), [77, 77, 77]);
    const g1 = await decodeImage(grey, { colorMode: 'grayscale' });
    assert.equal(g1.channels, 1);
    assert.deepEqual(px(g1, 0, 0), [77]);

    const colour = join(dir, 'colour.png');
    await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .png()
      .toFile(colour);
    const g = await decodeImage(colour, { colorMode: 'grayscale' });
    assert.equal(g.channels, 1);
    assert.equal(g.data.length, 16);
    // Rec. 601/709-style luma lies between the channel extremes, near 0.2R+0.7G+0.1B.
    near(px(g, 1, 1), [0.2126 * 200 + 0.7152 * 100 + 0.0722 * 50], 20, 'luma');

    const greyAlpha = join(dir, 'grey-alpha.png');
    await sharp(Buffer.from(Array.from({ length: 16 }, (_, i) => (i % 2 ? 128 : 90))), { raw: { width: 2, height: 4, channels: 2 } })
      .png()
      .toFile(greyAlpha);
    assert.deepEqual(px(await decodeImage(greyAlpha), 0, 0), [90, 90, 90]);

    const cmyk = join(dir, 'cmyk.jpg');
    await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 220, g: 30, b: 30 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toFile(cmyk);
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const c = await decodeImage(cmyk);
    assert.equal(c.channels, 3);
    near(px(c, 8, 8), [220, 30, 30], 40, 'CMYK red back to RGB');
  } finally {
    cleanup();
  }
});

test('truncated, non-image and tiny files give a ConvkitError naming the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = await halves().jpeg().toBuffer();
    const cut = join(dir, 'cut.jpg');
    await fs.writeFile(cut, good.subarray(0, Math.floor(good.length * 0.6)));
    const text = join(dir, 'text.png');
    await fs.writeFile(text, 'not a png at all');
    const tiny = join(dir, 'tiny.png');
    await sharp({ create: { width: 1, height: 5, channels: 3, background: 'white' } })
      .png()
      .toFile(tiny);
    for (const [file, re] of [
      [cut, /cut\.jpg/],
      [text, /text\.png/],
      [tiny, /tiny\.png is 1×5 px, under the 2×2 minimum/],
    ] as const) {
      await assert.rejects(
        decodeImage(file, { targetSize: [8, 8] }),
        (err: unknown) => err instanceof ConvkitError && re.test(err.message) && /fix: /.test(err.message),
      );
    }
  } finally {
    cleanup();
  }
});

test('the cache decodes a file once per options, and the disk cache serves a new process', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'a.png');
    await halves().png().toFile(file);
    const opts = { targetSize: [4, 8] as const, colorMode: 'rgb' as const, interpolation: 'nearest' as const };
    const cacheDir = join(dir, 'cache');
    const first = new ImageCache({ cacheDir });
    const a = await first.get(file, opts);
    const again = await first.get(file, opts);
    assert.equal(again, a);
    await first.get(file, { ...opts, colorMode: 'grayscale' });
    assert.deepEqual({ ...first.stats, bytes: 0 }, { decoded: 2, memoryHits: 1, diskHits: 0, bytes: 0 });
    assert.equal(first.stats.bytes, 4 * 8 * 3 + 4 * 8);
    assert.equal((await fs.readdir(cacheDir)).filter((f) => f.endsWith('.px')).length, 2);

    const second = new ImageCache({ cacheDir });
    const b = await second.get(file, opts);
    assert.deepEqual(second.stats.diskHits, 1);
    assert.equal(second.stats.decoded, 0);
    assert.deepEqual([b.height, b.width, b.channels], [4, 8, 3]);
    assert.deepEqual(Array.from(b.data), Array.from(a.data));
    // Same name, new content → a new key, decoded afresh.
    await sharp({ create: { width: 16, height: 8, channels: 3, background: 'green' } })
      .png()
      .toFile(file);
    const c = await new ImageCache({ cacheDir }).get(file, opts);
    near(px(c, 0, 0), [0, 128, 0], 1, 'new content');
    const notADir = join(dir, 'plain-file');
    await fs.writeFile(notADir, 'x');
    await assert.rejects(
      new ImageCache({ cacheDir: notADir }).get(file, opts),
      (err: unknown) => err instanceof ConvkitError && /cache folder .*plain-file/.test(err.message),
    );
  } finally {
    cleanup();
  }
});
