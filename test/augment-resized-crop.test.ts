/**
 * The random-resized crop: its sampling against cases worked by hand and
 * against its own bounds, and its application (a crop stretched back to
 * full size) against the pixel positions it should read, on ramp images.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { applyTransform, type ResampleEngine } from '../src/augment/apply.js';
import { ImageDataGenerator } from '../src/augment/generator.js';
import { sampleResizedCrop } from '../src/augment/resized-crop.js';
import { sampleTransform } from '../src/augment/sample.js';
import { createRng, type Rng } from '../src/util/rng.js';
import { setup, skipReason } from './backend-native-util.js';

before(setup);

/** An Rng whose next() returns the given numbers in turn. */
function scripted(values: number[]): Rng & { used: number } {
  const rng = createRng(1);
  const r = {
    ...rng,
    used: 0,
    next: () => values[r.used++]!,
    uniform: (lo: number, hi: number) => lo + (hi - lo) * r.next(),
  };
  return r;
}

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('a crop by hand: 40 % of a 100×100 image at ratio 1, a quarter of the way down, at the right edge', () => {
  // area 0.16 + 0.48·0.5 = 0.4 → 4,000 px²; ratio exp(uniform(log ¾, log ⁴⁄₃) at 0.5) = 1 → 63.25 px square.
  const rng = scripted([0.5, 0.5, 0.25, 1]);
  const c = sampleResizedCrop([0.16, 0.64], [3 / 4, 4 / 3], [100, 100], rng);
  const side = Math.sqrt(4000);
  close(c.zx, side / 100);
  close(c.zy, side / 100);
  close(c.ty, (0.25 - 0.5) * (100 - side)); // the crop's centre 9.19 px above the image's
  close(c.tx, (1 - 0.5) * (100 - side)); // flush with the right edge
  assert.equal(rng.used, 4);
});

test('no crop fits in ten tries: the largest centred crop within the ratio range, as torchvision', () => {
  // Ratio 2 on a square at full area never fits (141 × 71 px): the whole width, half the height.
  const rng = scripted(new Array(20).fill(0.5));
  assert.deepEqual(sampleResizedCrop([1, 1], [2, 2], [100, 100], rng), { zx: 1, zy: 0.5, tx: 0, ty: 0 });
  assert.equal(rng.used, 20);
  // Ratio ¼ on an image of ratio ½ (80 high, 40 wide): the whole height, 20 px wide.
  assert.deepEqual(sampleResizedCrop([1, 1], [0.25, 0.25], [80, 40], scripted(new Array(20).fill(0.5))), { zx: 0.5, zy: 1, tx: 0, ty: 0 });
});

test('seeded draws stay in range: area 35–100 %, ratio ¾–⁴⁄₃, the crop inside the image', () => {
  const rng = createRng(11);
  const [h, w] = [60, 80];
  const areas: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = sampleTransform({ cropAreaFactor: [0.35, 1] }, [h, w], rng);
    const cw = t.zx * w,
      ch = t.zy * h;
    areas.push(t.zx * t.zy);
    assert.ok(t.zx * t.zy >= 0.35 - 1e-12 && t.zx * t.zy <= 1 + 1e-12, `area ${t.zx * t.zy}`);
    const ratio = cw / ch;
    assert.ok(ratio >= 0.75 - 1e-9 && ratio <= 4 / 3 + 1e-9, `ratio ${ratio}`);
    assert.ok(Math.abs(t.tx) <= (w - cw) / 2 + 1e-9 && Math.abs(t.ty) <= (h - ch) / 2 + 1e-9, 'inside');
    assert.equal(t.theta, 0);
  }
  assert.ok(Math.min(...areas) < 0.4 && Math.max(...areas) > 0.9, 'the whole range is drawn');
  // On a square at ratio 1 every draw fits: the area is uniform, its mean (0.35 + 1)/2 within 3.5 standard errors.
  const square = Array.from({ length: 500 }, () => {
    const t = sampleTransform({ cropAreaFactor: [0.35, 1], aspectRatioFactor: [1, 1] }, [50, 50], rng);
    return t.zx * t.zy;
  });
  const mean = square.reduce((a, b) => a + b, 0) / square.length;
  close(mean, 0.675, (3.5 * 0.65) / Math.sqrt(12 * 500));
  const again = createRng(11);
  assert.deepEqual(sampleTransform({ cropAreaFactor: [0.35, 1] }, [h, w], again), sampleTransform({ cropAreaFactor: [0.35, 1] }, [h, w], createRng(11)));
});

