/**
 * On the wasm backend: TF.js's Transform kernel (engine 'tfjs') and convkit's
 * JS resampler agree where the kernel is right, and 'auto' routes around
 * the kernel's reflect bug.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { applyTransform, identityTransform, sampleTransform, type FillMode } from '../src/augment/index.js';
import { createRng } from '../src/util/rng.js';

let wasm = false;
before(async () => {
  try {
    // The stock single-threaded module: the kernel under test is the same in every wasm build.
    setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    setThreadsCount(1);
    wasm = (await tf.setBackend('wasm')) && tf.getBackend() === 'wasm';
  } catch {
    wasm = false;
  }
});

test('tfjs kernel and JS resampler agree (constant, nearest; bilinear and nearest interpolation)', (t) => {
  if (!wasm) return t.skip('wasm backend unavailable');
  const rng = createRng(7);
  const x = tf.randomUniform([4, 20, 24, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
  const opts = { rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 20, zoomRange: 0.3, horizontalFlip: true, verticalFlip: true };
  for (const fillMode of ['constant', 'nearest'] as FillMode[]) {
    for (const interpolationOrder of [0, 1] as const) {
      const ts = Array.from({ length: 4 }, () => sampleTransform(opts, [20, 24], rng));
      const a = applyTransform(x, ts, { fillMode, cval: 33, interpolationOrder, engine: 'tfjs' });
      const b = applyTransform(x, ts, { fillMode, cval: 33, interpolationOrder, engine: 'js' });
      const d = a.sub(b).abs();
      if (interpolationOrder === 1) {
        assert.ok(d.max().dataSync()[0]! < 1e-2, `${fillMode}: max diff ${d.max().dataSync()[0]}`);
      } else {
        // Rounding exactly-half coordinates may pick a different neighbour; nearly all pixels agree.
        const same = d.less(1e-3).mean().dataSync()[0]!;
        assert.ok(same > 0.99, `${fillMode} nearest: ${same} equal`);
      }
      tf.dispose([a, b, d]);
    }
  }
  x.dispose();
});

test("auto engine gives a correct 'reflect' on wasm", (t) => {
  if (!wasm) return t.skip('wasm backend unavailable');
  const x = tf.tensor4d(
    Array.from({ length: 25 }, (_, i) => i + 1),
    [1, 5, 5, 1],
  );
  const y = applyTransform(x, [{ ...identityTransform(), tx: -2 }], { fillMode: 'reflect' });
  assert.deepEqual(Array.from(y.dataSync()).slice(0, 5), [2, 1, 1, 2, 3]);
  tf.dispose([x, y]);
});
