/**
 * The per-image stage of a batch: each image's RandAugment/TrivialAugment
 * ops in order, then its random-erasing box. It runs on pixel values
 * 0..255 after the affine step (see applyTransform), image by image in JS.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { applyImageOp, type ImageOp } from './image-ops.js';
import { eraseImage, type ErasingParams } from './random-erasing.js';

/** One image's per-image stage (TransformParams carries both fields). */
export interface ImageOpsPlan {
  ops?: readonly ImageOp[];
  erasing?: ErasingParams | null;
}

/** True when the plan changes its image. */
export function hasImageOps(plan: ImageOpsPlan): boolean {
  return (plan.ops?.length ?? 0) > 0 || (plan.erasing ?? null) !== null;
}

/** Applies `plans[i]` to image i of `batch` [b, h, w, c]; returns a new float32 tensor (`batch` is not disposed). */
export function applyImageOps(batch: tf.Tensor4D, plans: readonly ImageOpsPlan[]): tf.Tensor4D {
  const [n, h, w, c] = batch.shape;
  check(Array.isArray(plans) && plans.length === n, 'plans', Array.isArray(plans) ? `${plans.length} plans` : typeof plans, `${n} plans, one per image`);
  const size = h * w * c;
  const src = batch.dataSync();
  const out = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    let img: Float32Array = Float32Array.from(src.subarray(i * size, (i + 1) * size));
    const plan = plans[i]!;
    for (const op of plan.ops ?? []) img = applyImageOp(img, [h, w, c], op);
    if (plan.erasing) eraseImage(img, [h, w, c], plan.erasing);
    out.set(img, i * size);
  }
  return tf.tensor4d(out, [n, h, w, c], 'float32');
}
