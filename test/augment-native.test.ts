/**
 * On the native backend (when built): its Transform kernel is the cpu one,
 * which transforms only the first image of a batch, so engine 'tfjs' calls
 * it per image; results must match convkit's JS resampler.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { applyTransform, sampleTransform, type FillMode } from '../src/augment/index.js';
import { createRng } from '../src/util/rng.js';

let native = '';
before(async () => {
  try {
    await initBackend('native', () => undefined);
  } catch (err) {
    native = (err as Error).message.split('\n')[0]!;
  }
});

test("engine 'tfjs' and the JS resampler agree on every image of a batch", (t) => {
  if (native) return t.skip(`native backend unavailable: ${native}`);
  const rng = createRng(5);
  const x = tf.randomUniform([4, 18, 22, 3], 0, 255, 'float32', 9) as tf.Tensor4D;
  const opts = { rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 20, zoomRange: 0.3, horizontalFlip: true };
  for (const fillMode of ['constant', 'nearest', 'reflect'] as FillMode[]) {
    const ts = Array.from({ length: 4 }, () => sampleTransform(opts, [18, 22], rng));
    const a = applyTransform(x, ts, { fillMode, cval: 9, engine: 'tfjs' });
    const b = applyTransform(x, ts, { fillMode, cval: 9, engine: 'js' });
    const diff = a.sub(b).abs().max();
    assert.ok(diff.dataSync()[0]! < 1e-2, `${fillMode}: max diff ${diff.dataSync()[0]}`);
    tf.dispose([a, b, diff]);
  }
  x.dispose();
});
