/**
 * Input-pipeline throughput: images/s for the first epoch (decode + resize),
 * for later epochs (batches from the cache) and, for each transform given,
 * for cached batches with that transform (augmentation), side by side.
 */
import * as tf from '@tensorflow/tfjs';
import { Progress } from '../util/progress.js';
import { ImageCache } from '../data/cache.js';
import { flowFromDirectory, type BatchTransform, type DirectoryIterator } from '../data/iterator.js';

export interface BenchDataOptions {
  /** A class-folder tree, e.g. cats_and_dogs_small/train. */
  dir: string;
  targetSize?: readonly [number, number];
  batchSize?: number;
  /** Applied per batch, one timed phase each (e.g. augmentation with two resampling engines). */
  transforms?: { label: string; transform: BatchTransform }[];
  /** Cached epochs timed per phase (default 1). */
  epochs?: number;
  seed?: number;
  /** Print progress (stderr) and the table (stdout); default true. */
  print?: boolean;
}

interface PhaseResult {
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
  /** One per transform, in order. */
  augmented: (PhaseResult & { label: string })[];
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
  const { dir, targetSize = [150, 150], batchSize = 32, transforms = [], epochs = 1, seed = 42, print = true } = options;
  const cache = new ImageCache();
  const common = { targetSize, batchSize, seed, cache, classMode: 'sparse' as const };
  const plain = await flowFromDirectory(dir, common);
  const decode = await timeEpochs(plain, 1, 'decode+resize', print);
  const cached = await timeEpochs(plain, epochs, 'cached', print);
  const augmented: BenchDataResult['augmented'] = [];
  for (const { label, transform } of transforms) {
    const aug = await flowFromDirectory(dir, { ...common, transform });
    augmented.push({ label, ...(await timeEpochs(aug, epochs, label, print)) });
  }
  const result: BenchDataResult = {
    dir,
    targetSize: [targetSize[0], targetSize[1]],
    batchSize,
    backend: tf.getBackend(),
    decode,
    cached,
    augmented,
    cacheMiB: cache.stats.bytes / 2 ** 20,
  };
  cache.clear();
  if (print) console.log(formatBenchTable(result));
  return result;
}

export function formatBenchTable(r: BenchDataResult): string {
  const rows: [string, PhaseResult][] = [
    [`first epoch (decode + resize to ${r.targetSize.join('×')})`, r.decode],
    ['later epochs (cached batches)', r.cached],
    ...r.augmented.map((a): [string, PhaseResult] => [`cached batches + ${a.label}`, a]),
  ];
  const w = Math.max(...rows.map(([l]) => l.length));
  const lines = [
    `data pipeline: ${r.dir} (backend ${r.backend}, batch ${r.batchSize}, cache ${r.cacheMiB.toFixed(0)} MiB)`,
    `${'phase'.padEnd(w)}  ${'images'.padStart(7)}  ${'seconds'.padStart(8)}  ${'images/s'.padStart(9)}`,
  ];
  for (const [label, p] of rows) {
    lines.push(`${label.padEnd(w)}  ${String(p.images).padStart(7)}  ${p.seconds.toFixed(2).padStart(8)}  ${p.imagesPerSecond.toFixed(0).padStart(9)}`);
  }
  const [first, ...others] = r.augmented;
  for (const o of others) lines.push(`${first!.label}: ${(first!.imagesPerSecond / o.imagesPerSecond).toFixed(2)}× the images/s of ${o.label}`);
  return lines.join('\n');
}
