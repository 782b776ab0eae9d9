/**
 * Applying per-image transformations to a batch, deterministically, as
 * Keras's `apply_transform` does image by image: the affine step (with the
 * flips folded into its matrix), then the channel shift, then brightness;
 * then the per-image ops (RandAugment / TrivialAugment) and random erasing,
 * which work on the 0..255 pixel values the affine step leaves.
 */
import * as tf from '@tensorflow/tfjs';
import { activeNativeAddon } from '../backend/native.js';
import { ResampleFill } from '../backend/opcodes.js';
import { ConvkitError, check } from '../util/errors.js';
import { resolveFillOptions, type FillOptions } from './options.js';
import { isIdentityMatrix, transformMatrix } from './matrix.js';
import { resampleAffine } from './resample.js';
import { applyImageOps, hasImageOps } from './apply-ops.js';
import type { TransformParams } from './sample.js';

/**
 * Who resamples:
 * - 'native': the native backend's C++ resampler, all cores (the JS
 *   resampler's arithmetic; needs the native backend to be active);
 * - 'tfjs': `tf.image.transform` (TF.js's Transform kernel);
 * - 'js': convkit's JS resampler on the batch's data (the reference);
 * - 'auto' (default): 'native' on the native backend, the TF.js kernel where
 *   it is known to be right (wasm backend, fill 'constant' or 'nearest'), the
 *   JS resampler elsewhere.
 */
export type ResampleEngine = 'auto' | 'native' | 'tfjs' | 'js';

export interface ApplyOptions extends FillOptions {
  engine?: ResampleEngine;
}

const ENGINES: readonly ResampleEngine[] = ['auto', 'native', 'tfjs', 'js'];
/** The native resampler's fill codes, by fill mode name. */
const FILL_CODES: Record<string, ResampleFill> = {
  constant: ResampleFill.Constant,
  nearest: ResampleFill.Nearest,
  reflect: ResampleFill.Reflect,
  wrap: ResampleFill.Wrap,
};

function pickEngine(engine: ResampleEngine, fillMode: string): Exclude<ResampleEngine, 'auto'> {
  if (engine !== 'auto') return engine;
  if (activeNativeAddon()) return 'native';
  return tf.getBackend() === 'wasm' && (fillMode === 'constant' || fillMode === 'nearest') ? 'tfjs' : 'js';
}

/** The affine step alone: resamples every image with its 8-number matrix. */
export function resampleBatch(batch: tf.Tensor4D, matrices: readonly number[][], options: ApplyOptions = {}): tf.Tensor4D {
  const { fillMode, cval, interpolationOrder } = resolveFillOptions(options);
  const engine = options.engine ?? 'auto';
  check(ENGINES.includes(engine), 'engine', engine, `one of ${ENGINES.join(', ')}`);
  const [n, h, w, c] = batch.shape;
  check(
    matrices.length === n && matrices.every((m) => m.length === 8 && m[6] === 0 && m[7] === 0),
    'matrices',
    `${matrices.length} matrices`,
    `${n} affine matrices of 8 numbers (c0 = c1 = 0), one per image`,
  );
  const flat = matrices.flat();
  const picked = pickEngine(engine, fillMode);
  if (picked === 'js' || picked === 'native') {
    // Both read the batch's own typed array (no copy on the cpu-based backends).
    const src = batch.dtype === 'float32' ? (batch.dataSync() as Float32Array) : Float32Array.from(batch.dataSync());
    if (picked === 'js') return tf.tensor4d(resampleAffine(src, [n, h, w, c], flat, fillMode, cval, interpolationOrder), [n, h, w, c], 'float32');
    const addon = activeNativeAddon();
    if (!addon)
      throw new ConvkitError(
        `engine 'native' needs the native backend (TF.js is on ${JSON.stringify(tf.getBackend())})`,
        "use engine 'auto', or initBackend('native') first",
      );
    const out = new Float32Array(src.length);
    addon.resample(Int32Array.of(n, h, w, c, FILL_CODES[fillMode]!, interpolationOrder), Float64Array.from(flat), cval, src, out);
    return tf.tensor4d(out, [n, h, w, c], 'float32');
  }
  const interpolation = interpolationOrder === 1 ? 'bilinear' : 'nearest';
  return tf.tidy(() => {
    const x = batch.toFloat();
    if (tf.getBackend() === 'wasm' || n === 1) {
      return tf.image.transform(x, tf.tensor2d(flat, [n, 8]), interpolation, fillMode, cval) as tf.Tensor4D;
    }
    // The cpu kernel (also registered by convkit's native backend) only
    // transforms the first image of a batch: one call per image.
    const parts = tf
      .unstack(x)
      .map((img, i) => tf.image.transform(img.expandDims(0) as tf.Tensor4D, tf.tensor2d(matrices[i]!, [1, 8]), interpolation, fillMode, cval));
    return tf.concat(parts, 0) as tf.Tensor4D;
  });
}

