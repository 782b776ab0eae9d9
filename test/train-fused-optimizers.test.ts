/**
 * convkit's fused RMSprop and Adam against tfjs's own on the same (native)
 * backend: after several steps on a small net (one weight array big enough
 * for the threaded loop) the weights and slot variables are the same bits,
 * and the optimizer state reads back under tfjs's names.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { ADAM_STEP, RMSPROP_STEP } from '../src/backend/native-kernels.js';
import { FusedAdam, FusedRMSProp } from '../src/train/fused-optimizers.js';
import { skipReason } from './backend-native-util.js';

before(async () => {
  if (!skipReason) await initBackend('native', () => {});
});

async function trainWithState(make: () => tf.Optimizer, lrs: number[]) {
  const x = tf.randomNormal([16, 300], 0, 1, 'float32', 3),
    y = tf.randomUniform([16, 1], 0, 1, 'float32', 4).round();
  const w1 = tf.variable(tf.randomNormal([300, 400], 0, 0.05, 'float32', 5));
  const w2 = tf.variable(tf.randomNormal([400, 1], 0, 0.05, 'float32', 6));
  const opt = make();
  for (const lr of lrs) {
    (opt as unknown as { learningRate: number }).learningRate = lr;
    opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, tf.relu(x.matMul(w1)).matMul(w2)) as tf.Scalar);
  }
  const weights = [w1, w2].map((w) => w.dataSync().slice() as Float32Array);
  const state = (await opt.getWeights()).map((s) => ({ name: s.name, data: s.tensor.dataSync().slice() as Float32Array }));
  opt.dispose();
  tf.dispose([x, y, w1, w2]);
  return { weights, state };
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

const cases: [string, string, () => tf.Optimizer, () => tf.Optimizer][] = [
  ['RMSprop', RMSPROP_STEP, () => new FusedRMSProp(1e-3, 0.9, 0, 1e-7), () => tf.train.rmsprop(1e-3, 0.9, 0, 1e-7)],
  ['RMSprop with momentum', RMSPROP_STEP, () => new FusedRMSProp(1e-3, 0.9, 0.8, 1e-7), () => tf.train.rmsprop(1e-3, 0.9, 0.8, 1e-7)],
  ['Adam', ADAM_STEP, () => new FusedAdam(1e-3, 0.9, 0.999, 1e-7), () => tf.train.adam(1e-3, 0.9, 0.999, 1e-7)],
];

for (const [label, kernel, fused, shipped] of cases) {
  test(`fused ${label} gives tfjs's weights and state bit for bit`, { skip: skipReason }, async () => {
    const lrs = [1e-3, 1e-3, 5e-4, 2e-3, 1e-4];
    const profile = await tf.profile(async () => {
      await trainWithState(fused, lrs.slice(0, 1));
    });
    assert.ok(
      profile.kernels.some((k) => k.name === kernel),
      `${kernel} did not run`,
    );
    const a = await trainWithState(fused, lrs),
      b = await trainWithState(shipped, lrs);
    a.weights.forEach((w, i) => assert.ok(same(w, b.weights[i]!), `weights ${i} differ`));
    // Slot names follow tfjs's ("<variable>/rms", "/momentum", "/m", "/v"); the variables themselves are new in each run.
    const slotNames = (st: { name: string }[]) => st.map((s) => s.name.replace(/^.*\//, ''));
    assert.deepEqual(slotNames(a.state), slotNames(b.state));
    a.state.forEach((s, i) => assert.ok(same(s.data, b.state[i]!.data), `state ${s.name} differs`));
  });
}
