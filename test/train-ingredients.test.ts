/**
 * The training ingredients of the ImageNet-from-scratch recipes, each
 * against a case worked by hand: the one-cycle and flat-then-cosine
 * schedules, label smoothing, and decoupled weight decay (kernels only, at
 * the optimizer's scheduled rate, per group with discriminative rates).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fit } from '../src/train/fit.js';
import { computeLoss } from '../src/train/losses.js';
import { makeSchedule } from '../src/train/optimizers.js';
import { setup, skipReason } from './backend-native-util.js';

const BACKENDS = skipReason ? ['cpu'] : ['cpu', 'native'];

before(setup);

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('one-cycle: cosine from lr/25 up to lr over the first 30 %, then cosine down to lr·1e-4', () => {
  const s = makeSchedule('one-cycle');
  close(s(0), 1 / 25);
  close(s(0.15), 1 + (1 / 25 - 1) * 0.5); // half-way up: the mean of the two ends, 0.52
  close(s(0.3), 1);
  close(s(0.65), 1e-4 + (1 - 1e-4) * 0.5); // half-way down: 0.50005
  close(s(1), 1e-4);
});

test("flat-cosine (fastai's fit_flat_cos): the base rate for 75 %, then cosine down to lr·1e-5", () => {
  const s = makeSchedule('flat-cosine');
  for (const t of [0, 0.3, 0.7499]) close(s(t), 1);
  close(s(0.75), 1);
  close(s(0.875), 1e-5 + (1 - 1e-5) * 0.5); // half-way down: 0.500005
  close(s(0.75 + 0.25 / 3), 1e-5 + (1 - 1e-5) * 0.75); // cos(π/3) = 1/2 → 3/4 of the way up
  close(s(1), 1e-5);
  const short = makeSchedule('flat-cosine', { warmup: 0.5, floor: 0 });
  close(short(0.75), 0.5);
});

test('fit follows the flat-cosine schedule step by step (2 epochs of 4 steps: the rate at steps 3 and 7)', async () => {
  await tf.setBackend('cpu');
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: 'sigmoid' })] });
  const x = tf.tensor2d([0, 1, 1, 0, 1, 1, 0, 0], [4, 2]),
    y = tf.tensor2d([0, 1, 1, 0], [4, 1]);
  const rates: number[] = [];
  // fit takes image batches; a dense net reads these 2-D rows just as well.
  const h = await fit(
    m,
    { x: x as unknown as tf.Tensor4D, y, batchSize: 1 },
    {
      epochs: 2,
      optimizer: 'sgd',
      learningRate: 0.1,
      schedule: 'flat-cosine',
      verbose: false,
      handleSigint: false,
      callbacks: [{ onBatchEnd: (_b, _l, state) => void rates.push(state.learningRate) }],
    },
  );
  // Progress at step k is k/8: steps 0–5 are flat (k/8 < 0.75); step 7 is at 0.875, half-way down.
  close(h.history.lr![0]!, 0.1, 1e-12);
  close(h.history.lr![1]!, 0.1 * (1e-5 + (1 - 1e-5) * 0.5), 1e-12);
  assert.equal(rates.length, 8);
  tf.dispose([x, y]);
  m.dispose();
});

test('label smoothing: targets (1 − ε)·y + ε/K (categorical) and (1 − ε)·y + ε/2 (binary), by hand', () => {
  const eps = 0.1;
  const p = [0.2, 0.5, 0.3];
  const t = [eps / 3, 1 - eps + eps / 3, eps / 3];
  const expected = -t.reduce((a, ti, i) => a + ti * Math.log(p[i]!), 0);
  const sparse = tf.tidy(() => computeLoss(tf.tensor1d([1], 'int32'), tf.tensor2d([p]), 'sparse', eps).dataSync()[0]!);
  close(sparse, expected, 1e-6);
  const q = 0.8;
  const binary = tf.tidy(() => computeLoss(tf.tensor2d([[1]]), tf.tensor2d([[q]]), 'binary', eps).dataSync()[0]!);
  close(binary, -((1 - eps / 2) * Math.log(q) + (eps / 2) * Math.log(1 - q)), 1e-6);
});

/** A tiny net with every kind of weight: Dense kernels (decayed), biases and BatchNormalization's γ, β (not). */
function tinyNet(): tf.LayersModel {
  const input = tf.input({ shape: [3] });
  let h = tf.layers.dense({ units: 4, name: 'hidden', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: 'ones' }).apply(input);
  h = tf.layers.batchNormalization({ name: 'bn', gammaInitializer: tf.initializers.constant({ value: 1.3 }), betaInitializer: 'ones' }).apply(h);
  const out = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'out', kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(h);
  return tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
}

