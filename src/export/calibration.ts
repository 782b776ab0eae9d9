/**
 * Calibration of an int8 export: images drawn (seeded) from a folder go
 * through the float graph, and every tensor's range and per-channel mean
 * are recorded — the ranges give the activations' quantization parameters,
 * the means the bias correction of the rounded weights.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { decodeBatch, type ResolvedDecodeOptions } from '../data/cache.js';
import { listImageFiles, scanImageFolder, subFolderCount } from '../data/scan.js';
import { ConvkitError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { createRng } from '../util/rng.js';
import type { Graph } from './tflite-graph.js';
import { GraphRunner } from './tflite-run.js';

export interface Range {
  min: number;
  max: number;
}

/**
 * Every graph tensor's min, max and per-channel (last axis) mean over the
 * calibration images: `observe` is a GraphRunner observer, `flush` folds a
 * batch's observations in with one read from the backend.
 */
export class CalibrationStats {
  private readonly ranges = new Map<number, Range>();
  private readonly sums = new Map<number, { sum: Float64Array; count: number }>();
  private pending: [number, number, tf.Tensor][] = [];

  readonly observe = (index: number, value: tf.Tensor): void => {
    const positions = value.size / value.shape[value.rank - 1]!;
    const axes = value.shape.slice(0, -1).map((_, i) => i);
    this.pending.push([index, positions, tf.keep(tf.concat([tf.stack([value.min(), value.max()]), tf.sum(value, axes)]))]);
  };

  flush(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    const values = tf.tidy(() => tf.concat(pending.map(([, , t]) => t)).dataSync());
    tf.dispose(pending.map(([, , t]) => t));
    let at = 0;
    for (const [index, positions, t] of pending) {
      const [min, max] = [values[at]!, values[at + 1]!];
      const r = this.ranges.get(index);
      this.ranges.set(index, r ? { min: Math.min(r.min, min), max: Math.max(r.max, max) } : { min, max });
      const channels = t.size - 2;
      const s = this.sums.get(index) ?? { sum: new Float64Array(channels), count: 0 };
      for (let c = 0; c < channels; c++) s.sum[c]! += values[at + 2 + c]!;
      s.count += positions;
      this.sums.set(index, s);
      at += t.size;
    }
  }

  range(index: number): Range | undefined {
    return this.ranges.get(index);
  }

  /** Mean of each channel (last axis) over all calibration images and positions. */
  channelMean(index: number): Float64Array | undefined {
    const s = this.sums.get(index);
    return s && s.sum.map((v) => v / s.count);
  }
}

/** `count` images drawn with `seed` from `dir` (class sub-folders, or images anywhere below it). */
export async function calibrationFiles(dir: string, count: number, seed: number): Promise<string[]> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch {
    throw new ConvkitError(`calibration folder ${dir} not found`, 'pass --calibration DIR: a folder of images like those the model will classify');
  }
  if (!st.isDirectory()) throw new ConvkitError(`--calibration ${dir} is not a folder`, 'pass a folder of images (class sub-folders are fine)');
  const files = (await subFolderCount(dir)) >= 2 ? (await scanImageFolder(dir)).files.map((f) => f.path) : (await listImageFiles([dir])).files;
  if (files.length === 0) throw new ConvkitError(`calibration folder ${dir} holds no images`, 'pass a folder of images like those the model will classify');
  return createRng(seed).shuffle(files).slice(0, count);
}

const BATCH = 16;

/** Runs `files`, read as `read` says, through the float graph; returns what it saw. */
export async function calibrate(graph: Graph, files: string[], read: ResolvedDecodeOptions, silent: boolean): Promise<CalibrationStats> {
  const [h, w] = read.targetSize;
  const channels = read.colorMode === 'grayscale' ? 1 : 3;
  const runner = new GraphRunner(graph);
  const stats = new CalibrationStats();
  const progress = new Progress({ total: files.length, label: 'calibrating', unit: 'img', silent });
  try {
    for (let i = 0; i < files.length; i += BATCH) {
      const batch = files.slice(i, i + BATCH);
      const { pixels } = await decodeBatch(batch, read);
      const x = tf.tensor4d(pixels, [batch.length, h, w, channels]);
      tf.dispose([runner.run(x, stats.observe), x]);
      stats.flush();
      progress.tick(batch.length);
    }
    progress.finish();
  } finally {
    runner.dispose();
  }
  return stats;
}
