/**
 * A few RMSprop steps of a small convnet on wasm (composed training kernels,
 * threaded module) give the same losses and weights as the JS cpu backend.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initWasm } from '../src/backend/wasm.js';

let threads = 0;
let module = '';
before(async () => {
  const info = await initWasm({}, () => {});
  threads = info.threads;
  module = info.details.wasmModule;
});

function net(): tf.Sequential {
  const m = tf.sequential();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  m.add(tf.layers.conv2d({ inputShape: [19, 17, 3], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(2) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(3) }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init(4) }));
  m.compile({ optimizer: tf.train.rmsprop(1e-2), loss: 'binaryCrossentropy' });
  return m;
}

async function train(backend: string, x: Float32Array, y: Float32Array, steps: number): Promise<{ losses: number[]; weights: Float32Array[] }> {
  tf.setBackend(backend);
  const m = net();
  const xs = tf.tensor4d(x, [6, 19, 17, 3]),
    ys = tf.tensor2d(y, [6, 1]);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await m.trainOnBatch(xs, ys)) as number);
  const weights = m.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([xs, ys]);
  m.dispose();
  return { losses, weights };
}

test('the threaded module runs one XNNPACK thread per core', () => {
  const cores = Math.min(8, os.availableParallelism());
  assert.equal(threads, cores);
  assert.equal(module, cores > 1 ? 'threaded-simd' : 'simd');
});

test('training steps on wasm match cpu (losses and weights)', async () => {
  tf.setBackend('cpu');
  const x = tf.randomUniform([6, 19, 17, 3], 0, 1, 'float32', 11).dataSync() as Float32Array;
  const y = new Float32Array([0, 1, 1, 0, 1, 0]);
  const cpu = await train('cpu', x, y, 4);
  const wasm = await train('wasm', x, y, 4);
  cpu.losses.forEach((l, i) => assert.ok(Math.abs(wasm.losses[i] - l) <= 1e-4 * Math.abs(l), `step ${i}: wasm ${wasm.losses[i]} vs cpu ${l}`));
  assert.ok(cpu.losses[3] < cpu.losses[0], `the loss goes down: ${cpu.losses.join(', ')}`);
  cpu.weights.forEach((w, i) => {
    let diff = 0,
      scale = 0;
    for (let j = 0; j < w.length; j++) {
      diff = Math.max(diff, Math.abs(w[j] - wasm.weights[i][j]));
      scale = Math.max(scale, Math.abs(w[j]));
    }
    assert.ok(diff <= 1e-4 * scale, `weight ${i}: max diff ${diff} (scale ${scale})`);
  });
});

test("depthwise and separable layers train on wasm with the cpu backend's gradients", async () => {
  const build = () =>
    tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({
          inputShape: [9, 8, 4],
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu6',
          depthwiseInitializer: tf.initializers.glorotUniform({ seed: 5 }),
        }),
        tf.layers.separableConv2d({
          filters: 5,
          kernelSize: 3,
          depthMultiplier: 2,
          depthwiseInitializer: tf.initializers.glorotUniform({ seed: 6 }),
          pointwiseInitializer: tf.initializers.glorotUniform({ seed: 7 }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }),
      ],
    });
  const x = Float32Array.from({ length: 3 * 9 * 8 * 4 }, (_, i) => Math.sin(i * 0.37));
  const gradients = async (backend: string) => {
    await tf.setBackend(backend);
    const m = build();
    const xs = tf.tensor4d(x, [3, 9, 8, 4]);
    const { grads } = tf.variableGrads(() => tf.sum(m.apply(xs) as tf.Tensor) as tf.Scalar);
    const out = m.trainableWeights.map((w) => grads[w.originalName ?? w.name]!.dataSync() as Float32Array);
    tf.dispose([xs, ...Object.values(grads)]);
    m.dispose();
    return out;
  };
  const got = await gradients('wasm');
  const want = await gradients('cpu');
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    const scale = Math.max(...want[i]!.map(Math.abs));
    g.forEach((v, j) => assert.ok(Math.abs(v - want[i]![j]!) <= 1e-5 * scale, `weight ${i} element ${j}: wasm ${v}, cpu ${want[i]![j]}`));
  });
});