const engines: ResampleEngine[] = skipReason ? ['js'] : ['js', 'native'];

test('applied, the crop reads column u·(W − w) − ½ + (x + ½)·w/W for output column x (ramp images, bilinear)', async () => {
  const [h, w] = [24, 32];
  // Channel 0 holds the column index, channel 1 the row index.
  const data = new Float32Array(h * w * 2);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      data[(r * w + c) * 2] = c;
      data[(r * w + c) * 2 + 1] = r;
    }
  const rng = createRng(5);
  for (const engine of engines) {
    if (engine === 'native') await tf.setBackend('native');
    for (let k = 0; k < 20; k++) {
      const t = sampleTransform({ cropAreaFactor: [0.2, 0.9], aspectRatioFactor: [0.5, 2] }, [h, w], rng);
      const x = tf.tensor4d(data, [1, h, w, 2]);
      const out = applyTransform(x, [t], { fillMode: 'nearest', engine });
      const got = out.dataSync();
      // The crop's left edge (in pixel-edge coordinates, −½ … W − ½) is the centre shift plus half the slack.
      const left = t.tx + (w - t.zx * w) / 2 - 0.5,
        top = t.ty + (h - t.zy * h) / 2 - 0.5;
      for (let r = 0; r < h; r++)
        for (let c = 0; c < w; c++) {
          const col = left + (c + 0.5) * t.zx,
            row = top + (r + 0.5) * t.zy;
          // Inside the image the bilinear read of a ramp is exact; the outermost half pixel is clamped by the fill.
          if (col >= 0 && col <= w - 1) close(got[(r * w + c) * 2]!, col, 1e-3);
          if (row >= 0 && row <= h - 1) close(got[(r * w + c) * 2 + 1]!, row, 1e-3);
        }
      tf.dispose([x, out]);
    }
    await tf.setBackend('cpu');
  }
});

test('options: the crop refuses the zoom and shifts it replaces, a ratio without a crop, and bad ranges, naming them', () => {
  assert.throws(() => new ImageDataGenerator({ cropAreaFactor: [0.35, 1], zoomRange: 0.2 }), /cropAreaFactor and zoomRange are both set/);
  assert.throws(() => new ImageDataGenerator({ cropAreaFactor: [0.35, 1], widthShiftRange: 0.1 }), /cropAreaFactor and widthShiftRange/);
  assert.throws(() => new ImageDataGenerator({ aspectRatioFactor: [0.5, 2] }), /aspectRatioFactor is set without cropAreaFactor/);
  assert.throws(() => new ImageDataGenerator({ cropAreaFactor: [0, 1] }), /invalid cropAreaFactor/);
  assert.throws(() => new ImageDataGenerator({ cropAreaFactor: [0.5, 1.2] }), /invalid cropAreaFactor/);
  assert.throws(() => new ImageDataGenerator({ cropAreaFactor: [0.5, 1], aspectRatioFactor: [2, 1] }), /invalid aspectRatioFactor/);
  // With a flip and a rotation: both compose with the crop.
  const g = new ImageDataGenerator({ cropAreaFactor: [0.35, 1], horizontalFlip: true, rotationRange: 10 });
  const rng = createRng(3);
  const ts = Array.from({ length: 50 }, () => g.randomTransform([32, 32], rng));
  assert.ok(ts.some((t) => t.flipHorizontal) && ts.some((t) => !t.flipHorizontal));
  assert.ok(ts.every((t) => t.zx <= 1 && t.zy <= 1 && Math.abs(t.theta) < 10));
});
