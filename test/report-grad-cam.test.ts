/**
 * Grad-CAM on a model whose answer is known by hand: a 1×1 identity
 * convolution (feature map = image), global average pooling and a Dense
 * output. The logit is ±mean(image), its gradient 1/64 on every pixel, so
 * the heat map is the image scaled to its maximum, for either class.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { gradCam, heatColor, lastSpatialLayer, overlayHeatmap } from '../src/report/grad-cam.js';

before(async () => {
  await tf.setBackend('cpu');
});

function knownModel(outputWeights: number[][]): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 1] });
  const conv = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, useBias: false, name: 'features', weights: [tf.ones([1, 1, 1, 1])] })
    .apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv) as tf.SymbolicTensor;
  const units = outputWeights[0]!.length;
  const out = tf.layers
    .dense({ units, activation: units === 1 ? 'sigmoid' : 'softmax', name: 'out', weights: [tf.tensor2d(outputWeights), tf.zeros([units])] })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** A dark image with a bright 3×2 patch (value 4) and one dimmer pixel (value 2). */
function image(): { x: tf.Tensor4D; expected: number[] } {
  const px = new Array(64).fill(0);
  for (const [r, c] of [
    [1, 5],
    [1, 6],
    [1, 7],
    [2, 5],
    [2, 6],
    [2, 7],
  ])
    px[r! * 8 + c!] = 4;
  px[6 * 8 + 1] = 2;
  return { x: tf.tensor4d(px, [1, 8, 8, 1]), expected: px.map((v) => v / 4) };
}

test('the heat map of a known model is the image scaled to 0..1, for sigmoid and softmax, either class', () => {
  const { x, expected } = image();
  const cases: [number[][], number][] = [
    [[[1]], 1],
    [[[-1]], 0],
    [[[1, -1]], 0],
    [[[-1, 1]], 1],
  ];
  for (const [weights, cls] of cases) {
    const model = knownModel(weights);
    assert.equal(lastSpatialLayer(model), 'features');
    const before = tf.memory().numTensors;
    const r = gradCam(model, x);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(r.layer, 'features');
    assert.deepEqual(r.classIndex, [cls], JSON.stringify(weights));
    // |logit| = mean of the image = 26/64.
    assert.ok(Math.abs(r.probability[0]! - 1 / (1 + Math.exp((-26 / 64) * (weights[0]!.length === 1 ? 1 : 2)))) < 1e-5, `probability ${r.probability[0]}`);
    r.heatmaps[0]!.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `${JSON.stringify(weights)} pixel ${i}: ${v} vs ${expected[i]}`));
    model.dispose();
  }
  x.dispose();
});

test('heat maps are resized to the input when the feature map is smaller', () => {
  const input = tf.input({ shape: [16, 16, 1] });
  const pooled = tf.layers.averagePooling2d({ poolSize: 2, name: 'down' }).apply(input) as tf.SymbolicTensor; // 8×8 feature map
  const gap = tf.layers.globalAveragePooling2d({}).apply(pooled) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, activation: 'sigmoid', weights: [tf.ones([1, 1]), tf.zeros([1])] }).apply(gap) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const x = tf.tidy(() => tf.zeros([2, 16, 16, 1]).add(tf.linspace(0, 1, 16).reshape([1, 1, 16, 1])) as tf.Tensor4D);
  const r = gradCam(model, x);
  assert.equal(r.heatmaps.length, 2);
  assert.equal(r.heatmaps[0]!.length, 256);
  // Brighter to the right, as the image.
  assert.ok(r.heatmaps[0]![15]! > r.heatmaps[0]![8]! && r.heatmaps[0]![8]! > r.heatmaps[0]![1]!);
  assert.ok(Math.max(...r.heatmaps[1]!) <= 1 && Math.min(...r.heatmaps[1]!) >= 0);
  tf.dispose([x]);
  model.dispose();
});

test("overlay: cold pixels keep the photo, hot ones take the ramp's red; size mismatch is an error", () => {
  assert.deepEqual(heatColor(0), [0, 0, 140]);
  assert.deepEqual(heatColor(1), [220, 0, 0]);
  const rgb = new Uint8Array([10, 20, 30, 10, 20, 30]);
  const out = overlayHeatmap(rgb, new Float32Array([0, 1]), 0.5);
  assert.deepEqual(Array.from(out.slice(0, 3)), [10, 20, 30]);
  assert.deepEqual(Array.from(out.slice(3)), [115, 10, 15]);
  assert.throws(() => overlayHeatmap(rgb, new Float32Array([0])), /2 pixels of image but 1 of heat map/);
});

test('a model without a spatial layer or a Dense output is refused with a clear error', () => {
  const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1 })] });
  assert.throws(() => lastSpatialLayer(dense), /has no layer with a spatial \(4-D\) output/);
  dense.dispose();
});
