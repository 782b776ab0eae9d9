/**
 * The operations RandAugment and TrivialAugment draw from (the standard
 * list, with torchvision's definitions), each applied deterministically to
 * one channels-last image of pixel values 0..255 in plain JS.
 *
 * - Colour ops blend the image with a "degenerate" one and clip to 0..255,
 *   as PIL's ImageEnhance: brightness (black), color (its grey version),
 *   contrast (its mean grey), sharpness (its 3×3 smoothed version, borders
 *   kept).
 * - posterize and equalize work on 8-bit codes: values are first rounded to
 *   the nearest integer in 0..255. The other ops keep fractional values.
 * - Geometric ops resample with the nearest pixel (torchvision's default)
 *   and fill uncovered pixels with mid-grey OP_FILL.
 */
import { check } from '../util/errors.js';
import { resampleAffine } from './resample.js';

export const IMAGE_OPS = [
  'identity',
  'autocontrast',
  'equalize',
  'rotate',
  'solarize',
  'color',
  'posterize',
  'contrast',
  'brightness',
  'sharpness',
  'shear-x',
  'shear-y',
  'translate-x',
  'translate-y',
] as const;

export type ImageOpName = (typeof IMAGE_OPS)[number];

/**
 * One operation and its argument:
 * - rotate: degrees, counter-clockwise about the centre;
 * - shear-x / shear-y: shear factor s; the output pixel (x, y) shows the
 *   input at (x + s·y, y) / (x, y + s·x), sheared from the top-left corner
 *   as PIL and torchvision do;
 * - translate-x / translate-y: whole pixels, content moves right / down;
 * - brightness, color, contrast, sharpness: enhancement factor (1 = unchanged);
 * - posterize: bits kept (0..8); solarize: threshold (values ≥ it are inverted);
 * - identity, autocontrast, equalize: no argument (0).
 */
export interface ImageOp {
  op: ImageOpName;
  value: number;
}

/** Fill value of pixels that a geometric op leaves uncovered (mid-grey, close to timm's ImageNet-mean fill). */
export const OP_FILL = 128;

export type ImageShape = readonly [height: number, width: number, channels: number];

const clip = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
const code = (v: number): number => Math.round(clip(v));

/** f·v + (1 − f)·degenerate, clipped; `degenerate(i)` is the blend partner of element i. */
function blend(src: Float32Array, f: number, degenerate: (i: number) => number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = clip(f * src[i]! + (1 - f) * degenerate(i));
  return out;
}

/** Luma of each pixel (ITU-R 601, as PIL's "L" conversion). */
function grey(src: Float32Array, c: number): Float32Array {
  const n = src.length / c,
    out = new Float32Array(n);
  for (let p = 0; p < n; p++) out[p] = 0.299 * src[p * c]! + 0.587 * src[p * c + 1]! + 0.114 * src[p * c + 2]!;
  return out;
}

/** The image smoothed by [[1,1,1],[1,5,1],[1,1,1]]/13, its border pixels unchanged (PIL's SMOOTH filter, as torchvision). */
function smoothed(src: Float32Array, [h, w, c]: ImageShape): Float32Array {
  const out = Float32Array.from(src);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let ch = 0; ch < c; ch++) {
        let sum = 4 * src[(y * w + x) * c + ch]!;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += src[((y + dy) * w + x + dx) * c + ch]!;
        out[(y * w + x) * c + ch] = sum / 13;
      }
    }
  }
  return out;
}

/** Per channel, min..max stretched to 0..255 (a constant channel is left as it is). */
function autocontrast(src: Float32Array, c: number): Float32Array {
  const out = Float32Array.from(src);
  for (let ch = 0; ch < c; ch++) {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = ch; i < src.length; i += c) {
      lo = Math.min(lo, src[i]!);
      hi = Math.max(hi, src[i]!);
    }
    if (!(hi > lo)) continue;
    const scale = 255 / (hi - lo);
    for (let i = ch; i < src.length; i += c) out[i] = clip((src[i]! - lo) * scale);
  }
  return out;
}

/**
 * Per-channel histogram equalization of the 8-bit codes, exactly as the
 * RandAugment reference (TF's autoaugment.py, torchvision): step =
 * ⌊(pixels − count of the top code) / 255⌋; code i maps to
 * ⌊(pixels below i + ⌊step/2⌋) / step⌋, clipped to 255; step 0 leaves the channel.
 */
