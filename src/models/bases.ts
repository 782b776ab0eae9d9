/**
 * The pretrained convolutional bases for transfer learning, by name: how to
 * load each (with or without its ImageNet classifier), its feature layer,
 * its blocks (for unfreezing the top ones when fine-tuning) and its labels.
 * Every base takes RGB pixels 0..255; its preprocessing is its first layer.
 */
import type * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { loadMobileNetV1, MOBILENET_V1_DIR, MOBILENET_V1_FEATURE_LAYER, readMobileNetV1Labels } from './mobilenet-v1.js';
import { loadMobileNetV2, MOBILENET_V2_DIR, readMobileNetV2Labels, type MobileNetV2Variant } from './mobilenet-v2.js';
import { loadVgg16, VGG16_FEATURE_LAYER } from './vgg16.js';

export const BASE_NAMES = ['mobilenet_v1', 'mobilenet_v2', 'vgg16'] as const;
export type BaseName = (typeof BASE_NAMES)[number];

export interface BaseLoadOptions {
  /** [height, width]; default the base's defaultInputSize. */
  inputSize?: readonly [number, number];
  /** Keep the ImageNet classifier. Default false (the convolutional base only). */
  includeTop?: boolean;
  /** Folder with the pretrained files (default modelsDir()). */
  modelsDir?: string;
  /** VGG16: 'imagenet' (default), a .h5 / TF.js weight path, or null for random weights. */
  weights?: null | 'imagenet' | string;
  /** MobileNet v2: which TFLite file (default 'quant'). */
  variant?: MobileNetV2Variant;
}

/** A group of consecutive layers, unfrozen together when fine-tuning. */
export interface Block {
  name: string;
  layers: string[];
}

/** A loaded base with what fine-tuning needs to know about it. */
export interface LoadedBase {
  name: BaseName;
  model: tf.LayersModel;
  /** The layer whose output is the transfer-learning feature map (the base's output without the top). */
  featureLayer: string;
  inputSize: [number, number];
  /** Blocks from input to output, preprocessing excluded (it stays frozen). */
  blocks: Block[];
}

export interface BaseSpec {
  name: BaseName;
  description: string;
  /** Default (and trained-on) input size [height, width]. */
  inputSize: [number, number];
  /** The layer whose output is the transfer-learning feature map (the base's output). */
  featureLayer: string;
  /** Feature map at the default input size, [h, w, channels]. */
  featureShape: [number, number, number];
  /** First layer of the block Keras-style fine-tuning unfreezes first (the last block). */
  fineTuneFrom: string;
  /** What the built-in first layer does to 0..255 pixels. */
  preprocessing: string;
  /** Output classes of the top (1001 for MobileNet v2: index 0 is background). */
  classes: number;
  /** Loads the base (or, with includeTop, the whole ImageNet classifier) taking RGB 0..255. */
  load(options?: BaseLoadOptions): Promise<tf.LayersModel>;
  /** The block a layer belongs to (undefined: the stem, the preprocessing or the head); the one definition of the base's blocks. */
  blockOf(layerName: string): string | undefined;
  /** The model's layers grouped into blocks by blockOf, input to output. */
  blocks(model: tf.LayersModel): Block[];
  /** ImageNet labels indexed like the top's output. */
  labels(modelsDir?: string): string[];
}

/** Where the pretrained files are: CONVKIT_MODELS_DIR, else ../shared/models beside the package. */
export function modelsDir(): string {
  return resolve(process.env.CONVKIT_MODELS_DIR ?? join(packageRoot(), '..', 'shared', 'models'));
}

const PREPROCESS_LAYERS = new Set(['input_1', 'input', 'rescaling', 'preprocess_caffe']);

/** Groups a model's layers into blocks by `keyOf(layerName)` (consecutive layers with one key form a block). */
export function blocksOf(model: tf.LayersModel, keyOf: (layer: string) => string): Block[] {
  const blocks: Block[] = [];
  for (const layer of model.layers) {
    if (PREPROCESS_LAYERS.has(layer.name) || layer.getClassName() === 'InputLayer') continue;
    const key = keyOf(layer.name);
    const last = blocks[blocks.length - 1];
    if (last && last.name === key) last.layers.push(layer.name);
    else blocks.push({ name: key, layers: [layer.name] });
  }
  return blocks;
}

const sizeOf = (o: BaseLoadOptions): [number, number] => [o.inputSize?.[0] ?? 224, o.inputSize?.[1] ?? 224];

