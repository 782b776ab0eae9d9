/**
 * Batch normalization on the native backend: the FusedBatchNorm kernel and
 * the training kernels (moments + normalization, and their gradient) against
 * TF.js's own ops on the JS cpu kernels, and a small BN + ReLU + separable
 * convolution residual net whose gradients, losses and moving statistics
 * follow the cpu backend's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { nativeBatchNormTraining } from '../src/backend/batch-norm-native.js';
import { nativeCalls } from '../src/backend/native.js';
import { assertClose, createRng, parity, randomInput, runOn, setup, skipReason, type Input } from './backend-native-util.js';

const rng = createRng(11);

for (const [what, shape, paramShape, withAffine] of [
  ['NHWC, per-channel parameters', [4, 8, 9, 16], [16], true],
  ['rank 2, per-feature parameters, no offset or scale', [40, 300], [300], false],
  ['one mean and variance for every channel', [3, 8, 8, 64], [1], true],
] as const) {
  test(`FusedBatchNorm (${what}) runs natively with the cpu backend's values`, { skip: skipReason }, async () => {
    await setup();
    const x = randomInput(rng, [...shape], 2);
    const mean = randomInput(rng, [...paramShape]);
    const variance = randomInput(rng, [...paramShape], 1, true);
    const offset = randomInput(rng, [...paramShape]);
    const scale = randomInput(rng, [...paramShape]);
    const inputs = withAffine ? [x, mean, variance, offset, scale] : [x, mean, variance];
    await parity(what, inputs, (xs, m, v, o, s) => tf.batchNorm(xs!, m!, v!, o, s, 0.001), ['FusedBatchNorm'], 1e-5);
  });
}

/** TF.js's own training-mode arithmetic (moments, then batchNorm), differentiated by its autodiff: the reference. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, w: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const bn = (xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => {
    const { mean, variance } = tf.moments(xs, axes);
    return { y: tf.batchNorm(xs, mean, variance, bs, gs, 1e-3), mean, variance };
  };
  const { y, mean, variance } = bn(x, gamma, beta);
  const grads = tf.grads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(bn(xs, gs, bs).y, w)) as tf.Scalar)([x, gamma, beta]);
  return [y, mean, variance, ...grads];
}

/**
 * The same through a BatchNormalization layer in training mode: its output, the batch moments (read from
 * the moving statistics, which momentum 0 sets to them) and the gradients in x, γ and β.
 */
function throughLayer(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, w: tf.Tensor): tf.Tensor[] {
  const channels = x.shape[x.rank - 1]!;
  const layer = tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0, inputShape: x.shape.slice(1) });
  tf.sequential({ layers: [layer] });
  layer.setWeights([gamma, beta, tf.zeros([channels]), tf.zeros([channels])]);
  const loss = (xs: tf.Tensor) => tf.sum(tf.mul(layer.apply(xs, { training: true }) as tf.Tensor, w)) as tf.Scalar;
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const [, , mean, variance] = layer.getWeights();
  const dx = tf.grads(loss)([x])[0]!;
  const [g, b] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => loss(x), [g!, b!]);
  return [y, mean!, variance!, dx, grads[g!.name]!, grads[b!.name]!];
}

for (const [what, shape, center, spread] of [
  ['a conv activation (NHWC)', [6, 10, 12, 24], 0, 1],
  ['values far from zero (mean 50, σ 0.5)', [8, 9, 9, 16], 50, 0.5],
  ['a dense activation (rank 2)', [32, 200], 0, 3],
] as const) {
  test(`BatchNormalization in training mode on ${what}: the native kernels give TF.js's moments, output and gradients`, { skip: skipReason }, async () => {
    await setup();
    const n = shape.reduce((a, b) => a * b, 1);
    const channels = shape[shape.length - 1]!;
    const x: Input = { shape: [...shape], data: Float32Array.from(randomInput(rng, [n]).data, (v) => center + spread * v) };
    const gamma = randomInput(rng, [channels]);
    const beta = randomInput(rng, [channels]);
    const w = randomInput(rng, [...shape]);
    let got: Float32Array[] = [];
    const profile = await tf.profile(async () => {
      got = await runOn('native', [x, gamma, beta, w], (xs, g, b, ws) => throughLayer(xs!, g!, b!, ws!));
    });
    const kernels = profile.kernels.map((k) => k.name);
    assert.ok(kernels.includes('ConvkitBatchNormTrain') && kernels.includes('ConvkitBatchNormTrainGrad'), kernels.join(', '));
    assert.ok(!kernels.includes('SquaredDifference') && !kernels.includes('FusedBatchNorm'), kernels.join(', '));
    const want = await runOn('cpu', [x, gamma, beta, w], (xs, g, b, ws) => reference(xs!, g!, b!, ws!));
    ['y', 'mean', 'variance', 'dx', 'dγ', 'dβ'].forEach((name, i) => assertClose(got[i]!, want[i]!, 1e-5, name));
  });
}

