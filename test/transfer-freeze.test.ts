import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { freeze, unfreeze, setTrainable, trainableLayerNames, defaultBlockOf, firstLayerOfLastBlocks } from '../src/transfer/freeze.js';
import { splitModel } from '../src/transfer/split.js';
import { fineTune } from '../src/transfer/fine-tune.js';
import { frozenPrefixEnd } from '../src/transfer/prefix-cache.js';
import { fit } from '../src/train/fit.js';
import type { Callback } from '../src/train/callbacks.js';

await tf.setBackend('cpu');

/** A small VGG-like functional model with BatchNormalization: two blocks and a head. */
function tinyModel(seed = 1): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 100 + s });
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(1), name: 'block1_conv1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'block1_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'block1_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'block1_pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(2), name: 'block2_conv1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'block2_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'block2_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: init(3), name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init(4), name: 'head_output' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

function data(n = 16, seed = 3): { x: tf.Tensor4D; y: tf.Tensor } {
  const x = tf.randomUniform([n, 8, 8, 3], 0, 255, 'float32', seed) as tf.Tensor4D;
  // Label depends on the image (mean red above the middle), so there is something to learn.
  const y = tf.tidy(() => tf.cast(tf.greater(tf.mean(x.slice([0, 0, 0, 0], [n, 8, 8, 1]), [1, 2, 3]), 127.5), 'float32').reshape([n, 1]));
  return { x, y };
}

function weightsOf(model: tf.LayersModel, layer: string): Float32Array[] {
  return model
    .getLayer(layer)
    .getWeights()
    .map((w) => w.dataSync() as Float32Array)
    .map((a) => a.slice());
}

function bitEqual(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((t, i) => Buffer.from(t.buffer).equals(Buffer.from(b[i]!.buffer)));
}

const quiet = { verbose: false, handleSigint: false, batchSize: 4, learningRate: 0.05 } as const;

test('block names of VGG16, MobileNet v1 and v2 layers', () => {
  assert.equal(defaultBlockOf('block5_conv1'), 'block5');
  assert.equal(defaultBlockOf('conv_dw_13_relu'), 'conv_13');
  assert.equal(defaultBlockOf('conv_pw_13'), 'conv_13');
  assert.equal(defaultBlockOf('conv_pw_1_bn'), 'conv_1');
  assert.equal(defaultBlockOf('block_16_project'), 'block_16');
  assert.equal(defaultBlockOf('conv1'), undefined);
  assert.equal(defaultBlockOf('head_dense'), undefined);
});

test('freeze upTo a layer: frozen weights are bit-identical after training, BN moving stats unchanged, the rest trains', async () => {
  const model = tinyModel();
  const frozen = freeze(model, { upTo: 'block1_relu' });
  assert.deepEqual(
    frozen.map((l) => l.name),
    ['block1_conv1', 'block1_bn', 'block1_relu'],
  );
  assert.deepEqual(trainableLayerNames(model), ['block2_conv1', 'block2_bn', 'head_dense', 'head_output']);
  const before = {
    conv: weightsOf(model, 'block1_conv1'),
    bn: weightsOf(model, 'block1_bn'),
    conv2: weightsOf(model, 'block2_conv1'),
    bn2: weightsOf(model, 'block2_bn'),
  };
  const d = data();
  await fit(model, { x: d.x, y: d.y, batchSize: 4 }, { ...quiet, epochs: 2 });
  assert.ok(bitEqual(before.conv, weightsOf(model, 'block1_conv1')), 'frozen conv weights changed');
  assert.ok(bitEqual(before.bn, weightsOf(model, 'block1_bn')), 'frozen BN gamma/beta/moving stats changed');
  assert.ok(!bitEqual(before.conv2, weightsOf(model, 'block2_conv1')), 'trainable conv did not train');
  // A trainable BN updates its moving statistics (weights 2 and 3).
  const bn2 = weightsOf(model, 'block2_bn');
  assert.ok(!bitEqual(before.bn2.slice(2), bn2.slice(2)), 'trainable BN moving stats did not move');
  tf.dispose([d.x, d.y]);
});

