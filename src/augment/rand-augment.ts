/**
 * Drawing the operations of RandAugment (Cubuk et al., 2019) and
 * TrivialAugment wide (Müller & Hutter, 2021) for one image, with
 * torchvision's op list and magnitude tables: 31 magnitude bins, 0..30.
 * The draws are plain ImageOp objects; applyImageOp applies them.
 *
 * RandAugment: N ops, each drawn uniformly from the list (repeats allowed),
 * all at magnitude bin M, signed ops with a random sign. timm's "m9" is on a
 * 0..10 scale: its m9 is about M 27 here.
 * TrivialAugment: one op, its magnitude bin drawn uniformly from 0..30,
 * from wider ranges.
 */
import type { Rng } from '../util/rng.js';
import { IMAGE_OPS, type ImageOp, type ImageOpName } from './image-ops.js';
import { MAX_MAGNITUDE, type RandAugmentOptions } from './options.js';

/** An op's argument at the top bin, whether it takes a random sign, and how its argument reads from a magnitude. */
interface OpRange {
  /** Magnitude at bin 30 (bins are spaced linearly from 0), given the image's [height, width]. */
  top: (h: number, w: number) => number;
  signed: boolean;
}

const ENHANCE_OPS: readonly ImageOpName[] = ['brightness', 'color', 'contrast', 'sharpness'];

function ranges(wide: boolean): Partial<Record<ImageOpName, OpRange>> {
  const enhance = wide ? 0.99 : 0.9;
  return {
    'shear-x': { top: () => (wide ? 0.99 : 0.3), signed: true },
    'shear-y': { top: () => (wide ? 0.99 : 0.3), signed: true },
    'translate-x': { top: (_h, w) => (wide ? 32 : (150 / 331) * w), signed: true },
    'translate-y': { top: (h) => (wide ? 32 : (150 / 331) * h), signed: true },
    rotate: { top: () => (wide ? 135 : 30), signed: true },
    ...Object.fromEntries(ENHANCE_OPS.map((op) => [op, { top: () => enhance, signed: true }])),
  };
}

/**
 * The argument of `op` at magnitude bin `m` (before any sign): degrees,
 * shear factor, pixels (truncated to whole ones), enhancement strength
 * (factor − 1), bits kept or solarize threshold.
 */
export function opMagnitude(op: ImageOpName, m: number, [h, w]: readonly [number, number], wide = false): number {
  if (op === 'posterize') return 8 - Math.round(m / (MAX_MAGNITUDE / (wide ? 6 : 4)));
  if (op === 'solarize') return 255 * (1 - m / MAX_MAGNITUDE);
  const range = ranges(wide)[op];
  if (!range) return 0;
  const v = (range.top(h, w) * m) / MAX_MAGNITUDE;
  return op === 'translate-x' || op === 'translate-y' ? Math.trunc(v) : v;
}

/** The ImageOp for `op` at bin `m`, with a random sign for the signed ops. */
function drawOp(op: ImageOpName, m: number, shape: readonly [number, number], wide: boolean, rng: Rng): ImageOp {
  let v = opMagnitude(op, m, shape, wide);
  if (ranges(wide)[op]?.signed && rng.next() < 0.5) v = -v;
  // Enhancement ops take a factor around 1; translations stay whole pixels (−0 becomes 0).
  return { op, value: ENHANCE_OPS.includes(op) ? 1 + v : v === 0 ? 0 : v };
}

/** RandAugment's ops for one image of [height, width]. */
export function sampleRandAugment(options: RandAugmentOptions, shape: readonly [number, number], rng: Rng): ImageOp[] {
  return Array.from({ length: options.numOps }, () => drawOp(IMAGE_OPS[rng.int(IMAGE_OPS.length)]!, options.magnitude, shape, false, rng));
}

/** Ops that take no magnitude (TrivialAugment draws no bin for them). */
const NO_MAGNITUDE: readonly ImageOpName[] = ['identity', 'autocontrast', 'equalize'];

/** TrivialAugment wide's single op for one image of [height, width]. */
export function sampleTrivialAugment(shape: readonly [number, number], rng: Rng): ImageOp[] {
  const op = IMAGE_OPS[rng.int(IMAGE_OPS.length)]!;
  const m = NO_MAGNITUDE.includes(op) ? 0 : rng.int(MAX_MAGNITUDE + 1);
  return [drawOp(op, m, shape, true, rng)];
}
