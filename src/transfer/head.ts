/**
 * The classifier head put on a pretrained base (the book's densely connected
 * classifier: pooling or Flatten, Dense 256 relu, Dropout 0.5, output), and
 * stitching a trained head onto its base into one complete classifier.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { graphOf, layerOutput, reapply } from './graph.js';

export type Pooling = 'flatten' | 'avg';

export interface HeadOptions {
  /** Number of classes; 2 gives one sigmoid unit unless `binary` is false. */
  numClasses: number;
  /** One sigmoid unit for two classes (Keras class_mode "binary"). Default true. */
  binary?: boolean;
  /** How the feature map becomes a vector. Default: `defaultPooling(featureShape)`. */
  pooling?: Pooling;
  units?: number;
  dropout?: number;
  /** Seeds the initializers (and the dropout masks). */
  rng?: Rng;
  /** Prefix of the head's layer names (default "head"). */
  name?: string;
}

/** Flatten for small feature maps (the book's VGG16 4×4×512), global average pooling for big ones. */
export function defaultPooling(featureShape: readonly number[]): Pooling {
  return featureShape.length < 3 || featureShape.reduce((a, b) => a * b, 1) <= 8192 ? 'flatten' : 'avg';
}

/** Output layer and loss for `numClasses` classes. */
export function outputSpec(numClasses: number, binary = true): { units: number; activation: 'sigmoid' | 'softmax'; loss: string } {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new ConvkitError(`a classifier needs at least 2 classes, got ${numClasses}`, 'the data folder must hold one sub-folder per class');
  }
  return numClasses === 2 && binary
    ? { units: 1, activation: 'sigmoid', loss: 'binaryCrossentropy' }
    : { units: numClasses, activation: 'softmax', loss: 'categoricalCrossentropy' };
}

/** A head model taking a feature map of shape `featureShape` (no batch axis). */
export function buildHead(featureShape: readonly number[], options: HeadOptions): tf.LayersModel {
  const { numClasses, binary = true, units = 256, dropout = 0.5, rng, name = 'head' } = options;
  const pooling = options.pooling ?? defaultPooling(featureShape);
  const seed = (): number | undefined => (rng ? rng.int(2 ** 31) : undefined);
  const out = outputSpec(numClasses, binary);
  const input = tf.input({ shape: [...featureShape], name: `${name}_input` });
  let x: tf.SymbolicTensor = input;
  if (featureShape.length === 3) {
    x = (pooling === 'avg' ? tf.layers.globalAveragePooling2d({ name: `${name}_pool` }) : tf.layers.flatten({ name: `${name}_flatten` })).apply(
      x,
    ) as tf.SymbolicTensor;
  } else if (featureShape.length !== 1) {
    x = tf.layers.flatten({ name: `${name}_flatten` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers
    .dense({ units, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }), name: `${name}_dense` })
    .apply(x) as tf.SymbolicTensor;
  if (dropout > 0) x = tf.layers.dropout({ rate: dropout, seed: seed(), name: `${name}_dropout` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: out.units, activation: out.activation, kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }), name: `${name}_output` })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name });
}

/**
 * One flat classifier: `base`'s inputs through `head`'s layers (shared
 * objects, so the head's trained weights come along). It saves and loads
 * like any functional model.
 */
export function stitch(base: tf.LayersModel, head: tf.LayersModel, name = 'classifier'): tf.LayersModel {
  const b = graphOf(base),
    h = graphOf(head);
  if (b.outputs.length !== 1 || h.inputs.length !== 1)
    throw new ConvkitError('stitch: the base needs one output and the head one input', 'truncate the base at its feature layer');
  const [bs, hs] = [b.outputs[0]!.shape.slice(1), h.inputs[0]!.shape.slice(1)];
  if (bs.length !== hs.length || bs.some((d, i) => hs[i] != null && d !== hs[i])) {
    throw new ConvkitError(
      `stitch: the base outputs ${JSON.stringify(bs)} but the head takes ${JSON.stringify(hs)}`,
      "build the head for this base's feature shape",
    );
  }
  const mapped = new Map<number, tf.SymbolicTensor>([[h.inputs[0]!.id, b.outputs[0]!]]);
  const outs = reapply(head, mapped, (layer) => {
    throw new ConvkitError(`stitch: head layer ${layer.name} has inputs besides the features`, 'use a head with a single input');
  });
  return tf.model({ inputs: b.inputs, outputs: outs.length === 1 ? outs[0]! : (outs as tf.SymbolicTensor[]), name });
}

/** `model` truncated at `layerName` (the feature extractor of a pretrained classifier). */
export function truncate(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const graph = graphOf(model);
  if (graph.outputs.length === 1 && graph.outputs[0]!.sourceLayer.name === layerName) return model;
  const layer = graph.layers.find((l) => l.name === layerName);
  if (!layer) throw new ConvkitError(`the base has no layer "${layerName}"`, 'check the feature layer name in the base registry');
  return tf.model({ inputs: graph.inputs, outputs: layerOutput(model, layerName), name: `${model.name}_features` });
}
