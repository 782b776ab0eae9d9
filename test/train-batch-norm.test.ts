/**
 * BatchNormalization trains as it should: batch statistics in training
 * (checked against plain float64 JS: the forward pass by hand, the
 * gradients by finite differences), moving averages updated and used at
 * inference, frozen layers left in inference mode; on the JS cpu backend
 * and on the native one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { installBatchNormTraining } from '../src/backend/batch-norm-training.js';
import { xresnet } from '../src/models/xresnet.js';
import { fit } from '../src/train/fit.js';
import { freeze } from '../src/transfer/freeze.js';
import { setup, skipReason } from './backend-native-util.js';

const BACKENDS = skipReason ? ['cpu'] : ['cpu', 'native'];

before(async () => {
  await setup();
  installBatchNormTraining();
});

// A 1×1 convolution (2 → 2 channels, no bias), BatchNormalization, Flatten, Dense(1, sigmoid).
const N = 3,
  H = 2,
  W = 2,
  C = 2;
const X = Array.from({ length: N * H * W * C }, (_, i) => Math.sin(1.3 * i + 0.4) * 2 + (i % C) * 0.7);
const Y = [1, 0, 1];
const INITIAL = {
  kernel: [0.8, -0.3, 0.5, 1.1], // [in][out]
  gamma: [1.5, 0.5],
  beta: [0.2, -0.1],
  movingMean: [0.1, -0.2],
  movingVariance: [2, 0.5],
  dense: Array.from({ length: H * W * C }, (_, i) => 0.3 * Math.cos(i)),
  bias: [0.05],
};
const MOMENTUM = 0.9,
  EPSILON = 1e-3,
  LR = 0.1;

type Params = typeof INITIAL;

function build(): tf.LayersModel {
  const input = tf.input({ shape: [H, W, C] });
  let x = tf.layers.conv2d({ filters: C, kernelSize: 1, useBias: false, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: MOMENTUM, epsilon: EPSILON, name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'dense' }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  const p = INITIAL;
  m.getLayer('conv').setWeights([tf.tensor4d(p.kernel, [1, 1, C, C])]);
  m.getLayer('bn').setWeights([tf.tensor1d(p.gamma), tf.tensor1d(p.beta), tf.tensor1d(p.movingMean), tf.tensor1d(p.movingVariance)]);
  m.getLayer('dense').setWeights([tf.tensor2d(p.dense, [H * W * C, 1]), tf.tensor1d(p.bias)]);
  return m;
}

/** The conv output, per pixel and channel, in float64. */
function convOut(p: Params): number[] {
  const u: number[] = [];
  for (let i = 0; i < N * H * W; i++) for (let o = 0; o < C; o++) u.push(X[i * C]! * p.kernel[o]! + X[i * C + 1]! * p.kernel[C + o]!);
  return u;
}

/** Per-channel batch mean and biased variance of the conv output. */
function batchMoments(p: Params): { mean: number[]; variance: number[] } {
  const u = convOut(p);
  const mean = [0, 1].map((c) => u.filter((_, i) => i % C === c).reduce((a, b) => a + b, 0) / (N * H * W));
  const variance = [0, 1].map((c) => u.filter((_, i) => i % C === c).reduce((a, b) => a + (b - mean[c]!) ** 2, 0) / (N * H * W));
  return { mean, variance };
}

/** Probabilities of the model with the given parameters, normalizing with `stats` (the batch's or the moving ones). */
function forward(p: Params, stats: { mean: number[]; variance: number[] }): number[] {
  const u = convOut(p);
  const y = u.map((v, i) => {
    const c = i % C;
    return (p.gamma[c]! * (v - stats.mean[c]!)) / Math.sqrt(stats.variance[c]! + EPSILON) + p.beta[c]!;
  });
  return Array.from({ length: N }, (_, n) => {
    let z = p.bias[0]!;
    for (let j = 0; j < H * W * C; j++) z += y[n * H * W * C + j]! * p.dense[j]!;
    return 1 / (1 + Math.exp(-z));
  });
}

/** The training loss (batch statistics), mean binary cross-entropy. */
function trainingLoss(p: Params): number {
  const probs = forward(p, batchMoments(p));
  return probs.reduce((a, q, n) => a - (Y[n]! * Math.log(q) + (1 - Y[n]!) * Math.log(1 - q)), 0) / N;
}

/** Central finite-difference gradient of the training loss with respect to `key`. */
function numericGradient(key: 'kernel' | 'gamma' | 'beta' | 'dense' | 'bias'): number[] {
  const h = 1e-6;
  return INITIAL[key].map((_, i) => {
    const at = (d: number) => trainingLoss({ ...INITIAL, [key]: INITIAL[key].map((v, j) => (j === i ? v + d : v)) });
    return (at(h) - at(-h)) / (2 * h);
  });
}

