/**
 * The 'relu6' activation after initBackend(): one Relu6 kernel instead of
 * tfjs-layers' minimum(6, relu(x)), the same values and gradients (away from
 * exactly 6), and still serialised as 'relu6'.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';

before(async () => {
  await initBackend('cpu', () => undefined);
});

test("layers' relu6 runs the Relu6 kernel and matches minimum(6, relu(x))", async () => {
  const layer = tf.layers.activation({ activation: 'relu6' });
  const x = tf.tensor1d([-3, -0.5, 0.25, 2, 5.5, 6.5, 40]);
  const profile = await tf.profile(() => layer.apply(x) as tf.Tensor);
  const names = profile.kernels.map((k) => k.name);
  assert.deepEqual(names, ['Relu6']);
  const y = layer.apply(x) as tf.Tensor;
  assert.deepEqual(Array.from(y.dataSync()), Array.from(tf.minimum(6, tf.relu(x)).dataSync()));
  const g = tf.grad((t: tf.Tensor) => (layer.apply(t) as tf.Tensor).sum())(x);
  assert.deepEqual(Array.from(g.dataSync()), [0, 0, 1, 1, 1, 0, 0]);
  tf.dispose([x, y, g]);
});

test("the relu6 gradient is dy where 0 < x < 6 (TensorFlow's), with float32 ops only", async () => {
  const x = tf.tensor1d([-1, 0, 1e-3, 3, 6 - 1e-3, 6, 7]);
  const dy = tf.tensor1d([2, 2, 3, 4, 5, 6, 7]);
  const g = tf.grad((t: tf.Tensor) => tf.relu6(t))(x, dy);
  assert.deepEqual(Array.from(g.dataSync()), [0, 0, 3, 4, 5, 0, 0]);
  const profile = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.relu6(t))(x, dy));
  const kernels = profile.kernels.map((k) => k.name);
  assert.ok(!kernels.includes('LessEqual') && !kernels.includes('Cast'), kernels.join(', '));
  tf.dispose([x, dy, g]);
});

test("a model with relu6 still saves as 'relu6'", () => {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: 'relu6' })] });
  const json = JSON.stringify(m.toJSON(null, false));
  assert.match(json, /"activation":"relu6"/);
  m.dispose();
});