test('without the native kernel (the cpu backend) BatchNormalization trains on the composed path', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [4, 3, 3, 8]);
  const gamma = randomInput(rng, [8]);
  const beta = randomInput(rng, [8]);
  const w = randomInput(rng, [4, 3, 3, 8]);
  await tf.setBackend('cpu');
  assert.equal(
    tf.tidy(() => nativeBatchNormTraining(tf.zeros([4, 3, 3, 8]), tf.ones([8]), tf.zeros([8]), 1e-3, false)),
    undefined,
  );
  const got = await runOn('cpu', [x, gamma, beta, w], (xs, g, b, ws) => throughLayer(xs!, g!, b!, ws!));
  const want = await runOn('cpu', [x, gamma, beta, w], (xs, g, b, ws) => reference(xs!, g!, b!, ws!));
  ['y', 'mean', 'variance', 'dx', 'dγ', 'dβ'].forEach((name, i) => assertClose(got[i]!, want[i]!, 1e-5, name));
});

/** conv → BN → ReLU → separable conv, plus a strided 1×1 residual; BN → ReLU → GAP → dense (mini-Xception in small). */
function tinyNet(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const seed = { seed: 3 };
  let x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform(seed) }), input);
  const residual = x;
  x = apply(tf.layers.batchNormalization({ gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 4 }) }), x);
  x = apply(tf.layers.activation({ activation: 'relu' }), x);
  x = apply(
    tf.layers.separableConv2d({
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      depthwiseInitializer: tf.initializers.glorotUniform({ seed: 5 }),
      pointwiseInitializer: tf.initializers.glorotUniform({ seed: 6 }),
    }),
    x,
  );
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  // No bias before a BatchNormalization: its gradient would be zero up to rounding noise.
  const shortcut = apply(
    tf.layers.conv2d({
      filters: 16,
      kernelSize: 1,
      strides: 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
    }),
    residual,
  );
  x = apply(tf.layers.add(), [x, shortcut]);
  x = apply(tf.layers.batchNormalization({ betaInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 8 }) }), x);
  x = apply(tf.layers.activation({ activation: 'relu' }), x);
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  return tf.model({
    inputs: input,
    outputs: apply(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }), x),
  });
}

const xIn = randomInput(createRng(12), [16, 12, 12, 3]);
const yIn: Input = { shape: [16, 1], data: Float32Array.from({ length: 16 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)) };

/** Gradients of the loss in every trainable weight, in training mode, and the kernels that ran. */
async function netGradients(backend: string): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  const m = tinyNet();
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  let out: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const { grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor));
    out = m.trainableWeights.map((w) => new Float32Array(grads[w.originalName ?? w.name]!.dataSync()));
    tf.dispose(Object.values(grads));
  });
  tf.dispose([x, y]);
  m.dispose();
  await tf.setBackend('cpu');
  return { grads: out, kernels: profile.kernels.map((k) => k.name) };
}

/** Three RMSprop steps: the losses, then the moving means and variances, then predictions in inference mode. */
async function netTraining(backend: string): Promise<{ losses: number[]; stats: Float32Array[]; predictions: Float32Array }> {
  await tf.setBackend(backend);
  const m = tinyNet();
  m.compile({ optimizer: tf.train.rmsprop(1e-2), loss: 'binaryCrossentropy' });
  const x = tf.tensor(xIn.data, xIn.shape),
    y = tf.tensor(yIn.data, yIn.shape);
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) losses.push((await m.trainOnBatch(x, y)) as number);
  const stats = m.weights.filter((w) => /moving_(mean|variance)/.test(w.name)).map((w) => new Float32Array(w.read().dataSync()));
  const p = m.predict(x) as tf.Tensor;
  const predictions = new Float32Array(p.dataSync());
  tf.dispose([x, y, p]);
  m.dispose();
  await tf.setBackend('cpu');
  return { losses, stats, predictions };
}

test("a small BN + ReLU + separable-conv residual net: gradients equal the cpu backend's", { skip: skipReason }, async () => {
  await setup();
  const got = await netGradients('native');
  assert.equal(got.kernels.filter((k) => k === 'ConvkitBatchNormTrainGrad').length, 2, got.kernels.join(', '));
  const want = await netGradients('cpu');
  // conv, 2 × (γ, β), depthwise, pointwise, 1×1 kernel, dense kernel and bias
  assert.equal(got.grads.length, 10);
  got.grads.forEach((g, i) => assertClose(g, want.grads[i]!, 1e-4, `gradient ${i}`));
});

test("training steps of that net: losses, moving statistics and inference-mode predictions follow the cpu backend's", { skip: skipReason }, async () => {
  await setup();
  const inference = nativeCalls.FusedBatchNorm ?? 0;
  const got = await netTraining('native');
  assert.ok((nativeCalls.FusedBatchNorm ?? 0) >= inference + 2, 'inference-mode batch norm ran natively');
  const want = await netTraining('cpu');
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(got.losses[i]! - want.losses[i]!) <= 1e-5 * Math.abs(want.losses[i]!) + 1e-6, `loss ${i}: ${got.losses[i]} vs ${want.losses[i]}`);
  assert.equal(got.stats.length, 4);
  got.stats.forEach((s, i) => assertClose(s, want.stats[i]!, 1e-5, `moving statistic ${i}`));
  assertClose(got.predictions, want.predictions, 1e-5, 'predictions');
});
