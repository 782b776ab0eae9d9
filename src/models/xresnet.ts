/**
 * A small ResNet in the style of fast.ai's xresnet18 (the Imagenette
 * leaderboard's family, "Bag of Tricks", He et al. 2019): a stem of three
 * 3×3 convolutions (32, 32, 64 filters, the first with stride 2) and a 3×3/2
 * max-pool, then stages of basic residual blocks ([2, 2, 2, 2], widths 64,
 * 128, 256, 512), global average pooling and a Dense classifier.
 *
 * Each block is conv-BN-ReLU, conv-BN added to its shortcut, then ReLU. The
 * last BatchNormalization of a block starts with γ = 0, so every block
 * starts as the identity; a downsampling shortcut average-pools (2×2/2)
 * before its 1×1 convolution instead of striding it, so it sees every pixel.
 * Convolutions have no bias (BatchNormalization follows) and He-normal
 * kernels. `widen` scales the stage widths (fastai's `widen`) for CPUs.
 *
 * Pixels enter as RGB floats in [0, 255]; the first layer maps them to
 * [-1, 1], so a saved model runs on raw pixels anywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { layerSeed } from './layer-seed.js';
import { checkBatchNormMomentum, checkClassifierOptions, positiveInts } from './builder-checks.js';

export interface XResNetOptions {
  /** [height, width, channels]; default [128, 128, 3]. */
  inputShape?: readonly [number, number, number];
  /** 2 gives one sigmoid unit, more give a softmax layer; default 2. */
  numClasses?: number;
  /** Residual blocks per stage; default [2, 2, 2, 2] (xresnet18). */
  blocks?: readonly number[];
  /** Filters of each stage before `widen`; default [64, 128, 256, 512]. */
  widths?: readonly number[];
  /** Multiplier of the stage widths (fastai's `widen`); default 1. */
  widen?: number;
  /** Filters of the three stem convolutions; default [32, 32, 64]. */
  stemWidths?: readonly number[];
  /** Dropout rate before the classifier; default 0 (no Dropout layer). */
  dropout?: number;
  /**
   * BatchNormalization's momentum in Keras's sense (moving ← momentum·moving + (1 − momentum)·batch);
   * default 0.9, PyTorch's and fastai's (their momentum 0.1): the moving averages follow the weights
   * within tens of steps, where Keras's 0.99 lags for the first epochs of a short run.
   */
  batchNormMomentum?: number;
  /** Seeds every kernel initializer; default 1. */
  seed?: number;
  name?: string;
}

export function xresnet(options: XResNetOptions = {}): tf.LayersModel {
  const {
    inputShape = [128, 128, 3],
    numClasses = 2,
    blocks = [2, 2, 2, 2],
    widths = [64, 128, 256, 512],
    widen = 1,
    stemWidths = [32, 32, 64],
    dropout = 0,
    batchNormMomentum = 0.9,
    seed = 1,
    name = 'xresnet',
  } = options;
  checkClassifierOptions({ inputShape, numClasses, dropout });
  check(positiveInts(blocks), 'blocks', blocks, 'a non-empty list of positive integers (residual blocks per stage)');
  check(positiveInts(widths) && widths.length === blocks.length, 'widths', widths, `${blocks.length} positive integers, one per stage`);
  check(Number.isFinite(widen) && widen > 0, 'widen', widen, 'a number > 0 (e.g. 0.5 halves every stage)');
  check(positiveInts(stemWidths), 'stemWidths', stemWidths, 'a non-empty list of positive integers');
  checkBatchNormMomentum(batchNormMomentum);

  const rng = createRng(seed);
  const he = () => tf.initializers.heNormal({ seed: layerSeed(rng) });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  /** Convolution (no bias) and BatchNormalization, then ReLU unless `relu` is false; `zeroGamma` starts γ at 0. */
  const convBn = (
    x: tf.SymbolicTensor,
    filters: number,
    name: string,
    o: { kernelSize?: number; strides?: number; relu?: boolean; zeroGamma?: boolean } = {},
  ) => {
    const { kernelSize = 3, strides = 1, relu = true, zeroGamma = false } = o;
    x = apply(tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: he(), name: `${name}_conv` }), x);
    x = apply(tf.layers.batchNormalization({ momentum: batchNormMomentum, gammaInitializer: zeroGamma ? 'zeros' : 'ones', name: `${name}_bn` }), x);
    return relu ? apply(tf.layers.activation({ activation: 'relu', name: `${name}_relu` }), x) : x;
  };

  const input = tf.input({ shape: [...inputShape], name: 'input' });
  let x = apply(tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: 'rescaling' }), input);
  stemWidths.forEach((f, i) => (x = convBn(x, f, `stem${i + 1}`, { strides: i === 0 ? 2 : 1 })));
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem_pool' }), x);
  let channels = stemWidths[stemWidths.length - 1]!;
  blocks.forEach((count, s) => {
    const width = Math.max(1, Math.round(widths[s]! * widen));
    for (let b = 0; b < count; b++) {
      const name = `stage${s + 1}_block${b + 1}`;
      const strides = s > 0 && b === 0 ? 2 : 1;
      let path = convBn(x, width, `${name}_1`, { strides });
      path = convBn(path, width, `${name}_2`, { relu: false, zeroGamma: true });
      let shortcut = x;
      if (strides > 1) shortcut = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `${name}_shortcut_pool` }), shortcut);
      if (channels !== width) shortcut = convBn(shortcut, width, `${name}_shortcut`, { kernelSize: 1, relu: false });
      x = apply(tf.layers.add({ name: `${name}_add` }), [path, shortcut]);
      x = apply(tf.layers.activation({ activation: 'relu', name: `${name}_relu` }), x);
      channels = width;
    }
  });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  if (dropout > 0) x = apply(tf.layers.dropout({ rate: dropout, name: 'dropout' }), x);
  const binary = numClasses === 2;
  const output = apply(
    tf.layers.dense({
      units: binary ? 1 : numClasses,
      activation: binary ? 'sigmoid' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed(rng) }),
      name: 'predictions',
    }),
    x,
  );
  return tf.model({ inputs: input, outputs: output, name });
}
