/**
 * The model families convkit trains, built for the export checks: the small
 * convnet, MobileNet v1 and v2 with a convkit head (real ImageNet weights
 * from ../shared/models), a VGG16-shaped base with self-written weights, and
 * a BatchNormalization + separable + residual net built with tf.layers.
 * Every weight is seeded or written here, so each build is the same model.
 * Shared by test/export-onnx.test.ts and bench/export-agreement.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../src/data/decode.js';
import type { ExportSourceMeta } from '../src/export/meta.js';
import { loadMobileNetV1, MOBILENET_V1_DIR } from '../src/models/mobilenet-v1.js';
import { loadMobileNetV2, MOBILENET_V2_DIR } from '../src/models/mobilenet-v2.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { buildVgg16 } from '../src/models/vgg16.js';
import { getBase } from '../src/transfer/bases.js';
import { buildHead, stitch } from '../src/transfer/head.js';
import { createRng } from '../src/util/rng.js';

export const SHARED = new URL('../../shared/', import.meta.url).pathname;
export const MODELS = join(SHARED, 'models');
export const CATS_DOGS_TEST = join(SHARED, 'data', 'cats_and_dogs_small', 'test');

export interface BuiltFamily {
  model: tf.LayersModel;
  meta: ExportSourceMeta;
}

export interface Family {
  name: string;
  /** What the model is, for reports. */
  title: string;
  /** Why the family cannot be built here (missing shared files), if so. */
  skip: string | false;
  build(): Promise<BuiltFamily>;
}

const BINARY: ExportSourceMeta = { classNames: ['cats', 'dogs'], classMode: 'binary', colorMode: 'rgb' };

const need = (path: string): string | false => (existsSync(path) ? false : `${path} not found`);

/** Deterministic, distinct, non-round values in [-0.5, 0.5] for weight number `seed`. */
function sineValues(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 1000 + i * 0.731) * 0.5));
}

/**
 * Self-written VGG weights: sine patterns scaled to He's variance (2 / fan-in),
 * the first conv also by 1/64 for the caffe-centred pixels (±128), so the
 * activations neither vanish nor blow up through 13 layers.
 */
function writeVggWeights(model: tf.LayersModel): void {
  let seed = 1;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D' || layer.name === 'preprocess_caffe') continue;
    const [kernel, bias] = layer.getWeights() as [tf.Tensor, tf.Tensor];
    const fanIn = kernel.shape[0]! * kernel.shape[1]! * kernel.shape[2]!;
    const scale = Math.sqrt(16 / fanIn) * (layer.name === 'block1_conv1' ? 1 / 64 : 1);
    const k = sineValues(kernel.size, seed++).map((v) => v * scale);
    const b = sineValues(bias.size, seed++).map((v) => v * 0.05);
    const ws = [tf.tensor(k, kernel.shape), tf.tensor(b, bias.shape)];
    layer.setWeights(ws);
    tf.dispose(ws);
  }
}

/** Moving statistics and affine weights away from their initial 0/1, so that BatchNormalization does something. */
export function writeBatchNormStats(model: tf.LayersModel, seed = 1): void {
  const rng = createRng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const cfg = layer.getConfig() as { scale?: boolean; center?: boolean };
    const w = layer.getWeights();
    // gamma, beta (when present), moving mean, moving variance
    const ranges: [number, number][] = [
      ...(cfg.scale !== false ? [[0.6, 1.4] as [number, number]] : []),
      ...(cfg.center !== false ? [[-0.3, 0.3] as [number, number]] : []),
      [-0.3, 0.3],
      [0.4, 2.0],
    ];
    const ws = w.map((t, i) =>
      tf.tensor(
        Float32Array.from({ length: t.size }, () => ranges[i]![0] + (ranges[i]![1] - ranges[i]![0]) * rng.next()),
        t.shape,
      ),
    );
    layer.setWeights(ws);
    tf.dispose(ws);
  }
}

/** A convkit head (pooling or Flatten, Dense 256 relu, Dropout 0.5, sigmoid) on `base`, seeded. */
function withHead(base: tf.LayersModel, name: string, seed: number): tf.LayersModel {
  const head = buildHead(base.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, rng: createRng(seed) });
  return stitch(base, head, name);
}

/**
 * Conv + BN + ReLU, separable convs, residual adds, a depthwise conv, zero
 * padding and global pooling: the layer classes of Xception- and ResNet-style nets.
 */
