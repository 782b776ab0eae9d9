/**
 * Speed of the native (oneDNN) backend on this machine:
 *   1. a 3x3 convolution, 4x75x75, 128 -> 128 channels (GFLOPS);
 *   2. one training step of the book's small CNN (150x150x3, batch 20,
 *      RMSprop), with the kernels that took the most time.
 * Run: node --import tsx bench/native-kernels.ts [--steps N] [--profile]
 */
import * as tf from '@tensorflow/tfjs';
import { initNative } from '../src/backend/native.js';
import { makeOptimizer } from '../src/train/optimizers.js';

const argv = process.argv.slice(2);
const steps = Number(argv[argv.indexOf('--steps') + 1]) || 5;
const profile = argv.includes('--profile');

const info = await initNative();
console.log(`backend native: oneDNN ${info.details.onednn}, ${info.details.isa} (${info.details.convImpl}), ${info.threads} threads`);

function convBench(): void {
  const [n, h, w, c, k] = [4, 75, 75, 128, 128];
  const x = tf.randomNormal([n, h, w, c]) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, c, k]) as tf.Tensor4D;
  const flops = 2 * n * h * w * k * 9 * c;
  for (let i = 0; i < 3; i++)
    tf.tidy(() => {
      tf.conv2d(x, f, 1, 'same').dataSync();
    });
  const reps = 20;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      tf.conv2d(x, f, 1, 'same').dataSync();
    });
    times.push(performance.now() - t0);
  }
  const mean = times.reduce((a, b) => a + b, 0) / reps;
  // The best run is the one least disturbed by other processes.
  const best = Math.min(...times);
  const gf = (ms: number) => (flops / ms / 1e6).toFixed(1);
  console.log(`conv 3x3 ${n}x${h}x${w} ${c}->${k}: mean ${mean.toFixed(2)} ms (${gf(mean)} GFLOPS), best ${best.toFixed(2)} ms (${gf(best)} GFLOPS)`);
  tf.dispose([x, f]);
}

function smallCnn(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [150, 150, 3], filters: 32, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  for (const filters of [64, 128, 128]) {
    m.add(tf.layers.conv2d({ filters, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  }
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 512, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  // convkit's RMSprop (the fused native update), as `fit` uses.
  m.compile({ optimizer: makeOptimizer('rmsprop', { learningRate: 1e-4 }), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return m;
}

async function trainBench(): Promise<void> {
  const model = smallCnn();
  const x = tf.randomUniform([20, 150, 150, 3], 0, 1);
  const y = tf.cast(tf.randomUniform([20, 1], 0, 2, 'int32'), 'float32');
  await model.trainOnBatch(x, y); // builds caches and primitives
  const t0 = performance.now(),
    c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const s = (performance.now() - t0) / steps / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6 / steps;
  // CPU seconds show how much work a step is when the machine is shared.
  console.log(`small CNN train step (batch 20, 150px): ${s.toFixed(3)} s/step, ${(s * 100).toFixed(1)} s per 2,000-image epoch (${cpu.toFixed(3)} CPU s/step)`);
  if (profile) {
    const p = await tf.profile(async () => {
      await model.trainOnBatch(x, y);
    });
    const by = new Map<string, number>();
    for (const k of p.kernels) {
      const key = process.env.PROFILE_SHAPES ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      by.set(key, (by.get(key) ?? 0) + (k.kernelTimeMs as number));
    }
    const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 15);
    for (const [name, ms] of top) console.log(`  ${name.padEnd(60)} ${ms.toFixed(1)} ms`);
  }
  tf.dispose([x, y]);
  model.dispose();
}

convBench();
await trainBench();
