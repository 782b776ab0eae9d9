/**
 * Random-resized crop (Inception's crop; torchvision's RandomResizedCrop,
 * fastai's RandomResizedCrop, KerasCV's crop_area_factor and
 * aspect_ratio_factor): a crop covering a random fraction of the image's
 * area, with a random aspect ratio (drawn uniformly in log space), at a
 * random place, stretched back to the image's size.
 *
 * On the images convkit's pipeline reads (already at the training size),
 * the crop is an affine transformation: the zoom and shift of
 * TransformParams, so it is sampled here and applied, with flips and any
 * rotation, by the same resampling step as Keras's transformations. Sizes
 * are continuous (the resampling needs no whole pixels), otherwise as
 * torchvision: ten tries, then the largest centred crop within the ratio range.
 */
import type { Rng } from '../util/rng.js';

/** The crop as TransformParams' zoom (the crop's fraction of each side) and shift (crop centre − image centre, in pixels). */
export interface ResizedCrop {
  zx: number;
  zy: number;
  tx: number;
  ty: number;
}

const TRIES = 10;

/**
 * Draws one crop of an image of `[height, width]`: its area a fraction in
 * `area` of the image's, its width/height ratio in `ratio`.
 */
export function sampleResizedCrop(area: readonly [number, number], ratio: readonly [number, number], [h, w]: readonly [number, number], rng: Rng): ResizedCrop {
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let i = 0; i < TRIES; i++) {
    const target = h * w * rng.uniform(area[0], area[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const cw = Math.sqrt(target * aspect),
      ch = Math.sqrt(target / aspect);
    if (cw <= w && ch <= h) {
      // Rows first, as torchvision draws the top before the left edge.
      const top = rng.next(),
        left = rng.next();
      return { zx: cw / w, zy: ch / h, tx: (left - 0.5) * (w - cw), ty: (top - 0.5) * (h - ch) };
    }
  }
  const imageRatio = w / h;
  const cw = imageRatio > ratio[1] ? h * ratio[1] : w,
    ch = imageRatio < ratio[0] ? w / ratio[0] : h;
  return { zx: cw / w, zy: ch / h, tx: 0, ty: 0 };
}