function residualNet(size: number, seed: number, branches: boolean): tf.LayersModel {
  const rng = createRng(seed);
  const s = () => 1 + rng.int(0x7ffffffe);
  const init = () => tf.initializers.glorotUniform({ seed: s() });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const input = tf.input({ shape: [size, size, 3], name: 'input' });
  let x = apply(tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: 'rescaling' }), input);
  if (branches) {
    // Unequal padding and cropping on each side and axis: a swapped pair shows.
    x = apply(
      tf.layers.zeroPadding2d({
        padding: [
          [1, 3],
          [0, 2],
        ],
        name: 'stem_pad',
      }),
      x,
    );
    x = apply(
      tf.layers.cropping2D({
        cropping: [
          [1, 0],
          [0, 1],
        ],
        name: 'stem_crop',
      }),
      x,
    );
  } else {
    x = apply(
      tf.layers.zeroPadding2d({
        padding: [
          [1, 2],
          [1, 2],
        ],
        name: 'stem_pad',
      }),
      x,
    );
  }
  x = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: init(), name: 'stem_conv' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'stem_bn' }), x);
  x = apply(tf.layers.activation({ activation: 'relu', name: 'stem_relu' }), x);
  [24, 48].forEach((f, b) => {
    const shortcut = apply(
      tf.layers.conv2d({ filters: f, kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(), name: `block${b}_shortcut` }),
      x,
    );
    let y = x;
    for (let j = 0; j < 2; j++) {
      if (j > 0) y = apply(tf.layers.activation({ activation: 'relu', name: `block${b}_relu${j}` }), y);
      y = apply(
        tf.layers.separableConv2d({
          filters: f,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          depthMultiplier: j === 0 ? 2 : 1,
          depthwiseInitializer: init(),
          pointwiseInitializer: init(),
          name: `block${b}_sepconv${j}`,
        }),
        y,
      );
      y = apply(tf.layers.batchNormalization({ name: `block${b}_bn${j}` }), y);
    }
    y = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `block${b}_pool` }), y);
    x = apply(tf.layers.add({ name: `block${b}_add` }), [y, shortcut]);
  });
  if (branches) {
    // Two branches joined on the channels, then squeeze-and-excitation gating (Reshape to a 1×1 map, Multiply).
    const wide = apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'swish', kernelInitializer: init(), name: 'branch_conv' }), x);
    x = apply(tf.layers.concatenate({ name: 'branch_concat' }), [x, wide]);
    let gate = apply(tf.layers.globalAveragePooling2d({ name: 'se_pool' }), x);
    gate = apply(tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(), name: 'se_reduce' }), gate);
    gate = apply(tf.layers.dense({ units: 56, activation: 'sigmoid', kernelInitializer: init(), name: 'se_expand' }), gate);
    gate = apply(tf.layers.reshape({ targetShape: [1, 1, 56], name: 'se_reshape' }), gate);
    x = apply(tf.layers.multiply({ name: 'se_scale' }), [x, gate]);
  }
  x = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(), name: 'top_dwconv' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'top_bn' }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: 'top_relu6' }), x);
  x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  x = apply(tf.layers.dropout({ rate: 0.5, name: 'dropout' }), x);
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(), name: 'predictions' }), x);
  const model = tf.model({ inputs: input, outputs: x, name: 'residual_separable_net' });
  writeBatchNormStats(model, seed);
  return model;
}

export const FAMILIES: Family[] = [
  {
    name: 'small_convnet',
    title: "the book's small convnet (150 px, Conv 32-64-128-128, Dropout, Dense 512, sigmoid), seeded weights",
    skip: false,
    build: async () => ({ model: smallCnn({ inputShape: [150, 150, 3], dropout: 0.5, seed: 1 }), meta: BINARY }),
  },
  {
    name: 'mobilenet_v1_head',
    title: 'MobileNet v1 0.75 (ImageNet weights, BN folded, 224 px) + convkit head (avg pool, Dense 256, Dropout, sigmoid)',
    skip: need(join(MODELS, MOBILENET_V1_DIR, 'model.json')),
    build: async () => ({ model: withHead(await loadMobileNetV1({ path: join(MODELS, MOBILENET_V1_DIR) }), 'mobilenet_v1_classifier', 2), meta: BINARY }),
  },
  {
    name: 'mobilenet_v2_head',
    title: 'MobileNet v2 1.0 (TFLite import, 224 px) + convkit head (avg pool, Dense 256, Dropout, sigmoid)',
    skip: need(join(MODELS, MOBILENET_V2_DIR)),
    build: async () => {
      const { model } = await loadMobileNetV2({ path: join(MODELS, MOBILENET_V2_DIR) });
      return { model: withHead(model, 'mobilenet_v2_classifier', 3), meta: BINARY };
    },
  },
  {
    name: 'mobilenets_side_by_side_head',
    title: 'MobileNet v1 0.75 and v2 1.0 side by side (mobilenet_v1+mobilenet_v2, 160 px, Concatenate) + convkit head',
    skip: need(join(MODELS, MOBILENET_V1_DIR, 'model.json')) || need(join(MODELS, MOBILENET_V2_DIR)),
    build: async () => {
      const { model } = await getBase('mobilenet_v1+mobilenet_v2').load({ inputSize: [160, 160] });
      return { model: withHead(model, 'mobilenets_classifier', 5), meta: BINARY };
    },
  },
  {
    name: 'vgg16_head',
    title: 'VGG16 (width 1/16, self-written weights, caffe preprocessing, 64 px) + convkit head (Flatten, Dense 256, Dropout, sigmoid)',
    skip: false,
    build: async () => {
      const base = buildVgg16({ inputSize: [64, 64], widthMultiplier: 1 / 16 });
      writeVggWeights(base);
      return { model: withHead(base, 'vgg16_classifier', 4), meta: BINARY };
    },
  },
  {
    name: 'residual_separable',
    title: 'Conv/BN/ReLU stem, two residual blocks of separable convs + BN + max pool, depthwise conv, ReLU6, global pooling, 3-way softmax (96 px)',
    skip: false,
    build: async () => ({ model: residualNet(96, 5, false), meta: { classNames: ['a', 'b', 'c'], classMode: 'categorical', colorMode: 'rgb' } }),
  },
];

