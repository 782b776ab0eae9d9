/**
 * Conv2D layers with relu train through FusedConv2D after initBackend():
 * the same values and gradients as tfjs's unfused conv2d + add + relu (the
 * reference, on the JS cpu kernels), and the same saved model.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { convBiasRelu } from '../src/backend/fused-conv.js';
import { createRng } from '../src/util/rng.js';

before(async () => {
  await initBackend('cpu', () => undefined);
});

function random(shape: number[], seed: number): tf.Tensor {
  const r = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => r.uniform(-1, 1)),
    shape,
  );
}

function maxRelError(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync(),
    y = b.dataSync();
  let scale = 0,
    worst = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst / (scale || 1);
}

for (const [strides, pad, inShape] of [
  [[1, 1], 'valid', [2, 9, 7, 3]],
  [[2, 2], 'same', [1, 8, 11, 1]],
  [[1, 2], 'same', [3, 5, 6, 4]],
] as const) {
  test(`convBiasRelu: values and gradients equal conv2d + add + relu (strides ${strides}, ${pad}, input ${inShape})`, () => {
    const x = random([...inShape], 1) as tf.Tensor4D;
    const f = random([3, 3, inShape[3], 5], 2) as tf.Tensor4D;
    const b = random([5], 3) as tf.Tensor1D;
    const reference = (xs: tf.Tensor4D, fs: tf.Tensor4D, bs: tf.Tensor1D) => tf.relu(tf.add(tf.conv2d(xs, fs, [...strides], pad), bs));
    const fused = (xs: tf.Tensor4D, fs: tf.Tensor4D, bs: tf.Tensor1D) => convBiasRelu(xs, fs, bs, [...strides], pad);
    const yRef = reference(x, f, b);
    const y = fused(x, f, b);
    assert.deepEqual(y.shape, yRef.shape);
    assert.ok(maxRelError(y, yRef) < 1e-6, `forward ${maxRelError(y, yRef)}`);
    // A weighted sum makes every output position's gradient different.
    const w = random(yRef.shape, 4);
    const loss = (fn: typeof reference) => (xs: tf.Tensor, fs: tf.Tensor, bs: tf.Tensor) =>
      tf.sum(tf.mul(fn(xs as tf.Tensor4D, fs as tf.Tensor4D, bs as tf.Tensor1D), w)) as tf.Scalar;
    const gRef = tf.grads(loss(reference))([x, f, b]);
    const g = tf.grads(loss(fused))([x, f, b]);
    ['x', 'filter', 'bias'].forEach((name, i) => {
      assert.deepEqual(g[i].shape, gRef[i].shape, name);
      assert.ok(maxRelError(g[i], gRef[i]) < 1e-5, `${name} gradient ${maxRelError(g[i], gRef[i])}`);
    });
    tf.dispose([x, f, b, yRef, y, w, ...gRef, ...g]);
  });
}

test('a relu Conv2D layer trains through FusedConv2D and still saves as a plain Conv2D', async () => {
  const layer = tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' });
  const model = tf.sequential({ layers: [layer, tf.layers.flatten(), tf.layers.dense({ units: 1 })] });
  const x = random([2, 6, 6, 2], 5);
  const profile = await tf.profile(() => tf.grads((t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor) as tf.Scalar)([x])[0]);
  const kernels = profile.kernels.map((k) => k.name);
  assert.ok(kernels.includes('FusedConv2D'), kernels.join(', '));
  assert.ok(!kernels.includes('Relu') && !kernels.includes('Conv2D'), kernels.join(', '));
  const json = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: { activation?: string } }[] } };
  assert.equal(json.config.layers[0].class_name, 'Conv2D');
  assert.equal(json.config.layers[0].config.activation, 'relu');
  tf.dispose(x);
  model.dispose();
});

test('training the first relu Conv2D layer skips the gradient of the images it reads', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1 }),
    ],
  });
  const x = random([2, 8, 8, 3], 6);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const profile = await tf.profile(() => {
    const { grads } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar, weights);
    tf.dispose(Object.values(grads));
  });
  const inputGrads = profile.kernels.filter((k) => k.name === 'Conv2DBackpropInput').map((k) => JSON.stringify(k.inputShapes));
  // Only the second layer passes a gradient back, to the first layer's output (2×6×6×4).
  assert.deepEqual(inputGrads, [
    JSON.stringify([
      [2, 4, 4, 2],
      [3, 3, 4, 2],
    ]),
  ]);
  assert.equal(profile.kernels.filter((k) => k.name === 'Conv2DBackpropFilter').length, 2);
  tf.dispose(x);
  model.dispose();
});

for (const [kind, activation, useBias, strides, pad] of [
  ['conv', 'relu6', true, 1, 'same'],
  ['conv', 'linear', false, 2, 'same'],
  ['conv', 'linear', true, 1, 'valid'],
  ['depthwise', 'relu6', true, 2, 'same'],
  ['depthwise', 'relu', true, 1, 'valid'],
  ['depthwise', 'linear', false, 1, 'same'],
] as const) {
  test(`a ${activation} ${kind} layer${useBias ? '' : ' without bias'} (strides ${strides}, ${pad}) trains through one fused kernel with tfjs's values and gradients`, async () => {
    const args = { kernelSize: 3, strides, padding: pad, activation, useBias, inputShape: [7, 9, 4] };
    const layer = kind === 'conv' ? tf.layers.conv2d({ ...args, filters: 5 }) : tf.layers.depthwiseConv2d({ ...args, depthMultiplier: 2 });
    const model = tf.sequential({ layers: [layer] });
    const x = random([2, 7, 9, 4], 7);
    const [kernel, bias] = model.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
    // The reference: tfjs's separate ops (convolution, bias add, activation) on the layer's own weights.
    const reference = (xs: tf.Tensor, k: tf.Tensor, b?: tf.Tensor) => {
      let z: tf.Tensor =
        kind === 'conv' ? tf.conv2d(xs as tf.Tensor4D, k as tf.Tensor4D, strides, pad) : tf.depthwiseConv2d(xs as tf.Tensor4D, k as tf.Tensor4D, strides, pad);
      if (b) z = tf.add(z, b);
      return activation === 'relu6' ? tf.relu6(z) : activation === 'relu' ? tf.relu(z) : z;
    };
    const yRef = reference(x, kernel, bias);
    const w = random(yRef.shape, 8);
    const weights = model.trainableWeights.map((v) => v.read() as tf.Variable);
    let kernels: string[] = [];
    const profile = await tf.profile(() => {
      const y = model.apply(x) as tf.Tensor;
      assert.ok(maxRelError(y, yRef) < 1e-6, `forward ${maxRelError(y, yRef)}`);
      const g = tf.grads((xs: tf.Tensor) => tf.sum(tf.mul(model.apply(xs) as tf.Tensor, w)) as tf.Scalar)([x])[0]!;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, w)) as tf.Scalar, weights);
      const refGrads = tf.grads((xs: tf.Tensor, k: tf.Tensor, b?: tf.Tensor) => tf.sum(tf.mul(reference(xs, k, b), w)) as tf.Scalar)(
        bias ? [x, kernel, bias] : [x, kernel],
      );
      [g, ...weights.map((v) => grads[v.name]!)].forEach((got, i) => {
        assert.ok(maxRelError(got, refGrads[i]!) < 1e-5, `gradient ${i}: ${maxRelError(got, refGrads[i]!)}`);
      });
      tf.dispose([y, g, ...Object.values(grads), ...refGrads]);
    });
    kernels = profile.kernels.map((k) => k.name);
    assert.ok(kernels.includes(kind === 'conv' ? 'FusedConv2D' : 'FusedDepthwiseConv2D'), kernels.join(', '));
    tf.dispose([x, yRef, w]);
    model.dispose();
  });
}

test('training a linear Conv2D layer on the images skips their gradient (no customGrad)', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 5, useBias: false }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, activation: 'relu6' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1 }),
    ],
  });
  const x = random([2, 8, 8, 3], 9);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const profile = await tf.profile(() => {
    const { grads } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar, weights);
    tf.dispose(Object.values(grads));
  });
  const names = profile.kernels.map((k) => k.name);
  assert.ok(!names.includes('Conv2DBackpropInput'), names.join(', '));
  assert.equal(names.filter((n) => n === 'DepthwiseConv2dNativeBackpropInput').length, 1, names.join(', '));
  assert.equal(names.filter((n) => n === 'Conv2DBackpropFilter').length, 1, names.join(', '));
  tf.dispose(x);
  model.dispose();
});
