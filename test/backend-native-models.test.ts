/** A real pretrained network (MobileNet v1 0.75) predicts the same on
 * the native and cpu backends, with the same gradients. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nativeCalls } from '../src/backend/native.js';
import { packageRoot } from '../src/util/paths.js';
import { assertClose, createRng, randomInput, setup, skipReason } from './backend-native-util.js';

const dir = join(packageRoot(), '..', 'shared', 'models', 'mobilenet_v1_0.75_224');
const skip = skipReason || (existsSync(join(dir, 'model.json')) ? false : `${dir} not found`);

function load(): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const specs = json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights);
  const buffers = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dir, p))));
  const data = Buffer.concat(buffers);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

// 64 px keeps the JS reference fast; every layer still runs (global pooling).
const input = randomInput(createRng(3), [2, 64, 64, 3], 1);

async function run(backend: string): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const model = await load();
  const x = tf.tensor(input.data, input.shape);
  const probs = model.apply(x, { training: false }) as tf.Tensor;
  const out: Float32Array[] = [new Float32Array(probs.dataSync())];
  // Gradient of one class score with respect to the input, through every
  // layer (batch norm, relu6, depthwise and pointwise backprops). Inference
  // mode: batch statistics of 2 images at 2x2 pixels would make the result
  // hinge on float rounding.
  const g = tf.grad((x0: tf.Tensor) => tf.sum(tf.slice(model.apply(x0, { training: false }) as tf.Tensor, [0, 7], [2, 1])))(x);
  out.push(new Float32Array(g.dataSync()));
  tf.dispose([x, probs, g]);
  model.dispose();
  await tf.setBackend('cpu');
  return out;
}

test('MobileNet v1 predictions and input gradients match the cpu backend', { skip }, async () => {
  await setup();
  const before = nativeCalls.DepthwiseConv2dNativeBackpropInput;
  const got = await run('native');
  assert.ok(nativeCalls.DepthwiseConv2dNativeBackpropInput > before, 'depthwise backprop ran natively');
  const want = await run('cpu');
  assertClose(got[0], want[0], 1e-4, 'class probabilities');
  assertClose(got[1], want[1], 1e-4, 'input gradient');
});