/**
 * Applies `transforms[i]` to image i of `batch` ([b, h, w, c], pixel values
 * 0..255 for brightness and the per-image ops to mean what they mean). Returns a new float32
 * tensor; `batch` is not disposed.
 */
export function applyTransform(batch: tf.Tensor4D, transforms: readonly TransformParams[], options: ApplyOptions = {}): tf.Tensor4D {
  if (!(batch instanceof tf.Tensor) || batch.rank !== 4) {
    throw new ConvkitError(
      `applyTransform needs a batch tensor [b, h, w, c], got ${batch instanceof tf.Tensor ? `shape [${batch.shape.join(', ')}]` : typeof batch}`,
      'add a batch axis, e.g. image.expandDims(0)',
    );
  }
  const [n, h, w] = batch.shape;
  check(
    Array.isArray(transforms) && transforms.length === n,
    'transforms',
    `${Array.isArray(transforms) ? transforms.length : typeof transforms} transforms`,
    `an array of ${n} TransformParams, one per image`,
  );
  resolveFillOptions(options);
  check(ENGINES.includes(options.engine ?? 'auto'), 'engine', options.engine, `one of ${ENGINES.join(', ')}`);
  const matrices = transforms.map((t) => transformMatrix(t, [h, w]));
  return tf.tidy(() => {
    let x: tf.Tensor4D = matrices.every(isIdentityMatrix) ? batch.toFloat() : resampleBatch(batch, matrices, options);
    if (transforms.some((t) => t.channelShiftIntensity !== null)) {
      // Keras clips to the (transformed) image's own min and max over all channels.
      const shift = tf.tensor4d(
        transforms.map((t) => t.channelShiftIntensity ?? 0),
        [n, 1, 1, 1],
      );
      const lo = x.min([1, 2, 3], true),
        hi = x.max([1, 2, 3], true);
      x = x.add(shift).maximum(lo).minimum(hi);
    }
    if (transforms.some((t) => t.brightness !== null)) {
      // Keras works in 0..255 (PIL); an image outside that range is first mapped
      // linearly from its own min..max to 0..255 and back afterwards.
      const f = tf.tensor4d(
        transforms.map((t) => t.brightness ?? 1),
        [n, 1, 1, 1],
      );
      const mn = x.min([1, 2, 3], true),
        mx = x.max([1, 2, 3], true);
      const outside = mn.less(0).logicalOr(mx.greater(255));
      const lo = tf.where(outside, mn, tf.zerosLike(mn)),
        hi = tf.where(outside, mx, tf.fill(mx.shape, 255));
      const span = hi.sub(lo);
      x = x.sub(lo).mul(f).maximum(0).minimum(span).add(lo);
    }
    if (transforms.some(hasImageOps)) x = applyImageOps(x, transforms);
    return x;
  });
}
