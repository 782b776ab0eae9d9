/**
 * Random erasing (Zhong et al., 2017): with probability p, one rectangle of
 * the image, of area 2%..1/3 of the image and aspect ratio (height / width)
 * 0.3..3.3, both drawn uniformly as in the paper, is filled with random
 * values uniform in 0..255, one per pixel and channel. The draw is a plain
 * box plus the seed of its fill values, so applying it is deterministic.
 */
import { createRng, type Rng } from '../util/rng.js';
import type { ImageShape } from './image-ops.js';

/** The erased rectangle (rows top..top+height, columns left..left+width) and the seed of its fill values. */
export interface ErasingParams {
  top: number;
  left: number;
  height: number;
  width: number;
  seed: number;
}

/** The paper's ranges: erased area as a fraction of the image, and aspect ratio height / width. */
export const ERASING_AREA: readonly [number, number] = [0.02, 1 / 3];
export const ERASING_ASPECT: readonly [number, number] = [0.3, 1 / 0.3];

/** Boxes that do not fit are drawn again, up to this many times (the paper's loop), then the image is left. */
const ATTEMPTS = 100;

/** Draws the box for one image of [height, width], or null (not erased) with probability 1 − p. */
export function sampleErasing(probability: number, [h, w]: readonly [number, number], rng: Rng): ErasingParams | null {
  if (rng.next() >= probability) return null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const area = rng.uniform(ERASING_AREA[0], ERASING_AREA[1]) * h * w;
    const aspect = rng.uniform(ERASING_ASPECT[0], ERASING_ASPECT[1]);
    const height = Math.round(Math.sqrt(area * aspect)),
      width = Math.round(Math.sqrt(area / aspect));
    if (height >= 1 && width >= 1 && height < h && width < w) {
      return { top: rng.int(h - height + 1), left: rng.int(w - width + 1), height, width, seed: rng.int(0x7fffffff) };
    }
  }
  return null;
}

/** Fills the box of `e` in `img` [h, w, c] (in place) with its random values. */
export function eraseImage(img: Float32Array, [h, w, c]: ImageShape, e: ErasingParams): void {
  const rng = createRng(e.seed);
  const bottom = Math.min(h, e.top + e.height),
    right = Math.min(w, e.left + e.width);
  for (let y = Math.max(0, e.top); y < bottom; y++) {
    for (let x = Math.max(0, e.left); x < right; x++) {
      for (let ch = 0; ch < c; ch++) img[(y * w + x) * c + ch] = rng.uniform(0, 255);
    }
  }
}