function equalize(src: Float32Array, c: number): Float32Array {
  const out = Float32Array.from(src);
  const n = src.length / c;
  for (let ch = 0; ch < c; ch++) {
    const hist = new Array<number>(256).fill(0);
    for (let i = ch; i < src.length; i += c) hist[code(src[i]!)]!++;
    let top = 0;
    for (let v = 255; v >= 0; v--)
      if (hist[v]! > 0) {
        top = hist[v]!;
        break;
      }
    const step = Math.floor((n - top) / 255);
    if (step === 0) continue;
    const lut = new Array<number>(256);
    let below = 0;
    for (let v = 0; v < 256; v++) {
      lut[v] = Math.min(255, Math.floor((below + Math.floor(step / 2)) / step));
      below += hist[v]!;
    }
    for (let i = ch; i < src.length; i += c) out[i] = lut[code(src[i]!)]!;
  }
  return out;
}

/** Resamples with an output → input affine matrix (8 numbers), nearest pixel, OP_FILL outside. */
function affine(src: Float32Array, [h, w, c]: ImageShape, m: readonly number[]): Float32Array {
  return resampleAffine(src, [1, h, w, c], m, 'constant', OP_FILL, 0);
}

/** Counter-clockwise rotation by `degrees` about the image centre, as an output → input matrix. */
function rotation(degrees: number, [h, w]: ImageShape): number[] {
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t),
    sin = Math.sin(t);
  const cx = (w - 1) / 2,
    cy = (h - 1) / 2;
  return [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0, 0];
}

function checkOp(op: ImageOp): void {
  check(typeof op === 'object' && op !== null && IMAGE_OPS.includes(op.op), 'op', op?.op, `one of ${IMAGE_OPS.join(', ')}`);
  check(typeof op.value === 'number' && Number.isFinite(op.value), `${op.op} value`, op.value, 'a finite number');
  if (op.op === 'posterize') check(Number.isInteger(op.value) && op.value >= 0 && op.value <= 8, 'posterize value', op.value, 'an integer number of bits 0..8');
  if (op.op === 'brightness' || op.op === 'color' || op.op === 'contrast' || op.op === 'sharpness')
    check(op.value >= 0, `${op.op} value`, op.value, 'a factor ≥ 0 (1 = unchanged)');
}

/** Applies one op to one image [h, w, c] (row-major floats 0..255); returns a new array. */
export function applyImageOp(src: Float32Array, shape: ImageShape, op: ImageOp): Float32Array {
  checkOp(op);
  const [h, w, c] = shape;
  const v = op.value;
  switch (op.op) {
    case 'identity':
      return Float32Array.from(src);
    case 'brightness':
      return blend(src, v, () => 0);
    case 'color': {
      // Saturation: a single-channel image has no colour to change.
      if (c !== 3) return Float32Array.from(src);
      const g = grey(src, c);
      return blend(src, v, (i) => g[Math.floor(i / c)]!);
    }
    case 'contrast': {
      const g = c === 3 ? grey(src, c) : src;
      const mean = g.reduce((s, x) => s + x, 0) / g.length;
      return blend(src, v, () => mean);
    }
    case 'sharpness': {
      if (h < 3 || w < 3) return Float32Array.from(src);
      const d = smoothed(src, shape);
      return blend(src, v, (i) => d[i]!);
    }
    case 'posterize': {
      const mask = (0xff << (8 - v)) & 0xff;
      return src.map((x) => code(x) & mask);
    }
    case 'solarize':
      return src.map((x) => (x >= v ? 255 - x : x));
    case 'autocontrast':
      return autocontrast(src, c);
    case 'equalize':
      return equalize(src, c);
    case 'rotate':
      return affine(src, shape, rotation(v, shape));
    case 'shear-x':
      return affine(src, shape, [1, v, 0, 0, 1, 0, 0, 0]);
    case 'shear-y':
      return affine(src, shape, [1, 0, 0, v, 1, 0, 0, 0]);
    case 'translate-x':
      return affine(src, shape, [1, 0, -v, 0, 1, 0, 0, 0]);
    case 'translate-y':
      return affine(src, shape, [1, 0, 0, 0, 1, -v, 0, 0]);
  }
}
