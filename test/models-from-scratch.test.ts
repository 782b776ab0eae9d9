/**
 * The from-scratch architectures: the book's mini-Xception and the
 * xresnet18-style ResNet. Their parameter counts against a count written
 * out from the architecture, their structure, and their saved folders
 * loading in plain TensorFlow.js with the same outputs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramCounts } from '../src/models/summary.js';
import { miniXception } from '../src/models/xception.js';
import { xresnet } from '../src/models/xresnet.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { gradCam } from '../src/report/grad-cam.js';
import { saveModel } from '../src/train/saved-model.js';

let work: string;
before(async () => {
  await tf.setBackend('cpu');
  work = await mkdtemp(join(tmpdir(), 'convkit-scratch-models-'));
});
after(() => rm(work, { recursive: true, force: true }));

const bn = (c: number) => 4 * c; // γ, β, moving mean, moving variance
const separable = (cin: number, cout: number) => 9 * cin + cin * cout; // depthwise 3×3, pointwise 1×1, no bias

test("miniXception is the book's: 721,857 parameters at 180×180 with filters 32…512, block by block", () => {
  const m = miniXception();
  let expected = 5 * 5 * 3 * 32; // stem Conv2D, no bias
  let cin = 32;
  for (const f of [32, 64, 128, 256, 512]) {
    expected += bn(cin) + separable(cin, f) + bn(f) + separable(f, f) + cin * f; // + the 1×1 residual, no bias
    cin = f;
  }
  expected += 512 + 1; // Dense(1)
  assert.equal(expected, 721_857);
  assert.equal(paramCounts(m).total, expected);
  assert.equal(paramCounts(m).nonTrainable, 2 * (32 + 32 + 64 + 128 + 256) + 2 * (32 + 64 + 128 + 256 + 512)); // moving statistics
  assert.equal(m.layers[1]!.getClassName(), 'Rescaling');
  assert.deepEqual(m.getLayer('stem_conv').outputShape, [null, 176, 176, 32]);
  assert.deepEqual(m.getLayer('block5_add').outputShape, [null, 6, 6, 512]);
  const pool = m.getLayer('block1_pool').getConfig();
  assert.deepEqual([pool.poolSize, pool.strides, pool.padding], [[3, 3], [2, 2], 'same']);
  const residual = m.getLayer('block1_residual').getConfig();
  assert.deepEqual([residual.kernelSize, residual.strides, residual.useBias], [[1, 1], [2, 2], false]);
  assert.equal(m.getLayer('dropout').getConfig().rate, 0.5);
  assert.equal(m.getLayer('block1_bn1').getConfig().momentum, 0.99); // Keras's default, as the book trains it
  assert.deepEqual(m.outputs[0]!.shape, [null, 1]);
  const five = miniXception({ numClasses: 5, inputShape: [64, 64, 3], filters: [8, 16], dropout: 0 });
  assert.deepEqual(five.outputs[0]!.shape, [null, 5]);
  assert.throws(() => miniXception({ inputShape: [4, 4, 3] }), /at least 5 px/);
  m.dispose();
  five.dispose();
});

test('xresnet18: stem 32-32-64, four stages of two basic blocks, zero-γ last BatchNormalization, average-pool shortcuts', () => {
  const m = xresnet({ numClasses: 10 });
  const conv = (cin: number, cout: number, k = 3) => k * k * cin * cout;
  let expected = conv(3, 32) + bn(32) + conv(32, 32) + bn(32) + conv(32, 64) + bn(64);
  let cin = 64;
  for (const width of [64, 128, 256, 512]) {
    for (let b = 0; b < 2; b++) {
      expected += conv(cin, width) + bn(width) + conv(width, width) + bn(width);
      if (cin !== width) expected += conv(cin, width, 1) + bn(width);
      cin = width;
    }
  }
  expected += 512 * 10 + 10;
  assert.equal(paramCounts(m).total, expected);
  assert.equal(expected, 11_210_602);
  assert.deepEqual(m.getLayer('stem_pool').outputShape, [null, 32, 32, 64]);
  assert.deepEqual(m.getLayer('stage4_block2_relu').outputShape, [null, 4, 4, 512]);
  // Every block starts as the identity: its last γ is 0, the others 1.
  for (const layer of m.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const gamma = Array.from(layer.getWeights()[0]!.dataSync());
    const zero = /_2_bn$/.test(layer.name);
    assert.ok(
      gamma.every((g) => g === (zero ? 0 : 1)),
      `${layer.name} γ`,
    );
  }
  // Downsampling shortcuts average-pool 2×2/2, then a 1×1 convolution; the first stage keeps its input.
  assert.deepEqual(m.getLayer('stage2_block1_shortcut_pool').getConfig().poolSize, [2, 2]);
  assert.equal(m.getLayer('stage2_block1_shortcut_conv').getConfig().strides!.toString(), '1,1');
  assert.throws(() => m.getLayer('stage1_block1_shortcut_pool'));
  assert.equal(m.getLayer('stage2_block1_1_conv').getConfig().strides!.toString(), '2,2');
  // PyTorch's BatchNorm2d momentum 0.1, in Keras's sense.
  assert.equal(m.getLayer('stem1_bn').getConfig().momentum, 0.9);
  m.dispose();
  // widen scales the stages (not the stem): half the widths, about a quarter of the parameters.
  const half = xresnet({ numClasses: 10, widen: 0.5 });
  assert.deepEqual(half.getLayer('stage4_block2_relu').outputShape, [null, 4, 4, 256]);
  assert.deepEqual(half.getLayer('stem3_relu').outputShape, [null, 64, 64, 64]);
  half.dispose();
  assert.throws(() => xresnet({ widths: [64, 128], blocks: [2, 2, 2] }), /widths/);
  assert.throws(() => xresnet({ widen: 0 }), /widen/);
});

for (const [name, build] of [
  ['miniXception', () => miniXception({ inputShape: [40, 40, 3], filters: [8, 16], stemFilters: 8, numClasses: 3, seed: 3 })],
  ['xresnet', () => xresnet({ inputShape: [32, 32, 3], widths: [8, 16], blocks: [1, 1], stemWidths: [4, 4, 8], numClasses: 2, seed: 3 })],
] as const) {
  test(`${name}: saved, it loads in plain TensorFlow.js (tf.loadLayersModel) and predicts the same; Grad-CAM reads it`, async () => {
    const m = build();
    // Moving statistics away from 0 and 1, so that loading them matters.
    const x = tf.randomUniform([4, m.inputs[0]!.shape[1]!, m.inputs[0]!.shape[2]!, 3], 0, 255, 'float32', 9) as tf.Tensor4D;
    tf.tidy(() => {
      m.apply(x, { training: true });
    });
    const dir = join(work, name);
    const units = m.outputs[0]!.shape[1]!;
    const classNames = Array.from({ length: Math.max(2, units) }, (_, i) => `c${i}`);
    await saveModel(m, dir, {
      classNames,
      inputSize: [x.shape[1], x.shape[2]],
      colorMode: 'rgb',
      classMode: units === 1 ? 'binary' : 'categorical',
      preprocessing: { input: 'RGB 0..255' },
    });
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const weights = await readFile(join(dir, json.weightsManifest[0].paths[0]));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const a = (m.predict(x) as tf.Tensor).dataSync(),
      b = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
    const cam = gradCam(loaded, x);
    assert.equal(cam.heatmaps.length, 4);
    assert.ok(cam.heatmaps.every((h) => h.every((v) => v >= 0 && v <= 1)));
    tf.dispose(x);
    m.dispose();
    loaded.dispose();
  });
}

test('every from-scratch builder refuses a bad shared option by name', () => {
  const builders = { smallCnn, miniXception, xresnet } as const;
  for (const [name, build] of Object.entries(builders)) {
    const refuses = (options: Record<string, unknown>, pattern: RegExp) =>
      assert.throws(() => (build as (o: Record<string, unknown>) => unknown)(options), pattern, `${name} ${JSON.stringify(options)}`);
    refuses({ inputShape: [32, 32] }, /inputShape.*\[height, width, channels\] of positive integers/);
    refuses({ inputShape: [32, 32.5, 3] }, /inputShape/);
    refuses({ numClasses: 1 }, /numClasses.*an integer ≥ 2/);
    refuses({ dropout: 1 }, /dropout.*a rate in \[0, 1\)/);
  }
  assert.throws(() => miniXception({ inputShape: [4, 4, 3] }), /inputShape.*at least 5 px on each side/);
  for (const build of [miniXception, xresnet]) assert.throws(() => build({ batchNormMomentum: 1 }), /batchNormMomentum.*\[0, 1\)/);
});