test('TF.js alone updates a frozen BN under fit; a frozen (guarded) BN runs in inference mode', async () => {
  // Without convkit's guard: trainable=false set directly on the layer.
  const raw = tinyModel(2);
  raw.getLayer('block1_bn').trainable = false;
  const bnBefore = weightsOf(raw, 'block1_bn');
  const d = data(8);
  await fit(raw, { x: d.x, y: d.y, batchSize: 4 }, { ...quiet, epochs: 1 });
  assert.ok(!bitEqual(bnBefore, weightsOf(raw, 'block1_bn')), 'expected TF.js to move the moving stats of an unguarded frozen BN');

  // With freeze(): training-mode forward pass equals inference (no dropout in the model).
  const model = tinyModel(2);
  freeze(model);
  const [train, infer] = tf.tidy(() => [model.apply(d.x, { training: true }) as tf.Tensor, model.predict(d.x) as tf.Tensor]);
  assert.deepEqual(Array.from(train!.dataSync()), Array.from(infer!.dataSync()));
  // And unfrozen, training mode uses batch statistics (differs).
  unfreeze(model, { keepBatchNormFrozen: false });
  const t2 = tf.tidy(() => model.apply(d.x, { training: true }) as tf.Tensor);
  assert.notDeepEqual(Array.from(t2.dataSync()), Array.from(infer!.dataSync()));
  tf.dispose([train!, infer!, t2, d.x, d.y]);
});

test('unfreeze the last block keeps BN frozen by default; from a layer; whole model', () => {
  const model = tinyModel();
  freeze(model);
  assert.deepEqual(trainableLayerNames(model), []);
  assert.equal(firstLayerOfLastBlocks(model, 1), 'block2_conv1');
  const opened = unfreeze(model, { blocks: 1 });
  assert.deepEqual(
    opened.map((l) => l.name),
    ['block2_conv1', 'block2_relu', 'head_pool', 'head_dense', 'head_output'],
  );
  assert.deepEqual(trainableLayerNames(model), ['block2_conv1', 'head_dense', 'head_output']);
  freeze(model);
  unfreeze(model, { from: 'head_dense' });
  assert.deepEqual(trainableLayerNames(model), ['head_dense', 'head_output']);
  unfreeze(model, { keepBatchNormFrozen: false });
  assert.equal(trainableLayerNames(model).length, 6);
  setTrainable([model.getLayer('head_dense')], false);
  assert.ok(!trainableLayerNames(model).includes('head_dense'));
  assert.throws(() => unfreeze(model, { blocks: 3 }), /between 1 and 2/);
  assert.throws(() => freeze(model, { upTo: 'block9_conv1' }), /no layer named "block9_conv1"/);
});

test('split into prefix and suffix: same outputs as the whole model, shared weights', async () => {
  const model = tinyModel();
  const { prefix, suffix } = splitModel(model, 'block1_pool');
  const d = data(4);
  const [whole, parts] = tf.tidy(() => [model.predict(d.x) as tf.Tensor, suffix.predict(prefix.predict(d.x) as tf.Tensor) as tf.Tensor]);
  assert.deepEqual(Array.from(parts!.dataSync()), Array.from(whole!.dataSync()));
  assert.deepEqual(
    suffix.layers.slice(1).map((l) => l.name),
    ['block2_conv1', 'block2_bn', 'block2_relu', 'head_pool', 'head_dense', 'head_output'],
  );
  assert.equal(suffix.getLayer('head_dense'), model.getLayer('head_dense'));
  // The frozen prefix end is found from the trainable flags.
  freeze(model, { upTo: 'block1_relu' });
  assert.equal(frozenPrefixEnd(model), 'block1_pool');
  tf.dispose([whole!, parts!, d.x, d.y]);
});

test('a skip connection over the split point is reported', () => {
  const input = tf.input({ shape: [4] });
  const a = tf.layers.dense({ units: 4, name: 'a' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 4, name: 'b' }).apply(a) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([a, tf.layers.dense({ units: 4, name: 'c' }).apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: sum });
  assert.throws(() => splitModel(model, 'b'), /skip connection/);
  assert.doesNotThrow(() => splitModel(model, 'a'));
});

test('fineTune: frozen epochs train the head only, then the unfrozen model trains', async () => {
  const model = tinyModel(4);
  const d = data(8);
  const snapshots: { conv: Float32Array[]; head: Float32Array[] }[] = [];
  const snap: Callback = {
    onEpochEnd: () => {
      snapshots.push({ conv: weightsOf(model, 'block1_conv1'), head: weightsOf(model, 'head_output') });
    },
  };
  const start = { conv: weightsOf(model, 'block1_conv1'), head: weightsOf(model, 'head_output') };
  const r = await fineTune(model, { x: d.x, y: d.y, batchSize: 4 }, { ...quiet, freezeEpochs: 1, epochs: 2, baseLr: 0.05, callbacks: [snap] });
  assert.equal(r.frozen.epoch.length, 1);
  assert.equal(r.unfrozen.epoch.length, 2);
  assert.equal(snapshots.length, 3);
  assert.ok(bitEqual(start.conv, snapshots[0]!.conv), 'base changed during the frozen epoch');
  assert.ok(!bitEqual(start.head, snapshots[0]!.head), 'head did not train during the frozen epoch');
  assert.ok(!bitEqual(snapshots[0]!.conv, snapshots[2]!.conv), 'base did not train after unfreezing');
  tf.dispose([d.x, d.y]);
});