const X = [0.5, -1, 2, 1.5, 0.3, -0.7, -0.2, 0.8, 1.1, 2, -1.5, 0.4];
const Y = [1, 0, 1, 0];

/** Each layer's weights after one training step with `options`, from the same start. */
async function oneStep(options: Partial<Parameters<typeof fit>[2]>): Promise<{ before: Record<string, number[][]>; after: Record<string, number[][]> }> {
  const m = tinyNet();
  const read = () => Object.fromEntries(m.layers.filter((l) => l.weights.length).map((l) => [l.name, l.getWeights().map((w) => Array.from(w.dataSync()))]));
  const before = read();
  const x = tf.tensor2d(X, [4, 3]),
    y = tf.tensor2d(Y, [4, 1]);
  await fit(m, { x: x as unknown as tf.Tensor4D, y, batchSize: 4 }, { epochs: 1, verbose: false, handleSigint: false, classMode: 'binary', ...options });
  const after = read();
  tf.dispose([x, y]);
  m.dispose();
  return { before, after };
}

for (const backend of BACKENDS) {
  for (const optimizer of ['sgd', 'adam'] as const) {
    test(`${backend}, ${optimizer}: decoupled weight decay shrinks each kernel by lr·wd·w before the step, and nothing else`, async () => {
      await tf.setBackend(backend);
      const lr = 0.05,
        wd = 0.4;
      // One step from the same weights: the gradient is the same, so with decay w' = w'₀ − lr·wd·w (Keras's AdamW, fastai's true wd).
      const plain = await oneStep({ optimizer, learningRate: lr });
      const decayed = await oneStep({ optimizer, learningRate: lr, weightDecay: wd });
      for (const [layer, ws] of Object.entries(decayed.after)) {
        ws.forEach((w, i) => {
          const w0 = plain.before[layer]![i]!;
          const kernel = i === 0 && layer !== 'bn';
          w.forEach((v, j) => close(v, plain.after[layer]![i]![j]! - (kernel ? lr * wd * w0[j]! : 0), 1e-6));
        });
      }
      // The rate the decay uses is the scheduled one: one-cycle starts at lr/25.
      const cycled = await oneStep({ optimizer, learningRate: lr, weightDecay: wd, schedule: 'one-cycle' });
      const cycledPlain = await oneStep({ optimizer, learningRate: lr, schedule: 'one-cycle' });
      cycled.after.out![0]!.forEach((v, j) => close(v, cycledPlain.after.out![0]![j]! - (lr / 25) * wd * cycledPlain.before.out![0]![j]!, 1e-6));
    });
  }
}

test('weight decay with discriminative rates: each group decays at its own rate; an optimizer passed in is given back as it was', async () => {
  await tf.setBackend('cpu');
  const lr = 0.05,
    wd = 0.4,
    lrMultipliers = new Map([['hidden', 0.5]]);
  const plain = await oneStep({ optimizer: 'sgd', learningRate: lr, lrMultipliers });
  const decayed = await oneStep({ optimizer: 'sgd', learningRate: lr, lrMultipliers, weightDecay: wd });
  decayed.after.hidden![0]!.forEach((v, j) => close(v, plain.after.hidden![0]![j]! - lr * 0.5 * wd * plain.before.hidden![0]![j]!, 1e-6));
  decayed.after.out![0]!.forEach((v, j) => close(v, plain.after.out![0]![j]! - lr * wd * plain.before.out![0]![j]!, 1e-6));

  const given = tf.train.sgd(lr);
  await oneStep({ optimizer: given, weightDecay: wd });
  assert.ok(!Object.prototype.hasOwnProperty.call(given, 'applyGradients'), 'the decay is taken off again');
  given.dispose();
  await assert.rejects(oneStep({ optimizer: 'sgd', weightDecay: -1 }), /weightDecay/);
});
