/**
 * On the native backend (when built): the C++ resampler (engine 'native',
 * the default there) gives the JS resampler's results on every image of a
 * batch, for every fill mode and both interpolation orders; engine 'tfjs'
 * (TF.js's cpu Transform kernel, called per image) agrees where that kernel
 * is right.
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

const OPTS = { rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 20, zoomRange: 0.3, horizontalFlip: true };

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
}

test("engine 'native' matches the JS resampler: every fill mode, both orders, large shifts", (t) => {
  if (native) return t.skip(`native backend unavailable: ${native}`);
  const rng = createRng(11);
  // 64×70×3 images: large enough for the rows to be split across threads.
  const x = tf.randomUniform([6, 64, 70, 3], 0, 255, 'float32', 4) as tf.Tensor4D;
  const wide = { ...OPTS, widthShiftRange: 1.5, heightShiftRange: 1.5 }; // shifts past the image: every fill's periodic part
  for (const fillMode of ['constant', 'nearest', 'reflect', 'wrap'] as FillMode[]) {
    for (const interpolationOrder of [0, 1] as const) {
      for (const opts of [OPTS, wide]) {
        const ts = Array.from({ length: 6 }, () => sampleTransform(opts, [64, 70], rng));
        const a = applyTransform(x, ts, { fillMode, cval: 7, interpolationOrder });
        const b = applyTransform(x, ts, { fillMode, cval: 7, interpolationOrder, engine: 'js' });
        const d = maxDiff(a, b);
        assert.ok(d < 1e-3, `${fillMode}, order ${interpolationOrder}: max diff ${d}`);
        tf.dispose([a, b]);
      }
    }
  }
  x.dispose();
});

test("engine 'native' on another backend is an error naming the engine", (t) => {
  if (native) return t.skip(`native backend unavailable: ${native}`);
  const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
  const ts = [sampleTransform({ rotationRange: 10 }, [4, 4], createRng(1))];
  tf.setBackend('cpu');
  try {
    assert.throws(() => applyTransform(x, ts, { engine: 'native' }), /engine 'native' needs the native backend/);
  } finally {
    tf.setBackend('native');
    x.dispose();
  }
});

test("engine 'tfjs' and the JS resampler agree on every image of a batch", (t) => {
  if (native) return t.skip(`native backend unavailable: ${native}`);
  const rng = createRng(5);
  const x = tf.randomUniform([4, 18, 22, 3], 0, 255, 'float32', 9) as tf.Tensor4D;
  for (const fillMode of ['constant', 'nearest', 'reflect'] as FillMode[]) {
    const ts = Array.from({ length: 4 }, () => sampleTransform(OPTS, [18, 22], rng));
    const a = applyTransform(x, ts, { fillMode, cval: 9, engine: 'tfjs' });
    const b = applyTransform(x, ts, { fillMode, cval: 9, engine: 'js' });
    const d = maxDiff(a, b);
    assert.ok(d < 1e-2, `${fillMode}: max diff ${d}`);
    tf.dispose([a, b]);
  }
  x.dispose();
});
