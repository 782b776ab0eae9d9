/**
 * predict(): class, probability and all class probabilities for image files,
 * read the way the model was trained (size, color mode, resize filter from
 * convkit.json); optional seeded test-time augmentation. A file that cannot
 * be read stops the run, or is handed to `onBadFile` while the rest go on.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeBatch, type ResolvedDecodeOptions } from '../data/cache.js';
import type { Interpolation } from '../data/decode.js';
import type { SkippedFile } from '../data/scan.js';
import { Progress } from '../util/progress.js';
import { createRng } from '../util/rng.js';
import { argmax } from '../util/stats.js';
import { loadModel, type ConvkitModelMeta, type LoadedModel } from './saved-model.js';
import { checkFiniteProbabilities, predictProbabilities, ttaTransform, type TtaOptions } from './tta.js';

export interface Prediction {
  file: string;
  label: string;
  /** Probability of `label`. */
  probability: number;
  /** Class name → probability. */
  probabilities: Record<string, number>;
}

export interface PredictOptions {
  batchSize?: number;
  /** Show a progress bar on stderr. */
  progress?: boolean;
  tta?: TtaOptions;
  seed?: number;
  /** Called for each file that cannot be read or decoded, which is left out; without it such a file throws its error. */
  onBadFile?: (file: SkippedFile) => void;
}

/** How a saved model's images are read: convkit.json's input size, color mode and resize filter. */
export function modelReadOptions(meta: ConvkitModelMeta): ResolvedDecodeOptions {
  return {
    targetSize: [meta.inputSize[0], meta.inputSize[1]],
    colorMode: meta.colorMode,
    interpolation: (meta.preprocessing?.interpolation ?? 'bilinear') as Interpolation,
  };
}

/** Predicts with a loaded model (or a model folder path). */
export async function predict(model: LoadedModel | string, files: readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
  const loaded = typeof model === 'string' ? await loadModel(model) : model;
  try {
    return await predictWith(loaded, files, options);
  } finally {
    if (typeof model === 'string') loaded.model.dispose();
  }
}

async function predictWith({ model, meta }: LoadedModel, files: readonly string[], options: PredictOptions): Promise<Prediction[]> {
  const { batchSize = 32, seed = 1 } = options;
  const read = modelReadOptions(meta);
  const [h, w] = read.targetSize;
  const channels = read.colorMode === 'grayscale' ? 1 : 3;
  const views = options.tta?.views ?? 1;
  const transform = views > 1 ? ttaTransform(options.tta?.augmentation) : undefined;
  const rng = createRng(seed);
  const out: Prediction[] = [];
  const bar = new Progress({ total: files.length, label: 'predicting', unit: 'img', silent: !options.progress });
  for (let i = 0; i < files.length; i += batchSize) {
    const { files: chunk, pixels } = await decodeBatch(files.slice(i, i + batchSize), read, options.onBadFile);
    bar.tick(Math.min(batchSize, files.length - i));
    if (chunk.length === 0) continue;
    const x = tf.tensor4d(pixels, [chunk.length, h, w, channels]);
    const p = predictProbabilities(model, x, views, transform, rng);
    const rows = await p.array();
    x.dispose();
    p.dispose();
    checkFiniteProbabilities(rows, (k) => chunk[k]);
    rows.forEach((row, k) => {
      const best = argmax(row);
      out.push({
        file: chunk[k]!,
        label: meta.classNames[best] ?? String(best),
        probability: row[best]!,
        probabilities: Object.fromEntries(meta.classNames.map((c, j) => [c, row[j]!])),
      });
    });
  }
  bar.finish();
  return out;
}
