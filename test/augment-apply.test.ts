/**
 * applyTransform against hand-computed results on a 5×5 image with values
 * 1..25 (row r, column c → 5r + c + 1). The geometric cases were checked
 * against Keras's apply_affine_transform (scipy.ndimage, order 1); wrap
 * differs on purpose (see the wrap test).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { applyTransform, identityTransform, type ResampleEngine, type TransformParams, type FillMode } from '../src/augment/index.js';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const IMG = Array.from({ length: 25 }, (_, i) => i + 1);
const img5 = (): tf.Tensor4D => tf.tensor4d(IMG, [1, 5, 5, 1]);
const t = (p: Partial<TransformParams>): TransformParams => ({ ...identityTransform(), ...p });

function rows(x: tf.Tensor, image = 0): number[][] {
  const [, h, w] = x.shape as number[];
  const d = Array.from(x.dataSync()).slice(image * h! * w!, (image + 1) * h! * w!);
  return Array.from({ length: h! }, (_, r) => d.slice(r * w!, r * w! + w!).map((v) => Math.round(v * 1e4) / 1e4));
}

function run(p: Partial<TransformParams>, fillMode: FillMode = 'nearest', engine: ResampleEngine = 'js', cval = 0): number[][] {
  const x = img5();
  const y = applyTransform(x, [t(p)], { fillMode, cval, engine });
  const out = rows(y);
  x.dispose();
  y.dispose();
  return out;
}

const ENGINES: ResampleEngine[] = ['js', 'tfjs'];

test('90° rotation turns the image counter-clockwise', () => {
  for (const engine of ENGINES) {
    assert.deepEqual(
      run({ theta: 90 }, 'nearest', engine),
      [
        [5, 10, 15, 20, 25],
        [4, 9, 14, 19, 24],
        [3, 8, 13, 18, 23],
        [2, 7, 12, 17, 22],
        [1, 6, 11, 16, 21],
      ],
      engine,
    );
  }
});

test('shift by 2 px with each fill mode', () => {
  // tx = -2: the output samples the input 2 px to the left, so content moves right.
  const expected: Record<FillMode, number[]> = {
    constant: [-1, -1, 1, 2, 3],
    nearest: [1, 1, 1, 2, 3],
    reflect: [2, 1, 1, 2, 3], // d c b a | a b c d e
    wrap: [4, 5, 1, 2, 3], // periodic (Keras/scipy 'wrap' gives 3 4 1 2 3: it overlaps the first and last column)
  };
  for (const engine of ENGINES) {
    for (const [mode, row0] of Object.entries(expected) as [FillMode, number[]][]) {
      const out = run({ tx: -2 }, mode, engine, -1);
      for (let r = 0; r < 5; r++)
        assert.deepEqual(
          out[r],
          row0.map((v) => (v < 0 ? v : v + 5 * r)),
          `${engine} ${mode} row ${r}`,
        );
    }
  }
});

test('vertical shift: last row filled by each mode', () => {
  const lastRow: Record<FillMode, number[]> = {
    constant: [7, 7, 7, 7, 7],
    nearest: [21, 22, 23, 24, 25],
    reflect: [21, 22, 23, 24, 25],
    wrap: [1, 2, 3, 4, 5],
  };
  for (const [mode, last] of Object.entries(lastRow) as [FillMode, number[]][]) {
    const out = run({ ty: 1 }, mode, 'js', 7);
    assert.deepEqual(
      out.slice(0, 4),
      [
        [6, 7, 8, 9, 10],
        [11, 12, 13, 14, 15],
        [16, 17, 18, 19, 20],
        [21, 22, 23, 24, 25],
      ],
      mode,
    );
    assert.deepEqual(out[4], last, mode);
  }
});

test('shifts larger than the image wrap and reflect correctly', () => {
  // 7 px left on a 5 px row: wrap ≡ 2 px; reflect period is 10.
  assert.deepEqual(run({ tx: -7 }, 'wrap')[0], [4, 5, 1, 2, 3]);
  assert.deepEqual(run({ tx: 6 }, 'reflect')[0], [4, 3, 2, 1, 1]);
});

test('horizontal and vertical flips', () => {
  for (const engine of ENGINES) {
    assert.deepEqual(run({ flipHorizontal: true }, 'nearest', engine)[1], [10, 9, 8, 7, 6]);
    const v = run({ flipVertical: true }, 'nearest', engine);
    assert.deepEqual(
      v.map((r) => r[0]),
      [21, 16, 11, 6, 1],
    );
    assert.deepEqual(run({ flipHorizontal: true, flipVertical: true }, 'nearest', engine)[0], [25, 24, 23, 22, 21]);
  }
});

test('zoom about the centre', () => {
  // zx = zy = 0.5 samples the middle half: (row, col) → 1 + r/2, 1 + c/2, value 7 + 2.5r + 0.5c.
  assert.deepEqual(run({ zx: 0.5, zy: 0.5 }), [
    [7, 7.5, 8, 8.5, 9],
    [9.5, 10, 10.5, 11, 11.5],
    [12, 12.5, 13, 13.5, 14],
    [14.5, 15, 15.5, 16, 16.5],
    [17, 17.5, 18, 18.5, 19],
  ]);
  // zx = 2 (zoom out along x) with constant 0: column c samples column 2c - 2.
  assert.deepEqual(run({ zx: 2 }, 'constant')[0], [0, 1, 3, 5, 0]);
});

test('shear of 30° (Keras matrix: x - sin·y, cos·y)', () => {
  const s = Math.sin(Math.PI / 6),
    c = Math.cos(Math.PI / 6);
  // Output (r, c0) samples input row 2 + c·(r - 2), column clamp(c0 - s·(r - 2)).
  const expected = Array.from({ length: 5 }, (_, r) =>
    Array.from({ length: 5 }, (_, col) => {
      const row = 2 + c * (r - 2),
        column = Math.min(4, Math.max(0, col - s * (r - 2)));
      return Math.round((5 * row + column + 1) * 1e4) / 1e4;
    }),
  );
  assert.deepEqual(run({ shear: 30 }), expected);
  assert.deepEqual(expected[0], [3.3397, 4.3397, 5.3397, 6.3397, 6.3397]);
});

test('nearest-neighbour interpolation (interpolationOrder 0)', () => {
  const x = img5();
  const y = applyTransform(x, [t({ zx: 0.5, zy: 0.5 })], { interpolationOrder: 0 });
  // Coordinates 1 + c/2 round half up: 1, 2, 2, 3, 3.
  assert.deepEqual(rows(y)[0], [7, 8, 8, 9, 9]);
  tf.dispose([x, y]);
});

test('each image of a batch gets its own transform (3 channels)', () => {
  // Channel k of pixel i is 100k + i.
  const data = new Float32Array(3 * 25 * 3);
  for (let b = 0; b < 3; b++) for (let i = 0; i < 25; i++) for (let k = 0; k < 3; k++) data[(b * 25 + i) * 3 + k] = 100 * k + i + 1;
  const x = tf.tensor4d(data, [3, 5, 5, 3]);
  for (const engine of ENGINES) {
    const y = applyTransform(x, [t({ flipHorizontal: true }), t({}), t({ theta: 90 })], { engine });
    const v = y.arraySync();
    assert.deepEqual(v[0]![0]![0], [5, 105, 205], engine);
    assert.deepEqual(v[1]![0]![0], [1, 101, 201], engine);
    assert.deepEqual(v[2]![4]![0], [1, 101, 201], engine);
    assert.deepEqual(v[2]![0]![0], [5, 105, 205], engine);
    y.dispose();
  }
  x.dispose();
});

test('brightness multiplies in 0..255 and clips', () => {
  const x = tf.tensor4d([0, 50, 100, 200], [1, 2, 2, 1]);
  const y = applyTransform(x, [t({ brightness: 1.5 })]);
  assert.deepEqual(Array.from(y.dataSync()), [0, 75, 150, 255]);
  // Outside 0..255 Keras maps min..max to 0..255 and back: ((x - min)·f clipped to max - min) + min.
  const z = tf.tensor4d([-10, 0, 5, 10], [1, 2, 2, 1]);
  const w = applyTransform(z, [t({ brightness: 1.5 })]);
  assert.deepEqual(Array.from(w.dataSync()), [-10, 5, 10, 10]);
  tf.dispose([x, y, z, w]);
});

test('channel shift adds one value to every channel, clipped to the image min/max', () => {
  const x = tf.tensor4d([10, 50, 90, 20, 60, 100], [1, 1, 2, 3]);
  const y = applyTransform(x, [t({ channelShiftIntensity: 20 })]);
  assert.deepEqual(Array.from(y.dataSync()), [30, 70, 100, 40, 80, 100]);
  const z = applyTransform(x, [t({ channelShiftIntensity: -15 })]);
  assert.deepEqual(Array.from(z.dataSync()), [10, 35, 75, 10, 45, 85]);
  tf.dispose([x, y, z]);
});

test('identity transforms return the pixels unchanged (as float32)', () => {
  const x = tf.tensor4d(IMG, [1, 5, 5, 1], 'int32');
  const y = applyTransform(x, [identityTransform()]);
  assert.equal(y.dtype, 'float32');
  assert.deepEqual(Array.from(y.dataSync()), IMG);
  tf.dispose([x, y]);
});

test('bad input is a ConvkitError naming the problem', () => {
  const x = img5();
  assert.throws(() => applyTransform(x, []), /transforms/);
  assert.throws(() => applyTransform(x, [identityTransform()], { fillMode: 'mirror' as FillMode }), /fillMode/);
  assert.throws(() => applyTransform(x.squeeze([0]) as unknown as tf.Tensor4D, [identityTransform()]), /batch tensor/);
  x.dispose();
});

test('no tensors leak', () => {
  const x = img5();
  const before = tf.memory().numTensors;
  for (const engine of ENGINES) {
    const y = applyTransform(x, [t({ theta: 10, brightness: 1.2, channelShiftIntensity: 3 })], { engine });
    y.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});
