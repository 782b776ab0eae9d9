/** initNative() / initBackend('native') set up the backend and describe it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { NATIVE_KERNEL_NAMES } from '../src/backend/native.js';
import { ADAM_STEP, BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, MAX_POOL_RELU_GRAD, RELU_GRAD, RELU6_GRAD, RMSPROP_STEP } from '../src/backend/native-kernels.js';
import { skipReason } from './backend-native-util.js';

test('initBackend("native") selects the oneDNN backend', { skip: skipReason }, async () => {
  const info = await initBackend('native', () => {});
  assert.equal(info.name, 'native');
  assert.equal(tf.getBackend(), 'native');
  assert.ok(info.threads >= 1);
  assert.match(info.details.onednn, /^\d+\.\d+\.\d+$/);
  assert.match(info.details.isa, /^(avx512_core|avx2|avx|sse41)$/);
  const registered = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
  for (const k of NATIVE_KERNEL_NAMES) assert.ok(registered.has(k), `${k} registered`);
  // every cpu kernel is available on native too, plus its own activation gradients, optimizer steps and batch norm training
  const cpu = new Set(tf.getKernelsForBackend('cpu').map((k) => k.kernelName));
  for (const k of cpu) assert.ok(registered.has(k), `${k} missing on native`);
  assert.deepEqual(
    [...registered].filter((k) => !cpu.has(k)).sort(),
    [ADAM_STEP, BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, MAX_POOL_RELU_GRAD, RELU_GRAD, RELU6_GRAD, RMSPROP_STEP].sort(),
  );
  const y = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same'));
  assert.deepEqual(Array.from(y.dataSync()), [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]);
  y.dispose();
});
