/**
 * MobileNet v2 (depth 1.0, ImageNet) rebuilt from Google's 8-bit TFLite
 * files as a trainable float32 TF.js model. BatchNormalization is already
 * folded into the convolutions in those files, so the rebuilt model has none.
 * Outputs 1001 probabilities: index 0 is "background", index i is ImageNet
 * class i − 1 (see imagenet.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { convertTflite } from './tflite/convert.js';
import { readTflite } from './tflite/reader.js';

export const MOBILENET_V2_DIR = 'mobilenet_v2_1.0_224_quant_tflite';
/** The quantization-aware-trained uint8 file (default) and the post-training-quantized int8 one. */
export const MOBILENET_V2_FILES = { quant: 'mobilenet_v2_1.0_224_quant.tflite', ptq: 'tf2_mobilenet_v2_1.0_224_ptq.tflite' } as const;
export type MobileNetV2Variant = keyof typeof MOBILENET_V2_FILES;

export interface MobileNetV2Options {
  /** Folder holding the .tflite files (and imagenet_labels.txt), or a .tflite file. */
  path: string;
  variant?: MobileNetV2Variant;
  /** [height, width]; the base works at any size ≥ 32 (default 224×224). */
  inputSize?: readonly [number, number];
  /** Keep the 1001-way classifier (softmax probabilities). Default false. */
  includeTop?: boolean;
}

export interface LoadedMobileNetV2 {
  model: tf.LayersModel;
  /** Last conv before pooling (7×7×1280 at 224 px). */
  featureLayer: string;
}

export function mobileNetV2File(options: Pick<MobileNetV2Options, 'path' | 'variant'>): string {
  return options.path.endsWith('.tflite') ? options.path : join(options.path, MOBILENET_V2_FILES[options.variant ?? 'quant']);
}

export async function loadMobileNetV2(options: MobileNetV2Options): Promise<LoadedMobileNetV2> {
  const file = mobileNetV2File(options);
  if (!existsSync(file)) {
    throw new ConvkitError(`MobileNet v2 not found: ${file}`, `place ${basename(file)} (Google's MobileNet v2 1.0 224 quantized TFLite model) there`);
  }
  const graph = readTflite(new Uint8Array(readFileSync(file)), file);
  const { includeTop = false, inputSize = [224, 224] } = options;
  if (!(inputSize[0] >= 32 && inputSize[1] >= 32))
    throw new ConvkitError(`invalid inputSize ${inputSize[0]}×${inputSize[1]} for MobileNet v2`, 'use at least 32×32 px (224×224 is what it was trained on)');
  const { model, featureLayer } = convertTflite(graph, {
    name: file,
    inputSize,
    featuresOnly: !includeTop,
    modelName: includeTop ? 'mobilenet_v2_1.0' : 'mobilenet_v2_1.0_base',
  });
  if (!featureLayer) throw new ConvkitError(`${file} has no global pooling`, 'use a MobileNet v2 classification model');
  return { model, featureLayer };
}

/** The 1001 labels (index 0 "background") from imagenet_labels.txt next to the model. */
export function readMobileNetV2Labels(dir: string): string[] {
  const file = join(dir, 'imagenet_labels.txt');
  if (!existsSync(file)) throw new ConvkitError(`labels not found: ${file}`, 'copy imagenet_labels.txt from the MobileNet v2 TFLite folder');
  const labels = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  if (labels.length !== 1001)
    throw new ConvkitError(`${file} holds ${labels.length} labels, expected 1001`, 'use the imagenet_labels.txt published with the model');
  return labels;
}
