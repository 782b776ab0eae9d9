/**
 * The mini-Xception of Deep Learning with Python (2nd ed., 9.3.6) for cats
 * vs dogs, trained from scratch: Rescaling, a 5×5 Conv2D, then one block
 * per filter count of [BatchNormalization, ReLU, SeparableConv2D 3×3] × 2
 * and a 3×3/2 max-pool, with a strided 1×1 Conv2D residual added; global
 * average pooling, Dropout and a sigmoid or softmax Dense. About 0.72 M
 * parameters at the book's 180×180 with its filters 32…512.
 *
 * Pixels enter as RGB floats in [0, 255] (the first layer scales them), so a
 * saved model runs on raw pixels anywhere. The book puts its augmentation
 * layers in the model; convkit augments in the input pipeline instead, so
 * the model holds nothing that behaves differently in a browser.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { layerSeed } from './layer-seed.js';
import { checkBatchNormMomentum, checkClassifierOptions, positiveInts } from './builder-checks.js';

export interface MiniXceptionOptions {
  /** [height, width, channels]; default [180, 180, 3]. */
  inputShape?: readonly [number, number, number];
  /** 2 gives one sigmoid unit, more give a softmax layer; default 2. */
  numClasses?: number;
  /** Filters of the residual blocks, each halving the feature map; default [32, 64, 128, 256, 512]. */
  filters?: readonly number[];
  /** Filters of the first (5×5) convolution; default 32. */
  stemFilters?: number;
  /** Dropout rate before the classifier; default 0.5 (0 adds no Dropout layer). */
  dropout?: number;
  /** BatchNormalization's momentum (Keras's: moving ← momentum·moving + (1 − momentum)·batch); default Keras's 0.99. */
  batchNormMomentum?: number;
  /** Factor applied by the first (Rescaling) layer; default 1/255. */
  rescale?: number;
  /** Seeds every kernel initializer; default 1. */
  seed?: number;
  name?: string;
}

/** The smallest image side the model takes: the 5×5 convolution needs 5 px. */
const MIN_SIDE = 5;

export function miniXception(options: MiniXceptionOptions = {}): tf.LayersModel {
  const {
    inputShape = [180, 180, 3],
    numClasses = 2,
    filters = [32, 64, 128, 256, 512],
    stemFilters = 32,
    dropout = 0.5,
    batchNormMomentum = 0.99,
    rescale = 1 / 255,
    seed = 1,
    name = 'mini_xception',
  } = options;
  checkClassifierOptions({ inputShape, numClasses, dropout, minSide: MIN_SIDE });
  check(positiveInts(filters), 'filters', filters, 'a non-empty list of positive integers');
  check(Number.isInteger(stemFilters) && stemFilters >= 1, 'stemFilters', stemFilters, 'a positive integer');
  checkBatchNormMomentum(batchNormMomentum);

  const rng = createRng(seed);
  const glorot = () => tf.initializers.glorotUniform({ seed: layerSeed(rng) });
  const input = tf.input({ shape: [...inputShape], name: 'input' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

  let x = apply(tf.layers.rescaling({ scale: rescale, name: 'rescaling' }), input);
  x = apply(tf.layers.conv2d({ filters: stemFilters, kernelSize: 5, useBias: false, kernelInitializer: glorot(), name: 'stem_conv' }), x);
  filters.forEach((f, i) => {
    const block = `block${i + 1}`;
    const residual = x;
    for (const j of [1, 2]) {
      x = apply(tf.layers.batchNormalization({ momentum: batchNormMomentum, name: `${block}_bn${j}` }), x);
      x = apply(tf.layers.activation({ activation: 'relu', name: `${block}_relu${j}` }), x);
      x = apply(
        tf.layers.separableConv2d({
          filters: f,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          depthwiseInitializer: glorot(),
          pointwiseInitializer: glorot(),
          name: `${block}_sepconv${j}`,
        }),
        x,
      );
    }
    x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `${block}_pool` }), x);
    const shortcut = apply(
      tf.layers.conv2d({ filters: f, kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: glorot(), name: `${block}_residual` }),
      residual,
    );
    x = apply(tf.layers.add({ name: `${block}_add` }), [x, shortcut]);
  });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  if (dropout > 0) x = apply(tf.layers.dropout({ rate: dropout, name: 'dropout' }), x);
  const binary = numClasses === 2;
  const output = apply(
    tf.layers.dense({ units: binary ? 1 : numClasses, activation: binary ? 'sigmoid' : 'softmax', kernelInitializer: glorot(), name: 'predictions' }),
    x,
  );
  return tf.model({ inputs: input, outputs: output, name });
}
