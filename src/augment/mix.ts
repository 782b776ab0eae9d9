/**
 * MixUp (Zhang et al., 2018) and CutMix (Yun et al., 2019) on a training
 * batch with its labels, as the papers' code does it: one λ ~ Beta(α, α)
 * per batch and a random pairing (a permutation of the batch).
 *
 * - MixUp: x = λ·x + (1 − λ)·x[perm], y = λ·y + (1 − λ)·y[perm].
 * - CutMix: a box of about (1 − λ) of the image, centred at a uniformly
 *   drawn pixel and clipped to the image, is pasted from x[perm]; λ is then
 *   corrected to the area actually kept, and y = λ·y + (1 − λ)·y[perm].
 *
 * Labels are soft targets: one-hot rows [b, n] or binary [b, 1] probabilities.
 * The draw (sampleMix) is a plain object; applyMix applies it.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { sampleBeta } from './beta.js';

export interface MixOptions {
  /** MixUp α: λ ~ Beta(α, α); 0 or absent: no MixUp (0.2–0.4 are usual). */
  mixup?: number;
  /** CutMix α: λ ~ Beta(α, α); 0 or absent: no CutMix (1 is usual). */
  cutmix?: number;
  /** With both: probability that a batch gets CutMix rather than MixUp (default 0.5, timm's switch_prob). */
  switchProb?: number;
  /** Probability that a batch is mixed at all (default 1, timm's mixup_prob). */
  prob?: number;
}

/** The pasted box of CutMix: rows top..top+height, columns left..left+width. */
export interface MixBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** One batch's mix. */
export interface MixParams {
  kind: 'mixup' | 'cutmix';
  /** Weight of each example's own label (CutMix: the fraction of its own pixels kept). */
  lambda: number;
  /** Example i is mixed with example permutation[i]. */
  permutation: number[];
  /** CutMix's box. */
  box?: MixBox;
}

/** A batch-level transform of images and soft targets [b, k], driven by a seeded Rng. */
export type BatchMix = (x: tf.Tensor4D, y: tf.Tensor2D, rng: Rng) => { x: tf.Tensor4D; y: tf.Tensor2D };

interface ResolvedMix {
  mixup: number;
  cutmix: number;
  switchProb: number;
  prob: number;
}

function resolveMixOptions(options: MixOptions): ResolvedMix {
  check(typeof options === 'object' && options !== null, 'mix options', options, 'an object { mixup?, cutmix?, switchProb?, prob? }');
  const { mixup = 0, cutmix = 0, switchProb = 0.5, prob = 1 } = options;
  const alpha = 'a number ≥ 0 (the Beta distribution’s α; 0 = off)';
  check(Number.isFinite(mixup) && mixup >= 0, 'mixup', mixup, alpha);
  check(Number.isFinite(cutmix) && cutmix >= 0, 'cutmix', cutmix, alpha);
  check(Number.isFinite(switchProb) && switchProb >= 0 && switchProb <= 1, 'switchProb', switchProb, 'a probability in [0, 1]');
  check(Number.isFinite(prob) && prob >= 0 && prob <= 1, 'prob', prob, 'a probability in [0, 1]');
  if (mixup === 0 && cutmix === 0) throw new ConvkitError('neither mixup nor cutmix is set', 'give mixup or cutmix an α > 0, e.g. { mixup: 0.2 }');
  return { mixup, cutmix, switchProb, prob };
}

/**
 * CutMix's box for weight λ on an image of [height, width], centred at
 * (cy, cx): sides ⌊h·√(1−λ)⌋ × ⌊w·√(1−λ)⌋, clipped to the image; and λ
 * corrected to the area kept.
 */
export function cutMixBox(lambda: number, [h, w]: readonly [number, number], cy: number, cx: number): { box: MixBox; lambda: number } {
  const ratio = Math.sqrt(1 - lambda);
  const cutH = Math.floor(h * ratio),
    cutW = Math.floor(w * ratio);
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  const top = clamp(cy - Math.floor(cutH / 2), h),
    bottom = clamp(cy + Math.floor(cutH / 2), h);
  const left = clamp(cx - Math.floor(cutW / 2), w),
    right = clamp(cx + Math.floor(cutW / 2), w);
  const box = { top, left, height: bottom - top, width: right - left };
  return { box, lambda: 1 - (box.height * box.width) / (h * w) };
}

