/**
 * Input-pipeline throughput: images/s for the first epoch (decode + resize),
 * for later epochs (batches from the cache) and, when a transform is given,
 * for cached batches with that transform (augmentation).
 */
import * as tf from '@tensorflow/tfjs';
import { Progress } from '../util/progress.js';
import { ImageCache } from './cache.js';
import { flowFromDirectory, type BatchTransform, type DirectoryIterator } from './iterator.js';

export interface BenchDataOptions {
  /** A class-folder tree, e.g. cats_and_dogs_small/train. */
  dir: string;
  targetSize?: readonly [number, number];
  batchSize?: number;
  /** Applied per batch in the augmented phase (skipped when absent). */
  transform?: BatchTransform;
  /** Cached epochs timed per phase (default 1). */
  epochs?: number;
  seed?: number;
  /** Print progress (stderr) and the table (stdout); default true. */
  print?: boolean;
}

export interface PhaseResult {
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface BenchDataResult {
  dir: string;
  targetSize: [number, number];
  batchSize: number;
  backend: string;
  decode: PhaseResult;
  cached: PhaseResult;
  augmented?: PhaseResult;
  /** Decoded pixels held in memory after the run. */
  cacheMiB: number;
}

async function timeEpochs(it: DirectoryIterator, epochs: number, label: string, print: boolean): Promise<PhaseResult> {
  const progress = new Progress({ total: it.n * epochs, label, unit: 'img', silent: !print });
  let images = 0;
  const start = performance.now();
  for (let e = 0; e < epochs; e++) {
    for await (const batch of it.epoch()) {
      // The cpu, wasm and native backends run each op eagerly, so the batch (and
      // its transform) is complete here without reading it back.
      images += batch.x.shape[0];
      progress.tick(batch.x.shape[0]);
      batch.x.dispose();
      batch.y?.dispose();
    }
  }
  const seconds = (performance.now() - start) / 1000;
  progress.finish();
  return { images, seconds, imagesPerSecond: images / seconds };
}

/** Measures the data pipeline on `dir`, prints a small table and returns the numbers. */
export async function benchData(options: BenchDataOptions): Promise<BenchDataResult> {
  const { dir, targetSize = [150, 150], batchSize = 32, transform, epochs = 1, seed = 42, print = true } = options;
  const cache = new ImageCache();
  const common = { targetSize, batchSize, seed, cache, classMode: 'sparse' as const };
  const plain = await flowFromDirectory(dir, common);
  const decode = await timeEpochs(plain, 1, 'decode+resize', print);
  const cached = await timeEpochs(plain, epochs, 'cached', print);
  let augmented: PhaseResult | undefined;
  if (transform) {
    const aug = await flowFromDirectory(dir, { ...common, transform });
    augmented = await timeEpochs(aug, epochs, 'cached+augment', print);
  }
  const result: BenchDataResult = {
    dir, targetSize: [targetSize[0], targetSize[1]], batchSize, backend: tf.getBackend(), decode, cached, augmented,
    cacheMiB: cache.stats.bytes / 2 ** 20,
  };
  cache.clear();
  if (print) console.log(formatBenchTable(result));
  return result;
}

export function formatBenchTable(r: BenchDataResult): string {
  const rows: [string, PhaseResult | undefined][] = [
    [`first epoch (decode + resize to ${r.targetSize.join('×')})`, r.decode],
    ['later epochs (cached batches)', r.cached],
    ['cached batches + transform', r.augmented],
  ];
  const w = Math.max(...rows.map(([l]) => l.length));
  const lines = [
    `data pipeline: ${r.dir} (backend ${r.backend}, batch ${r.batchSize}, cache ${r.cacheMiB.toFixed(0)} MiB)`,
    `${'phase'.padEnd(w)}  ${'images'.padStart(7)}  ${'seconds'.padStart(8)}  ${'images/s'.padStart(9)}`,
  ];
  for (const [label, p] of rows) {
    if (!p) continue;
    lines.push(`${label.padEnd(w)}  ${String(p.images).padStart(7)}  ${p.seconds.toFixed(2).padStart(8)}  ${p.imagesPerSecond.toFixed(0).padStart(9)}`);
  }
  return lines.join('\n');
}
