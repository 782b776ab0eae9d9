/**
 * A tiny synthetic two-class image set for the training tests: 32×32 RGB
 * images whose left ("left") or right ("right") half is brighter, plus noise.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../src/util/rng.js';

export const CLASSES = ['left', 'right'] as const;

/** One image as HWC uint8: class 0 bright on the left, class 1 on the right. */
export function syntheticImage(label: number, size: number, rng: ReturnType<typeof createRng>): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  const base = rng.uniform(40, 90),
    bright = base + rng.uniform(70, 130);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const brightSide = label === 0 ? x < size / 2 : x >= size / 2;
      for (let c = 0; c < 3; c++) {
        const v = (brightSide ? bright : base) + rng.uniform(-25, 25);
        data[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return data;
}

/** x [n, size, size, 3] float 0..255 and binary labels [n, 1], classes alternating. */
export function syntheticTensors(n: number, size = 32, seed = 7): { x: tf.Tensor4D; y: tf.Tensor2D; labels: number[] } {
  const rng = createRng(seed);
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const buf = new Float32Array(n * size * size * 3);
  labels.forEach((l, i) => buf.set(syntheticImage(l, size, rng), i * size * size * 3));
  return { x: tf.tensor4d(buf, [n, size, size, 3]), y: tf.tensor2d(labels, [n, 1]), labels };
}

export interface SyntheticSet {
  root: string;
  cleanup(): Promise<void>;
}

/** Writes root/{train,validation,test}/{left,right}/*.png; counts are per class. */
export async function writeSyntheticSet(
  counts: { train: number; validation: number; test: number } = { train: 40, validation: 16, test: 16 },
  size = 32,
  seed = 3,
): Promise<SyntheticSet> {
  const root = await mkdtemp(join(tmpdir(), 'convkit-train-'));
  const rng = createRng(seed);
  for (const [split, n] of Object.entries(counts)) {
    for (let label = 0; label < CLASSES.length; label++) {
      const dir = join(root, split, CLASSES[label]!);
      await mkdir(dir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const px = syntheticImage(label, size, rng);
        await sharp(Buffer.from(px), { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toFile(join(dir, `${CLASSES[label]}_${String(i).padStart(3, '0')}.png`));
      }
    }
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}
