/**
 * Affine resampling of a batch of channels-last images in plain JS, with one
 * matrix per image. Same contract as TF.js's Transform kernel (matrices map
 * output to input pixels; bilinear or nearest; constant/nearest/reflect/wrap
 * fill), used where that kernel is missing or wrong:
 * - the cpu kernel (which the native backend also uses) returns after the
 *   first image of a batch (tfjs 4.22);
 * - the wasm kernel's 'reflect' maps negative coordinates to the far edge;
 * - both kernels' 'wrap' breaks for shifts of a full image or more.
 * Fill modes act on each interpolation tap (scipy's 'grid-constant',
 * 'nearest', 'reflect' and 'grid-wrap'), so they stay right for any shift.
 */
import type { FillMode } from './options.js';

/** Maps tap index `i` into 0..len-1 by the fill mode; -1 means "use cval". */
function mapIndex(i: number, len: number, mode: FillMode): number {
  if (i >= 0 && i < len) return i;
  switch (mode) {
    case 'constant':
      return -1;
    case 'nearest':
      return i < 0 ? 0 : len - 1;
    case 'reflect': {
      // d c b a | a b c d | d c b a: period 2·len, mirrored about the edges.
      const period = 2 * len;
      let k = i % period;
      if (k < 0) k += period;
      return k < len ? k : period - 1 - k;
    }
    case 'wrap': {
      const k = i % len;
      return k < 0 ? k + len : k;
    }
  }
}

/**
 * Resamples `src` ([n, h, w, c] float, row-major) into a new array of the
 * same shape. `matrices` holds 8 numbers per image (tf.image.transform's
 * layout; c0 and c1 must be 0).
 */
export function resampleAffine(
  src: Float32Array,
  shape: readonly [number, number, number, number],
  matrices: ArrayLike<number>,
  fillMode: FillMode,
  cval: number,
  order: 0 | 1,
): Float32Array {
  const [n, h, w, c] = shape;
  const dst = new Float32Array(src.length);
  const rowStride = w * c,
    imgStride = h * w * c;
  for (let b = 0; b < n; b++) {
    const a0 = matrices[b * 8]!,
      a1 = matrices[b * 8 + 1]!,
      a2 = matrices[b * 8 + 2]!;
    const b0 = matrices[b * 8 + 3]!,
      b1 = matrices[b * 8 + 4]!,
      b2 = matrices[b * 8 + 5]!;
    const base = b * imgStride;
    let o = base;
    for (let y = 0; y < h; y++) {
      const rx = a1 * y + a2,
        ry = b1 * y + b2;
      for (let x = 0; x < w; x++, o += c) {
        const ix = a0 * x + rx,
          iy = b0 * x + ry;
        if (order === 0) {
          const xi = mapIndex(Math.round(ix), w, fillMode),
            yi = mapIndex(Math.round(iy), h, fillMode);
          if (xi < 0 || yi < 0) {
            for (let ch = 0; ch < c; ch++) dst[o + ch] = cval;
          } else {
            const p = base + yi * rowStride + xi * c;
            for (let ch = 0; ch < c; ch++) dst[o + ch] = src[p + ch]!;
          }
          continue;
        }
        const x0 = Math.floor(ix),
          y0 = Math.floor(iy);
        const fx = ix - x0,
          fy = iy - y0;
        const w00 = (1 - fx) * (1 - fy),
          w01 = fx * (1 - fy),
          w10 = (1 - fx) * fy,
          w11 = fx * fy;
        if (x0 >= 0 && y0 >= 0 && x0 < w - 1 && y0 < h - 1) {
          // All four taps inside: the common case, no index mapping.
          const p = base + y0 * rowStride + x0 * c;
          for (let ch = 0; ch < c; ch++) {
            const q = p + ch;
            dst[o + ch] = w00 * src[q]! + w01 * src[q + c]! + w10 * src[q + rowStride]! + w11 * src[q + rowStride + c]!;
          }
          continue;
        }
        const xa = mapIndex(x0, w, fillMode),
          xb = mapIndex(x0 + 1, w, fillMode);
        const ya = mapIndex(y0, h, fillMode),
          yb = mapIndex(y0 + 1, h, fillMode);
        const p00 = ya < 0 || xa < 0 ? -1 : base + ya * rowStride + xa * c;
        const p01 = ya < 0 || xb < 0 ? -1 : base + ya * rowStride + xb * c;
        const p10 = yb < 0 || xa < 0 ? -1 : base + yb * rowStride + xa * c;
        const p11 = yb < 0 || xb < 0 ? -1 : base + yb * rowStride + xb * c;
        for (let ch = 0; ch < c; ch++) {
          const v00 = p00 < 0 ? cval : src[p00 + ch]!;
          const v01 = p01 < 0 ? cval : src[p01 + ch]!;
          const v10 = p10 < 0 ? cval : src[p10 + ch]!;
          const v11 = p11 < 0 ? cval : src[p11 + ch]!;
          // Taps with zero weight are skipped so an exact edge coordinate never mixes in cval.
          let v = 0;
          if (w00 !== 0) v += w00 * v00;
          if (w01 !== 0) v += w01 * v01;
          if (w10 !== 0) v += w10 * v10;
          if (w11 !== 0) v += w11 * v11;
          dst[o + ch] = v;
        }
      }
    }
  }
  return dst;
}
