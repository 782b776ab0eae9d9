/** A ReLU after BatchNormalization runs inside the BN training kernels: where it may, and with the same results to the bit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fuseBatchNormRelu, installBatchNormTraining } from '../src/backend/batch-norm-training.js';
import { createRng } from '../src/util/rng.js';
import { setup, skipReason } from './backend-native-util.js';

installBatchNormTraining();

/** conv → BN → ReLU (only reader: fusable); conv → BN → ReLU and a residual Add (two readers: not); GAP → sigmoid. */
function build(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [12, 12, 3] });
  const conv = (x: tf.SymbolicTensor, seed: number) =>
    tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(seed) }).apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) => tf.layers.batchNormalization({ name, betaInitializer: 'ones' }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor) => tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const a = relu(bn(conv(input, 1), 'bn_alone'));
  const b = bn(conv(a, 2), 'bn_shared');
  const c = tf.layers.add().apply([relu(b), b]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init(3) }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function data(): [tf.Tensor, tf.Tensor] {
  const rng = createRng(3);
  return [
    tf.tensor4d(
      Float32Array.from({ length: 8 * 12 * 12 * 3 }, () => rng.normal()),
      [8, 12, 12, 3],
    ),
    tf.tensor2d([0, 1, 0, 1, 1, 0, 1, 0], [8, 1]),
  ];
}

/** Weights after three training steps, with or without the fusion; and how many Relu kernels the last step ran. */
async function train(fused: boolean): Promise<{ weights: Float32Array[]; relus: number }> {
  const model = build();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' });
  const [x, y] = data();
  const unfuse = fused ? fuseBatchNormRelu(model) : () => undefined;
  try {
    await model.trainOnBatch(x, y);
    await model.trainOnBatch(x, y);
    const profile = await tf.profile(async () => void (await model.trainOnBatch(x, y)));
    const relus = profile.kernels.filter((k) => k.name === 'Relu').length;
    return { weights: model.getWeights().map((w) => Float32Array.from(w.dataSync())), relus };
  } finally {
    unfuse();
    tf.dispose([x, y]);
    model.dispose();
  }
}

/** `saved`: Relu kernels the fusion saves a step (the native kernels apply it themselves; the composed path moves it into the BN op). */
async function compare(backend: string, saved: number): Promise<void> {
  await tf.setBackend(backend);
  const plain = await train(false);
  const fused = await train(true);
  // The ReLU that alone reads its BN runs inside it; the shared BN output keeps its own.
  assert.equal(fused.relus, plain.relus - saved, `Relu kernels in a step: ${plain.relus} without, ${fused.relus} with the fusion`);
  assert.equal(fused.weights.length, plain.weights.length);
  for (const [i, w] of fused.weights.entries()) assert.deepEqual(w, plain.weights[i], `weight ${i} differs`);
}

test('native backend: the fused BN + ReLU trains to the same weights, to the bit', { skip: skipReason }, async () => {
  await setup();
  await compare('native', 1);
});

test('cpu backend (composed BN): the same weights with and without the fusion', async () => {
  await compare('cpu', 0);
});

test('a BatchNormalization that is a model output keeps its negative values, and the undo ends the fusion', async () => {
  await tf.setBackend('cpu');
  const model = build();
  const bnOnly = tf.model({ inputs: model.inputs, outputs: model.getLayer('bn_alone').output as tf.SymbolicTensor });
  const [x, y] = data();
  const undo = fuseBatchNormRelu(bnOnly);
  const out = bnOnly.apply(x, { training: true }) as tf.Tensor;
  assert.ok(out.min().dataSync()[0]! < 0, 'the ReLU of the larger model was applied to this output');
  undo();
  const undoWhole = fuseBatchNormRelu(model);
  undoWhole();
  const after = tf.tidy(
    () => tf.model({ inputs: model.inputs, outputs: model.getLayer('bn_alone').output as tf.SymbolicTensor }).apply(x, { training: true }) as tf.Tensor,
  );
  assert.ok(after.min().dataSync()[0]! < 0, 'still fused after the undo');
  tf.dispose([out, after, x, y]);
  model.dispose();
});
