/**
 * Forward speed of the pretrained bases (no top) on the backend convkit
 * picks (native when it loads; CONVKIT_BACKEND chooses another): images/s
 * at batch 20, 224×224. Run: node --import tsx bench/models-forward.ts [base...]
 * VGG16 uses random weights (same cost as ImageNet's).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { BASE_NAMES, loadBase } from '../src/models/bases.js';

const BATCH = 20;
const info = await initBackend();
console.log(`backend ${info.name} (${tf.getBackend()}), threads ${info.threads}`);
const names = process.argv.slice(2).length ? process.argv.slice(2) : [...BASE_NAMES];
for (const name of names) {
  const { model, featureLayer } = await loadBase(name, { weights: null });
  const x = tf.randomUniform([BATCH, 224, 224, 3], 0, 255);
  tf.tidy(() => {
    (model.predict(x) as tf.Tensor).dataSync();
  }); // warm-up (kernel set-up, allocations)
  const reps = name === 'vgg16' ? 1 : 3;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++)
    tf.tidy(() => {
      (model.predict(x) as tf.Tensor).dataSync();
    });
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${name.padEnd(13)} ${featureLayer.padEnd(16)} ${String(model.outputs[0].shape.slice(1)).padEnd(10)} ${((BATCH * reps) / s).toFixed(1)} images/s (batch ${BATCH}, ${reps} batches in ${s.toFixed(2)} s)`,
  );
  x.dispose();
  model.dispose();
}
