import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { confusionMatrix, perClassMetrics, rocAuc, accuracyOf, crossEntropy } from '../src/train/metrics.js';
import { evaluate } from '../src/train/evaluate.js';
import { chooseTta } from '../src/train/tta.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A "model" whose sigmoid output is σ(x): the input pixel is the logit. */
function logitModel(): tf.LayersModel {
  const input = tf.input({ shape: [1, 1, 1] });
  const dense = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: 'ones', biasInitializer: 'zeros' });
  return tf.model({ inputs: input, outputs: dense.apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor });
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

test('evaluate on a hand-made binary case: loss, accuracy, confusion, precision/recall/F1, ROC AUC', async () => {
  const labels = [0, 0, 0, 1, 1, 1];
  const logits = [-2, -1, 0.5, -0.5, 1, 3];
  const x = tf.tensor4d(logits, [6, 1, 1, 1]);
  const y = tf.tensor2d(labels, [6, 1]);
  const model = logitModel();
  await evaluate(model, { x, y, batchSize: 4 });
  const tensors = tf.memory().numTensors;
  const r = await evaluate(model, { x, y, batchSize: 4 }, { classNames: ['neg', 'pos'], keepPredictions: true });
  assert.equal(r.n, 6);
  assert.deepEqual(r.confusion, [
    [2, 1],
    [1, 2],
  ]);
  assert.ok(Math.abs(r.accuracy - 4 / 6) < 1e-12);
  for (const c of r.perClass) {
    assert.ok(Math.abs(c.precision - 2 / 3) < 1e-12 && Math.abs(c.recall - 2 / 3) < 1e-12 && Math.abs(c.f1 - 2 / 3) < 1e-12);
    assert.equal(c.support, 3);
  }
  assert.deepEqual(
    r.perClass.map((c) => c.className),
    ['neg', 'pos'],
  );
  // Positive scores beat negative ones in 8 of the 9 pairs.
  assert.ok(Math.abs(r.rocAuc! - 8 / 9) < 1e-9);
  const expectedLoss = -labels.reduce((s, l, i) => s + Math.log(l ? sigmoid(logits[i]!) : 1 - sigmoid(logits[i]!)), 0) / 6;
  assert.ok(Math.abs(r.loss - expectedLoss) < 1e-5, `${r.loss} vs ${expectedLoss}`);
  assert.deepEqual(
    r.predictions!.map((p) => p.predIndex),
    [0, 0, 1, 0, 1, 1],
  );
  assert.equal(tf.memory().numTensors, tensors, 'evaluate leaks no tensors');
  const tta = await evaluate(model, { x, y, batchSize: 4 }, { tta: { views: 3 } });
  assert.equal(tta.ttaViews, 3);
  assert.equal(tf.memory().numTensors, tensors, 'evaluate with TTA leaks no tensors');
  tf.dispose([x, y]);
  model.dispose();
});

test('TTA is kept only when it helps on validation: higher accuracy, or equal accuracy and lower loss', () => {
  const plain = { accuracy: 0.92, loss: 0.22 };
  assert.equal(chooseTta(4, plain, { accuracy: 0.93, loss: 0.3 }).use, true);
  assert.equal(chooseTta(4, plain, { accuracy: 0.9, loss: 0.1 }).use, false);
  assert.equal(chooseTta(4, plain, { accuracy: 0.92, loss: 0.21 }).use, true);
  assert.equal(chooseTta(4, plain, { accuracy: 0.92, loss: 0.22 }).use, false);
  const c = chooseTta(8, plain, { accuracy: 0.95, loss: 0.2 });
  assert.deepEqual(c, { views: 8, validation: { plain, tta: { accuracy: 0.95, loss: 0.2 } }, use: true });
});

test('metrics: three classes, zero-division, ties in ROC AUC', () => {
  const truth = [0, 0, 1, 1, 1, 2, 2, 2, 2];
  const pred = [0, 1, 1, 1, 0, 2, 2, 1, 2];
  const m = confusionMatrix(truth, pred, 3);
  assert.deepEqual(m, [
    [1, 1, 0],
    [1, 2, 0],
    [0, 1, 3],
  ]);
  assert.ok(Math.abs(accuracyOf(m) - 6 / 9) < 1e-12);
  const pc = perClassMetrics(m, ['a', 'b', 'c']);
  // class b: tp 2, predicted 4, actual 3.
  assert.ok(Math.abs(pc[1]!.precision - 0.5) < 1e-12);
  assert.ok(Math.abs(pc[1]!.recall - 2 / 3) < 1e-12);
  assert.ok(Math.abs(pc[1]!.f1 - (2 * 0.5 * (2 / 3)) / (0.5 + 2 / 3)) < 1e-12);
  assert.equal(pc[2]!.precision, 1);
  assert.equal(pc[2]!.recall, 0.75);
  const none = perClassMetrics(
    [
      [2, 0],
      [2, 0],
    ],
    ['x', 'y'],
  );
  assert.equal(none[1]!.precision, 0);
  assert.equal(none[1]!.f1, 0);
  assert.equal(rocAuc([0, 1], [0.5, 0.5]), 0.5);
  assert.equal(rocAuc([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2]), 1);
  assert.equal(rocAuc([0, 1, 1, 0], [0.9, 0.1, 0.2, 0.8]), 0);
  assert.equal(rocAuc([1, 1], [0.2, 0.3]), undefined);
  assert.ok(
    Math.abs(
      crossEntropy(
        [1, 0],
        [
          [0.2, 0.8],
          [0.5, 0.5],
        ],
      ) -
        -(Math.log(0.8) + Math.log(0.5)) / 2,
    ) < 1e-12,
  );
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 2), /out of range/);
});

test('evaluate with categorical (softmax) output and one-hot labels', async () => {
  // Softmax over the three input "pixels" taken as logits.
  const input = tf.input({ shape: [1, 1, 3] });
  const out = tf.layers.activation({ activation: 'softmax' }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const x = tf.tensor4d([5, 0, 0, 0, 5, 0, 0, 0, 5, 5, 0, 0], [4, 1, 1, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 2], 'int32'), 3);
  const r = await evaluate(model, { x, y }, { classNames: ['a', 'b', 'c'] });
  assert.deepEqual(r.confusion, [
    [1, 0, 0],
    [0, 1, 0],
    [1, 0, 1],
  ]);
  assert.equal(r.accuracy, 0.75);
  assert.equal(r.rocAuc, undefined);
  await assert.rejects(evaluate(model, { x, y }, { classNames: ['a', 'b'] }), /2 classes but the model outputs 3/);
  tf.dispose([x, y]);
  model.dispose();
});
