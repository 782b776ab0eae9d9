/**
 * The book's small convnet for 150×150 images: four Conv2D/MaxPooling2D
 * stages, Flatten, optional Dropout, Dense(512) and a sigmoid or softmax
 * head. Pixels enter as RGB floats in [0, 255]; a Rescaling layer scales them
 * inside the model, so the saved model runs on raw pixels anywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { layerSeed } from './layer-seed.js';
import { checkClassifierOptions } from './builder-checks.js';

export interface SmallCnnOptions {
  /** [height, width, channels]; default [150, 150, 3]. */
  inputShape?: readonly [number, number, number];
  /** 2 gives one sigmoid unit, more give a softmax layer; default 2. */
  numClasses?: number;
  /** Dropout rate before the Dense(512) layer; 0 or omitted adds no Dropout layer. */
  dropout?: number;
  /** Factor applied by the first (Rescaling) layer; default 1/255. */
  rescale?: number;
  /** Filters of the four conv stages; default [32, 64, 128, 128]. */
  filters?: readonly number[];
  /** Units of the hidden Dense layer; default 512. */
  denseUnits?: number;
  /** Seeds every kernel initializer (and the Dropout layer's default seed); default 1. */
  seed?: number;
  name?: string;
}

export function smallCnn(options: SmallCnnOptions = {}): tf.Sequential {
  const {
    inputShape = [150, 150, 3],
    numClasses = 2,
    dropout = 0,
    rescale = 1 / 255,
    filters = [32, 64, 128, 128],
    denseUnits = 512,
    seed = 1,
    name = 'small_cnn',
  } = options;
  checkClassifierOptions({ inputShape, numClasses, dropout });
  // Each conv block with 'valid' padding loses 2 px and then halves.
  let side = Math.min(inputShape[0], inputShape[1]);
  for (let i = 0; i < filters.length; i++) side = Math.floor((side - 2) / 2);
  check(side >= 1, 'inputShape', inputShape, `at least ${minSmallCnnSide(filters.length)} px on each side for ${filters.length} conv stages`);

  const rng = createRng(seed);
  const kernel = () => tf.initializers.glorotUniform({ seed: layerSeed(rng) });
  const model = tf.sequential({ name });
  model.add(tf.layers.rescaling({ scale: rescale, inputShape: [...inputShape], name: 'rescaling' }));
  filters.forEach((f, i) => {
    model.add(tf.layers.conv2d({ filters: f, kernelSize: 3, activation: 'relu', kernelInitializer: kernel(), name: `conv2d_${i + 1}` }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, name: `max_pooling2d_${i + 1}` }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout, name: 'dropout' }));
  model.add(tf.layers.dense({ units: denseUnits, activation: 'relu', kernelInitializer: kernel(), name: 'dense_1' }));
  const binary = numClasses === 2;
  model.add(tf.layers.dense({ units: binary ? 1 : numClasses, activation: binary ? 'sigmoid' : 'softmax', kernelInitializer: kernel(), name: 'dense_2' }));
  return model;
}

/** Smallest image side the conv stack accepts. */
export function minSmallCnnSide(stages = 4): number {
  let side = 1;
  for (let i = 0; i < stages; i++) side = side * 2 + 2;
  return side;
}