/** Draws one batch's mix for `batchSize` images of [height, width], or null (batch left as it is, with probability 1 − prob). */
export function sampleMix(options: MixOptions, batchSize: number, [h, w]: readonly [number, number], rng: Rng): MixParams | null {
  const o = resolveMixOptions(options);
  check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', batchSize, 'an integer ≥ 1');
  if (o.prob < 1 && rng.next() >= o.prob) return null;
  const useCutMix = o.cutmix > 0 && (o.mixup === 0 || rng.next() < o.switchProb);
  const alpha = useCutMix ? o.cutmix : o.mixup;
  const lambda = sampleBeta(alpha, alpha, rng);
  const permutation = rng.shuffle(Array.from({ length: batchSize }, (_, i) => i));
  if (!useCutMix) return { kind: 'mixup', lambda, permutation };
  const cy = rng.int(h),
    cx = rng.int(w);
  return { kind: 'cutmix', permutation, ...cutMixBox(lambda, [h, w], cy, cx) };
}

/** Applies a mix to images x [b, h, w, c] and soft targets y [b, k]; returns new tensors (inputs not disposed). */
export function applyMix(x: tf.Tensor4D, y: tf.Tensor2D, params: MixParams): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const [b, h, w] = x.shape;
  check(y.rank === 2 && y.shape[0] === b, 'y', `shape [${y.shape.join(', ')}]`, `soft targets [${b}, classes] (one-hot rows, or [${b}, 1] for binary)`);
  const { lambda, permutation } = params;
  check(
    permutation.length === b && [...permutation].sort((p, q) => p - q).every((v, i) => v === i),
    'permutation',
    permutation,
    `a permutation of 0..${b - 1}`,
  );
  check(Number.isFinite(lambda) && lambda >= 0 && lambda <= 1, 'lambda', lambda, 'a number in [0, 1]');
  return tf.tidy(() => {
    const order = tf.tensor1d(permutation, 'int32');
    const xf = x.toFloat(),
      yf = y.toFloat();
    const xOther = tf.gather(xf, order),
      yOther = tf.gather(yf, order);
    const yMixed = yf.mul(lambda).add(yOther.mul(1 - lambda)) as tf.Tensor2D;
    if (params.kind === 'mixup') return { x: xf.mul(lambda).add(xOther.mul(1 - lambda)) as tf.Tensor4D, y: yMixed };
    const box = params.box;
    if (!box) throw new ConvkitError('a cutmix draw has no box', 'draw it with sampleMix or give box {top, left, height, width}');
    const mask = new Float32Array(h * w);
    for (let r = box.top; r < Math.min(h, box.top + box.height); r++) mask.fill(1, r * w + box.left, r * w + Math.min(w, box.left + box.width));
    const m = tf.tensor4d(mask, [1, h, w, 1]);
    return { x: tf.where(m.cast('bool').broadcastTo(xf.shape), xOther, xf) as tf.Tensor4D, y: yMixed };
  });
}

/** A BatchMix drawing from `options` (see MixOptions); fit() applies it to training batches only. */
export function batchMixer(options: MixOptions): BatchMix {
  resolveMixOptions(options);
  return (x, y, rng) => {
    const params = sampleMix(options, x.shape[0], [x.shape[1], x.shape[2]], rng);
    return params ? applyMix(x, y, params) : { x: x.toFloat(), y: y.toFloat() };
  };
}

/** How training labels arrive (fit's label modes). */
type LabelMode = 'binary' | 'categorical' | 'sparse';

/**
 * A training batch mixed by `mix`: labels (as fit prepares them: binary
 * [b, 1], one-hot [b, n] or integer [b]) become soft targets first, so the
 * loss to use is 'categorical' for sparse labels and unchanged otherwise.
 */
export function mixLabeledBatch(
  mix: BatchMix,
  x: tf.Tensor4D,
  labels: tf.Tensor,
  mode: LabelMode,
  units: number,
  rng: Rng,
): { x: tf.Tensor4D; y: tf.Tensor2D; mode: Exclude<LabelMode, 'sparse'> } {
  const soft = tf.tidy(() =>
    mode === 'sparse'
      ? tf.oneHot(labels.reshape([-1]).toInt() as tf.Tensor1D, units).toFloat()
      : (labels.reshape([labels.shape[0]!, -1]).toFloat() as tf.Tensor2D),
  );
  let out: { x: tf.Tensor4D; y: tf.Tensor2D } | undefined;
  try {
    out = mix(x, soft as tf.Tensor2D, rng);
    return { ...out, mode: mode === 'sparse' ? 'categorical' : mode };
  } finally {
    if (out?.y !== soft) soft.dispose();
  }
}
