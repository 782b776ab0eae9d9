/**
 * Grad-CAM (Selvaraju et al., 2017): where in an image a classifier looked.
 * The feature maps A of the last convolutional layer are weighted by the
 * mean gradient of the predicted class's logit with respect to each map,
 * summed, passed through ReLU, scaled to 0..1 per image and resized to the
 * input. The logit (the output layer's pre-activation) is used rather than
 * the probability, whose gradient vanishes for confident predictions.
 */
import * as tf from '@tensorflow/tfjs';
import { splitModel } from '../transfer/split.js';
import { ConvkitError } from '../util/errors.js';

export interface GradCamOptions {
  /** Layer whose feature maps are weighted (default: the last layer with a 4-D output). */
  layer?: string;
}

export interface GradCamResult {
  /** One [height, width] map per image in 0..1, at the input size, row-major. */
  heatmaps: Float32Array[];
  /** Predicted class per image, and its probability. */
  classIndex: number[];
  probability: number[];
  layer: string;
}

/** The deepest layer with a 4-D (spatial) output: the last convolutional feature map. */
export function lastSpatialLayer(model: tf.LayersModel): string {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const shape = model.layers[i]!.outputShape as unknown;
    if (Array.isArray(shape) && shape.length === 4 && !Array.isArray(shape[0])) return model.layers[i]!.name;
  }
  throw new ConvkitError(`model ${model.name} has no layer with a spatial (4-D) output`, 'Grad-CAM needs a convolutional model');
}

/** Grad-CAM heat maps of `x` ([n, h, w, c], the model's input) for each image's predicted class. */
export function gradCam(model: tf.LayersModel, x: tf.Tensor4D, options: GradCamOptions = {}): GradCamResult {
  const layer = options.layer ?? lastSpatialLayer(model);
  const output = model.layers[model.layers.length - 1]!;
  if (output.getClassName() !== 'Dense') {
    throw new ConvkitError(
      `Grad-CAM needs a Dense output layer, model ${model.name} ends with ${output.getClassName()} ${output.name}`,
      'use a classifier whose last layer is Dense (sigmoid or softmax)',
    );
  }
  const { prefix, suffix } = splitModel(model, layer);
  // suffix = features → output's input (hidden) → output Dense, whose logits are computed by hand.
  const hiddenName = (output.inboundNodes[0]!.inboundLayers[0] as tf.layers.Layer).name;
  const toHidden = hiddenName === layer ? undefined : splitModel(suffix, hiddenName).prefix;
  const [kernel, bias] = output.getWeights() as [tf.Tensor2D, tf.Tensor1D | undefined];
  const units = kernel.shape[1];
  const [n, h, w] = x.shape;
  return tf.tidy(() => {
    const features = prefix.predict(x) as tf.Tensor4D;
    const logitsOf = (a: tf.Tensor): tf.Tensor2D => {
      const hidden = (toHidden ? toHidden.apply(a, { training: false }) : a) as tf.Tensor;
      const z = tf.matMul(hidden.reshape([hidden.shape[0]!, -1]) as tf.Tensor2D, kernel);
      return (bias ? z.add(bias) : z) as tf.Tensor2D;
    };
    const logits = logitsOf(features);
    // Binary (one sigmoid unit): the logit points to class 1, its negative to class 0.
    const probs = units === 1 ? tf.sigmoid(logits) : tf.softmax(logits);
    const p = probs.arraySync() as number[][];
    const classIndex = p.map((row) => (units === 1 ? (row[0]! >= 0.5 ? 1 : 0) : row.indexOf(Math.max(...row))));
    const probability = p.map((row, i) => (units === 1 ? (classIndex[i] === 1 ? row[0]! : 1 - row[0]!) : row[classIndex[i]!]!));
    const select = units === 1 ? tf.tensor2d(classIndex.map((c) => [c === 1 ? 1 : -1])) : tf.oneHot(tf.tensor1d(classIndex, 'int32'), units).toFloat();
    const grads = tf.grad((a: tf.Tensor) => logitsOf(a).mul(select).sum())(features);
    const weights = grads.mean([1, 2], true);
    const cam = tf.relu(features.mul(weights).sum(-1, true)) as tf.Tensor4D;
    const peak = cam.max([1, 2, 3], true).maximum(1e-12);
    const maps = tf.image
      .resizeBilinear(cam.div(peak) as tf.Tensor4D, [h, w])
      .clipByValue(0, 1)
      .reshape([n, h * w]);
    const flat = maps.dataSync() as Float32Array;
    const heatmaps = Array.from({ length: n }, (_, i) => flat.slice(i * h * w, (i + 1) * h * w));
    return { heatmaps, classIndex, probability, layer };
  });
}

/** A heat value in 0..1 as RGB, on a blue → cyan → yellow → red ramp. */
export function heatColor(v: number): [number, number, number] {
  const stops: [number, [number, number, number]][] = [
    [0, [0, 0, 140]],
    [0.35, [0, 200, 255]],
    [0.65, [255, 230, 0]],
    [1, [220, 0, 0]],
  ];
  const t = Math.min(1, Math.max(0, v));
  let k = 0;
  while (k < stops.length - 2 && t > stops[k + 1]![0]) k++;
  const [t0, c0] = stops[k]!,
    [t1, c1] = stops[k + 1]!;
  const f = (t - t0) / (t1 - t0);
  return [0, 1, 2].map((j) => Math.round(c0[j]! + f * (c1[j]! - c0[j]!))) as [number, number, number];
}

/** The heat map blended over an RGB image (HWC uint8, same size): `alpha` of heat where it is hot. */
export function overlayHeatmap(rgb: Uint8Array, heat: Float32Array, alpha = 0.55): Uint8Array {
  if (rgb.length !== heat.length * 3)
    throw new ConvkitError(`overlay: ${rgb.length / 3} pixels of image but ${heat.length} of heat map`, "pass an RGB image of the heat map's size");
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < heat.length; i++) {
    const c = heatColor(heat[i]!);
    const a = alpha * Math.sqrt(heat[i]!); // cold regions stay mostly the photo
    for (let j = 0; j < 3; j++) out[i * 3 + j] = Math.round((1 - a) * rgb[i * 3 + j]! + a * c[j]!);
  }
  return out;
}
