import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMobileNetV1, MOBILENET_V1_FEATURE_LAYER } from '../src/models/mobilenet-v1.js';
import { fileSystem, loadLayersModelFromFile } from '../src/models/fs-io.js';
import { BASES, baseSpec, loadBase, modelsDir } from '../src/models/bases.js';
import { ConvkitError } from '../src/util/errors.js';

const MODELS = new URL('../../shared/models/', import.meta.url).pathname;
const V1 = join(MODELS, 'mobilenet_v1_0.75_224');
const skipV1 = existsSync(V1) ? false : `MobileNet v1 files not found in ${V1}`;
const skipV2 = existsSync(join(MODELS, 'mobilenet_v2_1.0_224_quant_tflite')) ? false : `MobileNet v2 files not found in ${MODELS}`;

await tf.setBackend('cpu');

function randomPixels(n: number, h: number, w: number): tf.Tensor4D {
  let s = 12345;
  const data = Float32Array.from({ length: n * h * w * 3 }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s % 256));
  return tf.tensor4d(data, [n, h, w, 3]);
}

test('MobileNet v1: BatchNormalization folded into the convs gives the original network on raw pixels', { skip: skipV1 }, async () => {
  const original = await loadLayersModelFromFile(V1);
  assert.ok(original.layers.some((l) => l.getClassName() === 'BatchNormalization'));
  const model = await loadMobileNetV1({ path: V1, includeTop: true });
  assert.ok(model.layers.every((l) => l.getClassName() !== 'BatchNormalization'));
  assert.equal(model.layers[1].name, 'rescaling');
  // Each ReLU6 runs in its convolution's kernel; its layer, kept for its name, is the identity.
  const activationOf = (l: tf.layers.Layer) => (l.getConfig() as { activation?: string }).activation;
  const convs = model.layers.filter((l) => ['Conv2D', 'DepthwiseConv2D'].includes(l.getClassName()));
  assert.equal(convs.filter((l) => activationOf(l) === 'relu6').length, 27);
  assert.ok(model.layers.filter((l) => l.name.endsWith('_relu')).every((l) => activationOf(l) === 'linear'));
  const x = randomPixels(2, 224, 224);
  const [a, b] = tf.tidy(() => [model.predict(x) as tf.Tensor, original.predict(tf.sub(tf.div(x, 127.5), 1)) as tf.Tensor]);
  assert.deepEqual(a.shape, [2, 1000]);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  assert.ok(diff < 1e-4, `max |Δp| = ${diff}`);
  tf.dispose([x, a, b]);
  original.dispose();
  model.dispose();
});

test('MobileNet v1 base: conv_pw_13_relu output at 224 and 160 px; fs-io save/load round trip', { skip: skipV1 }, async () => {
  const base = await loadMobileNetV1({ path: V1 });
  assert.equal(base.layers.at(-1)!.name, MOBILENET_V1_FEATURE_LAYER);
  assert.deepEqual(base.outputs[0].shape, [null, 7, 7, 768]);
  base.dispose();
  const small = await loadMobileNetV1({ path: V1, inputSize: [160, 160] });
  assert.deepEqual(small.outputs[0].shape, [null, 5, 5, 768]);
  const dir = mkdtempSync(join(tmpdir(), 'convkit-fsio-'));
  try {
    await small.save(fileSystem(join(dir, 'm')));
    const again = await tf.loadLayersModel(fileSystem(join(dir, 'm')));
    const x = randomPixels(1, 160, 160);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(small.predict(x) as tf.Tensor, again.predict(x) as tf.Tensor))).dataSync()[0]);
    assert.equal(d, 0);
    x.dispose();
    again.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    small.dispose();
  }
  await assert.rejects(loadMobileNetV1({ path: join(MODELS, 'nope') }), (e: unknown) => e instanceof ConvkitError && /MobileNet v1 not found/.test(e.message));
});

test('bases registry: feature layers, shapes and blocks', { skip: skipV1 || skipV2 }, async () => {
  assert.equal(modelsDir(), MODELS.replace(/\/$/, ''));
  assert.throws(
    () => baseSpec('resnet'),
    (e: unknown) => e instanceof ConvkitError && /mobilenet_v1, mobilenet_v2, vgg16/.test(e.message),
  );
  for (const name of ['mobilenet_v1', 'mobilenet_v2'] as const) {
    const spec = BASES[name];
    const base = await loadBase(name, { modelsDir: MODELS });
    assert.equal(base.featureLayer, spec.featureLayer);
    assert.ok(
      base.model.layers.some((l) => l.name === spec.fineTuneFrom),
      spec.fineTuneFrom,
    );
    assert.equal(base.model.outputs[0].sourceLayer.name, base.featureLayer, name);
    assert.deepEqual(base.model.outputs[0].shape.slice(1), spec.featureShape, name);
    assert.equal(spec.labels(MODELS).length, spec.classes);
    const inBlocks = base.blocks.flatMap((b) => b.layers);
    assert.ok(!inBlocks.includes('rescaling'));
    assert.equal(base.blocks.at(-1)!.layers.at(-1), base.featureLayer);
    assert.equal(base.blocks.length, name === 'mobilenet_v1' ? 14 : 19, `${name}: ${base.blocks.map((b) => b.name).join(' ')}`);
    base.model.dispose();
  }
  const vgg = await loadBase('vgg16', { weights: null, inputSize: [32, 32] });
  assert.deepEqual(
    vgg.blocks.map((b) => b.name),
    ['block1', 'block2', 'block3', 'block4', 'block5'],
  );
  assert.equal(vgg.model.outputs[0].sourceLayer.name, 'block5_pool');
  vgg.model.dispose();
});
