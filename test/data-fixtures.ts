/** Small generated image folders for the data tests (sharp, in a temp dir). */
import { mkdtempSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../src/util/rng.js';

export function tempDir(prefix = 'convkit-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The solid colour of image `index` of class `label`: distinct per file, so pixels identify the file. */
export function colourOf(label: number, index: number): [number, number, number] {
  return [40 + label * 60, 10 + index * 7, 200 - index * 5];
}

export async function solidPng(path: string, rgb: readonly number[], width = 12, height = 10): Promise<void> {
  const [r, g, b] = rgb;
  await sharp({ create: { width, height, channels: 3, background: { r: r!, g: g!, b: b! } } })
    .png()
    .toFile(path);
}

/**
 * Writes root/<class>/<class>.<i>.png for each class (names given in any
 * order; labels follow the sorted names), each a solid colour from colourOf.
 */
export async function makeClassFolder(root: string, perClass: Record<string, number>, size: [number, number] = [10, 12]): Promise<void> {
  const names = Object.keys(perClass).sort();
  for (const [cls, n] of Object.entries(perClass)) {
    await fs.mkdir(join(root, cls), { recursive: true });
    for (let i = 0; i < n; i++) await solidPng(join(root, cls, `${cls}.${i}.png`), colourOf(names.indexOf(cls), i), size[1], size[0]);
  }
}

/**
 * A JPEG photo-like noise image with 200 bytes in the middle of its
 * entropy-coded data overwritten by garbage (holding 0xFF bytes, as random
 * damage does): lax decoders paint a garbage lower half without an error.
 */
export async function corruptJpeg(path: string, size = 96): Promise<void> {
  const rng = createRng(11);
  const raw = Buffer.from(Array.from({ length: size * size * 3 }, () => rng.int(256)));
  const jpeg = await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const mid = jpeg.length >> 1;
  for (let i = 0; i < 200; i++) jpeg[mid + i] = i % 50 === 7 ? 0xff : rng.int(256);
  await fs.writeFile(path, jpeg);
}