function assertNear(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err})`);
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: one SGD step trains BatchNormalization on the batch's statistics and moves the averages (plain JS reference)`, async () => {
    await tf.setBackend(backend);
    const model = build();
    const x = tf.tensor4d(X, [N, H, W, C]),
      y = tf.tensor2d(Y, [N, 1]);
    // The step runs no FusedBatchNorm (whose gradient tiles 1/σ in JS) and no Tile: the closed-form op does
    // (unless CONVKIT_FUSED_BN=0 keeps tfjs's path, which the same reference then checks).
    const profile = await tf.profile(async () => {
      await fit(model, { x, y, batchSize: N }, { epochs: 1, optimizer: 'sgd', learningRate: LR, verbose: false, handleSigint: false, classMode: 'binary' });
    });
    const kernels = new Set(profile.kernels.map((k) => k.name));
    if (process.env.CONVKIT_FUSED_BN !== '0') assert.ok(!kernels.has('FusedBatchNorm') && !kernels.has('Tile'), [...kernels].join(', '));

    const { mean, variance } = batchMoments(INITIAL);
    const step = (key: 'kernel' | 'gamma' | 'beta' | 'dense' | 'bias') => INITIAL[key].map((v, i) => v - LR * numericGradient(key)[i]!);
    const weightsOf = (name: string) =>
      model
        .getLayer(name)
        .getWeights()
        .map((t) => Array.from(t.dataSync()));
    const bn = weightsOf('bn');
    assertNear(weightsOf('conv')[0]!, step('kernel'), 1e-5, 'conv kernel (through dL/dx of the normalization)');
    assertNear(bn[0]!, step('gamma'), 1e-5, 'gamma');
    assertNear(bn[1]!, step('beta'), 1e-5, 'beta');
    // Keras's update: moving ← momentum·moving + (1 − momentum)·batch, with the biased batch variance.
    const movingMean = INITIAL.movingMean.map((m, c) => MOMENTUM * m + (1 - MOMENTUM) * mean[c]!);
    const movingVariance = INITIAL.movingVariance.map((v, c) => MOMENTUM * v + (1 - MOMENTUM) * variance[c]!);
    assertNear(bn[2]!, movingMean, 1e-5, 'moving mean');
    assertNear(bn[3]!, movingVariance, 1e-5, 'moving variance');
    assertNear(weightsOf('dense')[0]!, step('dense'), 1e-5, 'dense kernel');

    // Inference (predict, as evaluate runs it) normalizes with the moving statistics, not the batch's.
    const trained: Params = { ...INITIAL, kernel: step('kernel'), gamma: step('gamma'), beta: step('beta'), dense: step('dense'), bias: step('bias') };
    const predicted = Array.from((model.predict(x) as tf.Tensor).dataSync());
    assertNear(predicted, forward(trained, { mean: movingMean, variance: movingVariance }), 1e-5, 'inference output');
    const withBatchStats = forward(trained, batchMoments(trained));
    assert.ok(
      predicted.some((p, i) => Math.abs(p - withBatchStats[i]!) > 1e-3),
      'inference must not use the batch statistics',
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  test(`${backend}: frozen BatchNormalization layers of an xresnet stay in inference mode while the rest trains`, async () => {
    await tf.setBackend(backend);
    const model = xresnet({ inputShape: [32, 32, 3], numClasses: 3, widths: [8, 16], blocks: [1, 1], stemWidths: [4, 4, 8], seed: 2 });
    freeze(model, { upTo: 'stem_pool' });
    const bnWeights = (name: string) =>
      model
        .getLayer(name)
        .getWeights()
        .map((t) => Array.from(t.dataSync()));
    // A block's last BatchNormalization: its γ starts at 0, so it is the block's first weight with a gradient.
    const before = { frozen: bnWeights('stem2_bn'), open: bnWeights('stage1_block1_2_bn') };
    const x = tf.randomUniform([6, 32, 32, 3], 0, 255, 'float32', 3) as tf.Tensor4D,
      y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    await fit(model, { x, y, batchSize: 6 }, { epochs: 1, optimizer: 'adam', learningRate: 1e-2, verbose: false, handleSigint: false, classMode: 'sparse' });
    // γ, β, moving mean and moving variance of the frozen layer: untouched, bit for bit.
    assert.deepEqual(bnWeights('stem2_bn'), before.frozen);
    const after = bnWeights('stage1_block1_2_bn');
    for (let i = 0; i < 4; i++) assert.notDeepEqual(after[i], before.open[i], `weight ${i} of the trainable layer`);
    tf.dispose([x, y]);
    model.dispose();
  });
}

test('native and cpu backends train an xresnet step alike (BatchNormalization in every block)', { skip: skipReason }, async () => {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const model = xresnet({ inputShape: [24, 24, 3], numClasses: 4, widths: [8, 16], blocks: [1, 1], stemWidths: [4, 4, 8], seed: 5 });
    const x = tf.randomUniform([8, 24, 24, 3], 0, 255, 'float32', 7) as tf.Tensor4D,
      y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    await fit(
      model,
      { x, y, batchSize: 8 },
      { epochs: 2, optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, verbose: false, handleSigint: false, classMode: 'sparse' },
    );
    const w = model.getWeights().map((t) => Array.from(t.dataSync()));
    tf.dispose([x, y]);
    model.dispose();
    return w;
  };
  const cpu = await run('cpu'),
    native = await run('native');
  cpu.forEach((w, i) => assertNear(native[i]!, w, 2e-3, `weight ${i}`));
});
