/**
 * MobileNet v1 (alpha 0.75, ImageNet) from the TF.js layers files Google
 * published, rebuilt as a convkit model: raw RGB pixels 0..255 in, a
 * rescaling layer to [-1, 1] first, any input size.
 *
 * The BatchNormalization layers are folded into the convolutions before
 * them (kernel × γ/√(σ²+ε), bias β − μ·γ/√(σ²+ε)). TF.js BatchNormalization
 * ignores `trainable`: under fit() it normalizes with batch statistics and
 * rewrites its moving averages even when frozen, unlike Keras 2.x/3. With the
 * folds there is no BatchNormalization left, so a frozen base stays exactly
 * the network that was trained, and an unfrozen block fine-tunes its conv
 * weights only (Keras's advice: keep BN in inference mode when fine-tuning).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { loadLayersModelFromFile } from './fs-io.js';

export const MOBILENET_V1_DIR = 'mobilenet_v1_0.75_224';
/** Last layer of the convolutional base (7×7×768 at 224 px). */
export const MOBILENET_V1_FEATURE_LAYER = 'conv_pw_13_relu';

export interface MobileNetV1Options {
  /** Folder with model.json, its shards and metadata.json. */
  path: string;
  /** [height, width]; any size ≥ 32 works for the base (default 224×224). */
  inputSize?: readonly [number, number];
  /** Keep the 1000-class ImageNet classifier (softmax probabilities). Default false. */
  includeTop?: boolean;
  /** Fold BatchNormalization into the convolutions (default true; see the file comment). */
  foldBatchNorm?: boolean;
}

type LayerClass = { fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.layers.Layer };

function cloneLayer(layer: tf.layers.Layer, patch: tf.serialization.ConfigDict = {}): tf.layers.Layer {
  const cls = layer.constructor as unknown as LayerClass;
  return cls.fromConfig(cls, { ...layer.getConfig(), ...patch });
}

/** The activation of an Activation layer a convolution can run in its own kernel (relu6, relu), else undefined. */
function fusableActivation(layer: tf.layers.Layer | undefined): string | undefined {
  if (layer?.getClassName() !== 'Activation') return undefined;
  const activation = (layer.getConfig() as { activation?: string }).activation;
  return activation === 'relu6' || activation === 'relu' ? activation : undefined;
}

/** Conv/depthwise weights with the following BatchNormalization folded in. */
function foldBn(conv: tf.layers.Layer, bn: tf.layers.Layer): tf.Tensor[] {
  return tf.tidy(() => {
    const cfg = bn.getConfig() as { epsilon: number; center: boolean; scale: boolean; axis: number | number[] };
    const w = bn.getWeights();
    let i = 0;
    const gamma = cfg.scale ? w[i++] : null;
    const beta = cfg.center ? w[i++] : null;
    const mean = w[i++],
      variance = w[i++];
    const factor = tf.div(gamma ?? tf.onesLike(mean), tf.sqrt(tf.add(variance, cfg.epsilon)));
    const [kernel, oldBias] = conv.getWeights();
    const depthwise = conv.getClassName() === 'DepthwiseConv2D';
    // depthwise kernel is [kh, kw, channels, multiplier]; output channel = c*multiplier + m.
    const newKernel = depthwise ? tf.mul(kernel, tf.reshape(factor, [1, 1, kernel.shape[2]!, kernel.shape[3]!])) : tf.mul(kernel, factor);
    const shifted = tf.sub(oldBias ?? tf.zerosLike(mean), mean);
    const bias = tf.add(tf.mul(shifted, factor), beta ?? tf.zerosLike(mean));
    return [newKernel, bias];
  });
}

/** Reads the 1000 ImageNet labels shipped with the model (metadata.json). */
export function readMobileNetV1Labels(path: string): string[] {
  const file = join(path, 'metadata.json');
  if (!existsSync(file)) throw new ConvkitError(`labels not found: ${file}`, 'copy metadata.json from the MobileNet v1 model folder');
  const labels = (JSON.parse(readFileSync(file, 'utf8')) as { labels?: string[] }).labels;
  if (!Array.isArray(labels) || labels.length !== 1000)
    throw new ConvkitError(`${file} does not hold 1000 labels`, 'use the metadata.json published with the model');
  return labels;
}

/**
 * Loads MobileNet v1 as a functional tf.LayersModel taking [batch, h, w, 3]
 * RGB pixels in 0..255. Without the top its output is conv_pw_13_relu.
 */
export async function loadMobileNetV1(options: MobileNetV1Options): Promise<tf.LayersModel> {
  const { path, inputSize = [224, 224], includeTop = false, foldBatchNorm = true } = options;
  if (!existsSync(join(path, 'model.json'))) {
    throw new ConvkitError(
      `MobileNet v1 not found: ${join(path, 'model.json')}`,
      `place the TF.js files of ${MOBILENET_V1_DIR} (model.json, group*-shard*, metadata.json) in ${path}`,
    );
  }
  const [h, w] = inputSize;
  if (!(h >= 32 && w >= 32))
    throw new ConvkitError(`invalid inputSize ${h}×${w} for MobileNet v1`, 'use at least 32×32 px (224×224 is what it was trained on)');
  const source = await loadLayersModelFromFile(path);
  try {
    const input = tf.input({ shape: [h, w, 3], name: 'input_1' });
    let x = tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: 'rescaling' }).apply(input) as tf.SymbolicTensor;
    const pending: [tf.layers.Layer, tf.Tensor[]][] = [];
    const layers = source.layers;
    let reachedFeature = false;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i],
        cls = layer.getClassName();
      if (cls === 'InputLayer') continue;
      const next = layers[i + 1];
      let fresh: tf.layers.Layer;
      if (foldBatchNorm && (cls === 'Conv2D' || cls === 'DepthwiseConv2D') && next?.getClassName() === 'BatchNormalization') {
        const activation = fusableActivation(layers[i + 2]);
        fresh = cloneLayer(layer, { useBias: true, ...(activation ? { activation } : {}) });
        pending.push([fresh, foldBn(layer, next)]);
        i++; // the BatchNormalization is now part of this conv
        if (activation) {
          // The ReLU6 now runs inside the convolution's kernel; its layer stays, as the identity, for its name
          // (the feature layer and the block boundaries are named after it).
          x = fresh.apply(x) as tf.SymbolicTensor;
          fresh = cloneLayer(layers[++i]!, { activation: 'linear' });
        }
      } else {
        fresh = cloneLayer(layer);
        const weights = layer.getWeights();
        if (weights.length) pending.push([fresh, weights.map((t) => t.clone())]);
      }
      x = fresh.apply(x) as tf.SymbolicTensor;
      if (layers[i]!.name === MOBILENET_V1_FEATURE_LAYER) {
        reachedFeature = true;
        if (!includeTop) break;
      }
    }
    if (!reachedFeature)
      throw new ConvkitError(
        `${path}/model.json has no layer ${MOBILENET_V1_FEATURE_LAYER}`,
        'use the Keras MobileNet v1 converted by tensorflowjs (layer names conv1 … conv_pw_13_relu)',
      );
    const model = tf.model({ inputs: input, outputs: x, name: includeTop ? 'mobilenet_v1_0.75' : 'mobilenet_v1_0.75_base' });
    for (const [layer, weights] of pending) {
      layer.setWeights(weights);
      tf.dispose(weights);
    }
    return model;
  } finally {
    source.dispose();
  }
}