const mobilenetV1: BaseSpec = {
  name: 'mobilenet_v1',
  description: 'MobileNet v1 alpha 0.75 (ImageNet, TF.js layers files; BatchNormalization folded into the convolutions)',
  inputSize: [224, 224],
  featureLayer: MOBILENET_V1_FEATURE_LAYER,
  featureShape: [7, 7, 768],
  fineTuneFrom: 'conv_dw_13',
  preprocessing: 'rescaling: x/127.5 − 1',
  classes: 1000,
  load: (o = {}) => loadMobileNetV1({ path: join(o.modelsDir ?? modelsDir(), MOBILENET_V1_DIR), inputSize: sizeOf(o), includeTop: o.includeTop }),
  blockOf: (n) => {
    const m = /^conv_(?:dw|pw)_(\d+)(?:_|$)/.exec(n);
    return m ? `conv_${m[1]}` : undefined;
  },
  blocks: (model) => blocksOf(model, (n) => mobilenetV1.blockOf(n) ?? (n.startsWith('conv1') ? 'conv1' : 'top')),
  labels: (dir) => readMobileNetV1Labels(join(dir ?? modelsDir(), MOBILENET_V1_DIR)),
};

const mobilenetV2: BaseSpec = {
  name: 'mobilenet_v2',
  description: 'MobileNet v2 1.0 (ImageNet, 8-bit TFLite dequantized to float32; BatchNormalization folded)',
  inputSize: [224, 224],
  // The layer names come from the TFLite tensor names; these are the default ('quant') file's.
  featureLayer: 'Conv_1',
  featureShape: [7, 7, 1280],
  fineTuneFrom: 'expanded_conv_16_expand',
  preprocessing: 'rescaling from the TFLite input quantization: (x − 128)/128',
  classes: 1001,
  load: async (o = {}) =>
    (await loadMobileNetV2({ path: join(o.modelsDir ?? modelsDir(), MOBILENET_V2_DIR), variant: o.variant, inputSize: sizeOf(o), includeTop: o.includeTop }))
      .model,
  // Layer names from the TFLite file (expanded_conv_N_…) or from Keras's MobileNetV2 (block_N_…).
  blockOf: (n) => /^(expanded_conv(?:_\d+)?)_/.exec(n)?.[1] ?? /^(block_\d+)_/.exec(n)?.[1],
  blocks: (model) => {
    let afterPool = false;
    return blocksOf(model, (n) => {
      if (model.getLayer(n).getClassName() === 'GlobalAveragePooling2D') afterPool = true;
      return afterPool ? 'top' : (mobilenetV2.blockOf(n) ?? n);
    });
  },
  labels: (dir) => readMobileNetV2Labels(join(dir ?? modelsDir(), MOBILENET_V2_DIR)),
};

const vgg16: BaseSpec = {
  name: 'vgg16',
  description: 'VGG16 (Keras layer names; ImageNet weights from the Keras .h5 files)',
  inputSize: [224, 224],
  featureLayer: VGG16_FEATURE_LAYER,
  featureShape: [7, 7, 512],
  fineTuneFrom: 'block5_conv1',
  preprocessing: 'preprocess_caffe: RGB → BGR, minus [103.939, 116.779, 123.68]',
  classes: 1000,
  load: (o = {}) => loadVgg16({ inputSize: sizeOf(o), includeTop: o.includeTop, weights: o.weights === undefined ? 'imagenet' : o.weights }),
  blockOf: (n) => /^(block\d+)_/.exec(n)?.[1],
  blocks: (model) => blocksOf(model, (n) => vgg16.blockOf(n) ?? 'top'),
  // Keras's VGG16 and MobileNet v1 share the standard 1000-class ImageNet order.
  labels: (dir) => readMobileNetV1Labels(join(dir ?? modelsDir(), MOBILENET_V1_DIR)),
};

export const BASES: Record<BaseName, BaseSpec> = { mobilenet_v1: mobilenetV1, mobilenet_v2: mobilenetV2, vgg16 };

/** The registry entry for `name`, or a ConvkitError listing the choices. */
export function baseSpec(name: string): BaseSpec {
  if (!(BASE_NAMES as readonly string[]).includes(name)) {
    throw new ConvkitError(`unknown base ${JSON.stringify(name)}`, `use one of ${BASE_NAMES.join(', ')}`);
  }
  return BASES[name as BaseName];
}

/** Loads base `name` with its feature layer and blocks. */
export async function loadBase(name: string, options: BaseLoadOptions = {}): Promise<LoadedBase> {
  const spec = baseSpec(name);
  const model = await spec.load(options);
  let featureLayer = spec.featureLayer;
  if (!options.includeTop) featureLayer = model.outputs[0].sourceLayer.name;
  else if (!model.layers.some((l) => l.name === featureLayer))
    featureLayer = spec
      .blocks(model)
      .filter((b) => b.name !== 'top')
      .at(-1)!
      .layers.at(-1)!;
  return { name: spec.name, model, featureLayer, inputSize: sizeOf(options), blocks: spec.blocks(model) };
}
