/**
 * predict(): class, probability and all class probabilities for image files,
 * read the way the model was trained (size, color mode, resize filter from
 * convkit.json); optional seeded test-time augmentation.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, type Interpolation } from '../data/decode.js';
import { isImagePath, compareNames } from '../data/scan.js';
import { ConvkitError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { createRng } from '../util/rng.js';
import { loadModel, type LoadedModel } from './saved-model.js';
import { predictProbabilities, ttaTransform, type TtaOptions } from './tta.js';

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
}

/** Expands folders (recursively, sorted) into image files; plain files pass through. */
export async function expandImagePaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await fs.stat(p);
    } catch {
      throw new ConvkitError(`${p} not found`, 'pass image files or folders of images');
    }
    if (st.isDirectory()) {
      const entries = (await fs.readdir(p, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
      const sub = entries.filter((e) => e.isDirectory() || isImagePath(e.name)).map((e) => join(p, e.name));
      out.push(...await expandImagePaths(sub));
    } else {
      out.push(p);
    }
  }
  return out;
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
  const [h, w] = meta.inputSize;
  const channels = meta.colorMode === 'grayscale' ? 1 : 3;
  const interpolation = (meta.preprocessing.interpolation ?? 'bilinear') as Interpolation;
  const views = options.tta?.views ?? 1;
  const transform = views > 1 ? ttaTransform(options.tta?.augmentation) : undefined;
  const rng = createRng(seed);
  const out: Prediction[] = [];
  const bar = new Progress({ total: files.length, label: 'predicting', unit: 'img', silent: !options.progress });
  for (let i = 0; i < files.length; i += batchSize) {
    const chunk = files.slice(i, i + batchSize);
    const images = await Promise.all(chunk.map((f) => decodeImage(f, { targetSize: [h, w], colorMode: meta.colorMode, interpolation })));
    const buf = new Float32Array(chunk.length * h * w * channels);
    images.forEach((im, k) => buf.set(im.data, k * h * w * channels));
    const x = tf.tensor4d(buf, [chunk.length, h, w, channels]);
    const p = predictProbabilities(model, x, views, transform, rng);
    const rows = await p.array();
    x.dispose();
    p.dispose();
    rows.forEach((row, k) => {
      let best = 0;
      for (let c = 1; c < row.length; c++) if (row[c]! > row[best]!) best = c;
      out.push({
        file: chunk[k]!, label: meta.classNames[best] ?? String(best), probability: row[best]!,
        probabilities: Object.fromEntries(meta.classNames.map((c, j) => [c, row[j]!])),
      });
    });
    bar.tick(chunk.length);
  }
  bar.finish();
  return out;
}
