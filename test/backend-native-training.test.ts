/** A small CNN trained on the native backend follows the cpu backend step by
 * step, and repeated steps leak neither tensors nor memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { nativeCalls } from '../src/backend/native.js';
import { assertClose, createRng, randomInput, setup, skipReason, type Input } from './backend-native-util.js';

const rng = createRng(5);
const xIn = randomInput(rng, [8, 18, 18, 3], 1, true);
const yIn: Input = { shape: [8, 1], data: Float32Array.from({ length: 8 }, (_, i) => i % 2) };

function build(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [18, 18, 3], filters: 8, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 16, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  return m;
}

let initial: Input[] | undefined;

/** The model on the current backend, with the same starting weights every time. */
function model(): tf.LayersModel {
  const m = build();
  if (!initial) initial = m.getWeights().map((w) => ({ shape: w.shape, data: new Float32Array(w.dataSync()) }));
  else m.setWeights(initial.map((w) => tf.tensor(w.data, w.shape)));
  return m;
}

async function gradients(backend: string): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const m = model();
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  const { grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, m.apply(x) as tf.Tensor));
  const out = m.trainableWeights.map((w) => new Float32Array(grads[w.originalName ?? w.name].dataSync()));
  tf.dispose([x, y, ...Object.values(grads)]);
  m.dispose();
  return out;
}

/** The same gradients taken the way training takes them, through an optimizer (see src/backend/fused-conv.ts). */
async function optimizerGradients(backend: string): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  const m = model();
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  let grads: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const r = tf.train.sgd(0.1).computeGradients(() => tf.losses.sigmoidCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar);
    grads = m.trainableWeights.map((w) => new Float32Array(r.grads[w.originalName ?? w.name]!.dataSync()));
    tf.dispose([r.value, ...Object.values(r.grads)]);
  });
  tf.dispose([x, y]);
  m.dispose();
  return { grads, kernels: profile.kernels.map((k) => k.name) };
}

async function lossCurve(backend: string, steps: number): Promise<number[]> {
  await tf.setBackend(backend);
  const m = model();
  m.compile({ optimizer: tf.train.rmsprop(1e-3), loss: 'binaryCrossentropy' });
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await m.trainOnBatch(x, y)) as number);
  tf.dispose([x, y]);
  m.dispose();
  return losses;
}

test("gradients of a small CNN equal the cpu backend's", { skip: skipReason }, async () => {
  await setup();
  const before = nativeCalls.Conv2DBackpropFilter;
  const got = await gradients('native');
  assert.ok(nativeCalls.Conv2DBackpropFilter > before, 'conv backprop ran natively');
  const want = await gradients('cpu');
  assert.equal(got.length, 8);
  got.forEach((g, i) => assertClose(g, want[i], 1e-4, `gradient ${i}`));
});

test(
  "through an optimizer, the pools fold in the convolutions' relu gradient, and the gradients still equal the cpu backend's",
  { skip: skipReason },
  async () => {
    await setup();
    const got = await optimizerGradients('native');
    assert.equal(got.kernels.filter((k) => k === 'ConvkitMaxPoolReluGrad').length, 2, got.kernels.join(', '));
    // No relu-gradient pass between a pool's gradient and its convolution's.
    got.kernels.forEach((k, i) => {
      if (k === 'ConvkitMaxPoolReluGrad') assert.match(got.kernels[i + 1]!, /^Conv2DBackprop/, got.kernels.join(', '));
    });
    const want = await optimizerGradients('cpu');
    assert.ok(want.kernels.includes('MaxPoolGrad'));
    got.grads.forEach((g, i) => assertClose(g, want.grads[i]!, 1e-4, `gradient ${i}`));
  },
);

test("20 RMSprop steps follow the cpu backend's loss curve", { skip: skipReason }, async () => {
  await setup();
  const got = await lossCurve('native', 20);
  const want = await lossCurve('cpu', 20);
  assert.ok(want[19] < want[0], 'the loss goes down');
  for (let i = 0; i < 20; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * Math.abs(want[i]), `step ${i}: native ${got[i]}, cpu ${want[i]}`);
  }
});

test('repeated training steps keep tf.memory() and RSS flat', { skip: skipReason }, async () => {
  await setup();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await tf.setBackend('native');
  const m = model();
  m.compile({ optimizer: tf.train.rmsprop(1e-3), loss: 'binaryCrossentropy' });
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  const step = async (n: number) => {
    for (let i = 0; i < n; i++) await m.trainOnBatch(x, y);
    gc();
  };
  await step(10);
  const tensors = tf.memory().numTensors,
    rss = process.memoryUsage().rss;
  await step(60);
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
  const grown = (process.memoryUsage().rss - rss) / 2 ** 20;
  assert.ok(grown < 20, `RSS grew by ${grown.toFixed(1)} MiB over 60 steps`);
  tf.dispose([x, y]);
  m.dispose();
  await tf.setBackend('cpu');
});