/**
 * Families only the ONNX export is checked on: layer classes the other
 * exports need not cover (cropping, concatenation, squeeze-and-excitation
 * gating, swish).
 */
export const ONNX_FAMILIES: Family[] = [
  ...FAMILIES,
  {
    name: 'branching_residual',
    title:
      'the residual net above with unequal zero padding and cropping, a concatenated swish branch and a squeeze-and-excitation gate (Reshape, Multiply) (96 px)',
    skip: false,
    build: async () => ({ model: residualNet(96, 5, true), meta: { classNames: ['a', 'b', 'c'], classMode: 'categorical', colorMode: 'rgb' } }),
  },
];

/** The first `n` test images, cats and dogs alternating (sorted by name), as RGB 0..255 floats [n, h, w, 3]. */
export async function testImages(n: number, [h, w]: readonly [number, number]): Promise<Float32Array> {
  const lists = ['cats', 'dogs'].map((c) =>
    readdirSync(join(CATS_DOGS_TEST, c))
      .sort()
      .map((f) => join(CATS_DOGS_TEST, c, f)),
  );
  const out = new Float32Array(n * h * w * 3);
  for (let i = 0; i < n; i++) {
    const file = lists[i % 2]![Math.floor(i / 2)]!;
    const img = await decodeImage(file, { targetSize: [h, w] });
    out.set(img.data, i * h * w * 3);
  }
  return out;
}

/**
 * Rescales a classifier's last Dense layer so that its outputs on `pixels`
 * spread out: sigmoid logits over [-2, 2] (probabilities 0.12–0.88), softmax
 * log-probabilities over a range of 4. Seeded weights give near-constant or
 * saturated probabilities, which would agree between any two runtimes and
 * check nothing.
 */
export function spreadOutputs(model: tf.LayersModel, pixels: Float32Array, n: number): void {
  const last = model.layers[model.layers.length - 1]!;
  const activation = (last.getConfig() as { activation?: string }).activation;
  if (last.getClassName() !== 'Dense' || (activation !== 'sigmoid' && activation !== 'softmax')) return;
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const p = tf.tidy(() => (model.predict(tf.tensor4d(pixels.subarray(0, n * h! * w! * c!), [n, h!, w!, c!])) as tf.Tensor).dataSync());
  // Sigmoid: the logit itself. Softmax: log p, the logit up to a per-image constant.
  const logits = Array.from(p, (q) => (activation === 'sigmoid' ? Math.log(q / (1 - q)) : Math.log(q)));
  const lo = Math.min(...logits),
    hi = Math.max(...logits);
  const k = 4 / Math.max(hi - lo, 1e-6),
    centre = activation === 'sigmoid' ? (lo + hi) / 2 : 0;
  const [kernel, bias] = last.getWeights() as [tf.Tensor, tf.Tensor];
  const ws = tf.tidy(() => [tf.mul(kernel, k), tf.mul(tf.sub(bias, centre), k)]);
  last.setWeights(ws);
  tf.dispose(ws);
}

/** spreadOutputs for sigmoid classifiers only (softmax ones are left as built). */
export function spreadSigmoid(model: tf.LayersModel, pixels: Float32Array, n: number): void {
  const last = model.layers[model.layers.length - 1]!;
  if ((last.getConfig() as { activation?: string }).activation === 'sigmoid') spreadOutputs(model, pixels, n);
}

export interface Agreement {
  /** Largest |p_tfjs − p_onnx| over all images and outputs. */
  maxAbsDiff: number;
  /** The tfjs probabilities' range, to show they are not saturated. */
  min: number;
  max: number;
  images: number;
}

/**
 * Runs `pixels` (n images) through the TF.js model and through `run` (an
 * ONNX runtime session) in batches, comparing the outputs.
 */
export async function agreement(
  model: tf.LayersModel,
  run: (batch: Float32Array, dims: number[]) => Promise<Float32Array>,
  pixels: Float32Array,
  n: number,
  batch = 10,
): Promise<Agreement> {
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const per = h! * w! * c!;
  let maxAbsDiff = 0,
    min = Infinity,
    max = -Infinity;
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const slice = pixels.subarray(start * per, (start + count) * per);
    const dims = [count, h!, w!, c!];
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(slice, dims as [number, number, number, number])) as tf.Tensor).dataSync());
    const got = await run(slice, dims);
    if (got.length !== expected.length) throw new Error(`output sizes differ: tfjs ${expected.length}, onnx ${got.length}`);
    for (let i = 0; i < got.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected[i]! - got[i]!));
      min = Math.min(min, expected[i]!);
      max = Math.max(max, expected[i]!);
    }
  }
  return { maxAbsDiff, min, max, images: n };
}
