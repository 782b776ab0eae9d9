/**
 * VGG16 with Keras's layer names (block1_conv1 … block5_pool, fc1, fc2,
 * predictions), taking RGB pixels 0..255: its first layer, preprocess_caffe,
 * is a frozen 1×1 convolution that does Keras's "caffe" preprocessing
 * (RGB → BGR, minus the ImageNet channel means) as a standard layer.
 * ImageNet weights come from Keras's .h5 files, downloaded once into the
 * user cache and checked by MD5.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { loadLayersModelFromFile } from './fs-io.js';
import { loadKerasH5Weights, setWeightsByName, weightsOf } from './keras-h5.js';

/** Keras's caffe-mode channel means, in BGR order. */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;
export const VGG16_FEATURE_LAYER = 'block5_pool';
export const VGG16_BLOCKS: readonly (readonly number[])[] = [
  [64, 64],
  [128, 128],
  [256, 256, 256],
  [512, 512, 512],
  [512, 512, 512],
];

export const VGG16_IMAGENET = {
  notop: {
    file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    md5: '6d6bbae143d832006294945121d1f1fc',
  },
  top: {
    file: 'vgg16_weights_tf_dim_ordering_tf_kernels.h5',
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5',
    md5: '64373286793e3c8b2b4e3219cbf3544b',
  },
} as const;

export interface Vgg16Options {
  /** Keep fc1, fc2 and predictions (needs 224×224 input for the ImageNet weights). Default false. */
  includeTop?: boolean;
  /** [height, width], default 224×224; the base needs at least 32×32. */
  inputSize?: readonly [number, number];
  /**
   * null: random initialization; 'imagenet': Keras's ImageNet weights (cached
   * download); otherwise the path of a Keras .h5 weight file or a TF.js model folder.
   */
  weights?: null | 'imagenet' | string;
  /** Classes of the top (default 1000). */
  classes?: number;
  /** Scales every layer's width (filters, fc units); 1 is VGG16. Smaller values give a VGG16-shaped miniature. */
  widthMultiplier?: number;
  /** Allow downloading the ImageNet weights (default true unless CONVKIT_OFFLINE=1). */
  download?: boolean;
}

/** A non-trainable 1×1 conv: x_bgr − mean, as Keras's caffe preprocessing on RGB 0..255 input. */
export function caffePreprocessLayer(name = 'preprocess_caffe'): { layer: tf.layers.Layer; weights: () => tf.Tensor[] } {
  const layer = tf.layers.conv2d({ name, filters: 3, kernelSize: 1, useBias: true, trainable: false });
  return {
    layer,
    weights: () => {
      const k = new Float32Array(9);
      // kernel[0, 0, in, out]: out 0 (B) ← in 2, out 1 (G) ← in 1, out 2 (R) ← in 0.
      k[2 * 3 + 0] = 1;
      k[1 * 3 + 1] = 1;
      k[0 * 3 + 2] = 1;
      return [tf.tensor4d(k, [1, 1, 3, 3]), tf.tensor1d(CAFFE_MEAN_BGR.map((m) => -m))];
    },
  };
}

/** Builds VGG16 (random weights); use loadVgg16 for pretrained weights. */
export function buildVgg16(options: Omit<Vgg16Options, 'weights' | 'download'> = {}): tf.LayersModel {
  const { includeTop = false, inputSize = [224, 224], classes = 1000, widthMultiplier = 1 } = options;
  const [h, w] = inputSize;
  if (!(h >= 32 && w >= 32)) throw new ConvkitError(`invalid inputSize ${h}×${w} for VGG16`, 'VGG16 halves the size 5 times: use at least 32×32 px');
  if (!(widthMultiplier > 0)) throw new ConvkitError(`invalid widthMultiplier ${widthMultiplier}`, 'use a number > 0 (1 is VGG16)');
  const width = (n: number) => Math.max(1, Math.round(n * widthMultiplier));
  const input = tf.input({ shape: [h, w, 3], name: 'input_1' });
  const pre = caffePreprocessLayer();
  let x = pre.layer.apply(input) as tf.SymbolicTensor;
  VGG16_BLOCKS.forEach((filters, b) => {
    filters.forEach((f, i) => {
      x = tf.layers
        .conv2d({ name: `block${b + 1}_conv${i + 1}`, filters: width(f), kernelSize: 3, padding: 'same', activation: 'relu' })
        .apply(x) as tf.SymbolicTensor;
    });
    x = tf.layers.maxPooling2d({ name: `block${b + 1}_pool`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });
  if (includeTop) {
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ name: 'fc1', units: width(4096), activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ name: 'fc2', units: width(4096), activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: input, outputs: x, name: 'vgg16' });
  const ws = pre.weights();
  pre.layer.setWeights(ws);
  tf.dispose(ws);
  return model;
}

/** convkit's download cache (CONVKIT_CACHE_DIR, else $XDG_CACHE_HOME/convkit or ~/.cache/convkit). */
export function cacheDir(): string {
  return process.env.CONVKIT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'convkit');
}

