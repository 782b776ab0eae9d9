/**
 * Throughput of the augmentation step alone (sample + apply + standardize
 * with the book's settings) on batches of 32 images of 150×150×3.
 * Run: node --import tsx bench/augment.ts [wasm|cpu|native] [fillMode] [auto|tfjs|js]
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { ImageDataGenerator, type FillMode, type ResampleEngine } from '../src/augment/index.js';
import { createRng } from '../src/util/rng.js';
import { BOOK_AUGMENTATION } from '../src/augment/presets.js';

const backend = process.argv[2] ?? 'wasm';
const fillMode = (process.argv[3] ?? 'nearest') as FillMode;
const engine = (process.argv[4] ?? 'auto') as ResampleEngine;
if (backend === 'wasm') {
  setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/');
  setThreadsCount(1);
}
if (backend === 'native') await initBackend('native');
else {
  await tf.setBackend(backend);
  await tf.ready();
}
const g = new ImageDataGenerator({ ...BOOK_AUGMENTATION, rescale: 1 / 255, fillMode });
g.engine = engine;
const step = g.batchTransform();
const rng = createRng(1);
const x = tf.randomUniform([32, 150, 150, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
// Wall time, and this process's CPU time (user + system), which a busy shared machine distorts less.
const times: number[] = [],
  cpu: number[] = [];
for (let i = 0; i < 25; i++) {
  const t0 = performance.now(),
    c0 = process.cpuUsage();
  const y = step(x, rng);
  y.dataSync();
  y.dispose();
  const c = process.cpuUsage(c0);
  if (i >= 5) {
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const wall = median(times),
  busy = median(cpu);
console.log(
  `${tf.getBackend()} fill=${fillMode} engine=${engine}: per batch of 32: wall ${wall.toFixed(1)} ms (${(32000 / wall).toFixed(0)} images/s), cpu ${busy.toFixed(1)} ms (${(32000 / busy).toFixed(0)} images/s per core)`,
);
