/**
 * Trains three steps of several convkit networks on the native backend
 * (settings from the environment: CONVKIT_BUFFER_POOL_MB,
 * CONVKIT_BUFFER_POOL_POISON) and prints one JSON line: a sha256 of every
 * weight and prediction, and how many outputs the pool served.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { initBackend } from '../src/backend/index.js';
import { outputPool } from '../src/backend/buffer-pool.js';
import { loadBase } from '../src/models/bases.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { miniXception } from '../src/models/xception.js';
import { xresnet } from '../src/models/xresnet.js';
import { buildHead, stitch, truncate } from '../src/transfer/head.js';
import { createRng } from '../src/util/rng.js';

await initBackend('native', () => undefined);
const hash = createHash('sha256');

async function train(model: tf.LayersModel, size: number, optimizer: tf.Optimizer): Promise<void> {
  const rng = createRng(7);
  const x = tf.tensor4d(
    Float32Array.from({ length: 16 * size * size * 3 }, () => rng.next() * 255),
    [16, size, size, 3],
  );
  const y = tf.tensor2d(
    Float32Array.from({ length: 16 }, (_, i) => i % 2),
    [16, 1],
  );
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y);
  const p = model.predict(x) as tf.Tensor;
  for (const w of [...model.getWeights(), p]) hash.update(Float32Array.from(w.dataSync()));
  tf.dispose([x, y, p]);
}

await train(smallCnn({ inputShape: [64, 64, 3], seed: 1 }), 64, tf.train.rmsprop(1e-3));
await train(miniXception({ inputShape: [72, 72, 3], numClasses: 2, dropout: 0, seed: 1 }), 72, tf.train.rmsprop(1e-3));
await train(xresnet({ inputShape: [64, 64, 3], numClasses: 2, widen: 0.5, seed: 1 }), 64, tf.train.adam(1e-3));
try {
  const loaded = await loadBase('mobilenet_v1', { inputSize: [96, 96] });
  const features = truncate(loaded.model, loaded.featureLayer);
  const head = buildHead(features.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, rng: createRng(1) });
  await train(stitch(features, head, 'mobilenet_v1_classifier'), 96, tf.train.adam(5e-5));
} catch (err) {
  if (!/not found/.test((err as Error).message)) throw err; // without ../shared/models the other networks still check the pool
}
console.log(JSON.stringify({ digest: hash.digest('hex'), reused: outputPool.stats.reused }));