export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The path of Keras's VGG16 ImageNet weight file, downloading it into the
 * cache when missing (MD5-checked). Offline, a ConvkitError says which file
 * to place where.
 */
export async function vgg16ImagenetWeights(includeTop: boolean, download = process.env.CONVKIT_OFFLINE !== '1'): Promise<string> {
  const spec = includeTop ? VGG16_IMAGENET.top : VGG16_IMAGENET.notop;
  const dest = join(cacheDir(), 'keras-applications', 'vgg16', spec.file);
  const placeIt = `download ${spec.url} (md5 ${spec.md5}) and place it at ${dest}`;
  if (existsSync(dest)) {
    const sum = await md5File(dest);
    if (sum === spec.md5) return dest;
    throw new ConvkitError(`${dest} has md5 ${sum}, expected ${spec.md5} (a partial or different file)`, `delete it and ${placeIt}`);
  }
  if (!download) throw new ConvkitError(`VGG16 ImageNet weights are not in the cache: ${dest}`, placeIt);
  let bytes: Uint8Array;
  try {
    bytes = await fetchWithProgress(spec.url, spec.file);
  } catch (err) {
    throw new ConvkitError(`cannot download the VGG16 ImageNet weights (${(err as Error).message})`, `when offline, ${placeIt}`);
  }
  const sum = createHash('md5').update(bytes).digest('hex');
  if (sum !== spec.md5) throw new ConvkitError(`downloaded ${spec.file} has md5 ${sum}, expected ${spec.md5}`, `try again, or ${placeIt}`);
  await writeFileAtomic(dest, bytes);
  return dest;
}

async function fetchWithProgress(url: string, label: string): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30 * 60_000) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} for ${url}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const progress = new Progress({ total: Math.round(total / 1e6), label: `downloading ${label}`, unit: 'MB' });
  const chunks: Uint8Array[] = [];
  let got = 0,
    shown = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    got += chunk.byteLength;
    const mb = Math.floor(got / 1e6);
    if (mb > shown) {
      progress.tick(mb - shown);
      shown = mb;
    }
  }
  progress.finish();
  const out = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Builds VGG16 and loads its weights (see Vgg16Options.weights). */
export async function loadVgg16(options: Vgg16Options = {}): Promise<tf.LayersModel> {
  const { weights = 'imagenet', includeTop = false } = options;
  if (weights === 'imagenet' && includeTop) {
    const [h, w] = options.inputSize ?? [224, 224];
    if (h !== 224 || w !== 224)
      throw new ConvkitError(`VGG16 with its ImageNet top needs 224×224 input, not ${h}×${w}`, 'use inputSize 224×224 or includeTop: false');
  }
  // Resolve the file first so a missing download fails before the (large) build.
  const file = weights === 'imagenet' ? await vgg16ImagenetWeights(includeTop, options.download) : weights;
  const model = buildVgg16(options);
  if (file == null) return model;
  try {
    if (file.endsWith('.h5') || file.endsWith('.hdf5')) {
      await loadKerasH5Weights(model, file, { allowMissing: ['preprocess_caffe'] });
    } else {
      const source = await loadLayersModelFromFile(file);
      try {
        setWeightsByName(model, weightsOf(source), { allowMissing: ['preprocess_caffe'], source: file });
      } finally {
        source.dispose();
      }
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
