/**
 * The composed wasm training kernels (and the shipped MaxPoolGrad) against
 * the plain JS cpu kernels on random shapes: odd sizes, stride 1–3, same and
 * valid padding, batch 1, 1 and 3 channels.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasm } from '../src/backend/wasm.js';
import { createRng } from '../src/util/rng.js';

before(async () => {
  await initWasm({}, () => {});
});

type Inputs = Record<string, { data: Float32Array; shape: number[] }>;

function randomInput(shape: number[], seed: number): { data: Float32Array; shape: number[] } {
  const rng = createRng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { data, shape };
}

function runOn(backend: string, kernel: string, inputs: Inputs, attrs: object): { shape: number[]; data: Float32Array } {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) ins[k] = tf.tensor(v.data, v.shape);
    const out = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, data: out.dataSync() as Float32Array };
  });
}

/** max |a − b| / max |b|. */
function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

function assertSame(kernel: string, inputs: Inputs, attrs: object, label: string): void {
  const ref = runOn('cpu', kernel, inputs, attrs);
  const got = runOn('wasm', kernel, inputs, attrs);
  assert.deepEqual(got.shape, ref.shape, `${kernel} ${label}: shape`);
  const err = relError(got.data, ref.data);
  assert.ok(err < 1e-4, `${kernel} ${label}: relative error ${err}`);
}

interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: 'same' | 'valid';
}
const convCases: ConvCase[] = [
  { n: 1, h: 7, w: 9, ci: 1, co: 2, k: 3, s: 1, pad: 'valid' },
  { n: 2, h: 8, w: 7, ci: 3, co: 4, k: 3, s: 2, pad: 'same' },
  { n: 2, h: 9, w: 9, ci: 3, co: 5, k: 3, s: 2, pad: 'valid' },
  { n: 3, h: 10, w: 11, ci: 4, co: 3, k: 2, s: 2, pad: 'valid' },
  { n: 1, h: 6, w: 5, ci: 2, co: 3, k: 5, s: 1, pad: 'same' },
  { n: 2, h: 13, w: 12, ci: 3, co: 2, k: 3, s: 3, pad: 'same' },
  { n: 1, h: 12, w: 12, ci: 1, co: 2, k: 4, s: 2, pad: 'same' },
  { n: 2, h: 9, w: 10, ci: 1, co: 1, k: 1, s: 2, pad: 'valid' },
  { n: 4, h: 17, w: 15, ci: 16, co: 8, k: 3, s: 1, pad: 'valid' },
];

function outShape(c: ConvCase): number[] {
  const o = (x: number) => (c.pad === 'same' ? Math.ceil(x / c.s) : Math.ceil((x - c.k + 1) / c.s));
  return [c.n, o(c.h), o(c.w), c.co];
}

test('the composed kernels are the ones registered for wasm', () => {
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']) {
    const k = tf.getKernel(name, 'wasm');
    assert.ok(k, `${name} registered`);
    assert.equal(k.setupFunc, undefined, `${name} is the composed kernel, not the shipped one`);
  }
});

test('Conv2DBackpropFilter matches the cpu kernel', () => {
  convCases.forEach((c, i) => {
    const xShape = [c.n, c.h, c.w, c.ci],
      fShape = [c.k, c.k, c.ci, c.co];
    const inputs = { x: randomInput(xShape, 10 + i), dy: randomInput(outShape(c), 100 + i) };
    assertSame('Conv2DBackpropFilter', inputs, { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: fShape }, JSON.stringify(c));
  });
});

test('Conv2DBackpropInput matches the cpu kernel', () => {
  convCases.forEach((c, i) => {
    const xShape = [c.n, c.h, c.w, c.ci],
      fShape = [c.k, c.k, c.ci, c.co];
    const inputs = { dy: randomInput(outShape(c), 200 + i), filter: randomInput(fShape, 300 + i) };
    assertSame('Conv2DBackpropInput', inputs, { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: xShape }, JSON.stringify(c));
  });
});

test('explicit padding and dimRoundingMode go through the same path', () => {
  const xShape: [number, number, number, number] = [2, 9, 8, 3],
    fShape: [number, number, number, number] = [3, 3, 3, 2];
  const pad = [
    [0, 0],
    [2, 1],
    [0, 2],
    [0, 0],
  ];
  tf.setBackend('cpu');
  const dyShape = tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D, 2, pad as tf.backend_util.ExplicitPadding).shape;
  assertSame(
    'Conv2DBackpropFilter',
    { x: randomInput(xShape, 1), dy: randomInput(dyShape, 2) },
    { strides: 2, pad, dataFormat: 'NHWC', filterShape: fShape },
    'explicit',
  );
  assertSame(
    'Conv2DBackpropInput',
    { dy: randomInput(dyShape, 3), filter: randomInput(fShape, 4) },
    { strides: 2, pad, dataFormat: 'NHWC', inputShape: xShape },
    'explicit',
  );
});

test('MaxPoolGrad matches the cpu kernel (first maximum of a window wins ties)', () => {
  const cases: { shape: [number, number, number, number]; size: number; s: number; pad: string; ties?: boolean }[] = [
    { shape: [2, 8, 8, 3], size: 2, s: 2, pad: 'valid' },
    { shape: [1, 9, 7, 1], size: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 7, 4], size: 3, s: 2, pad: 'same' },
    { shape: [1, 8, 9, 2], size: 3, s: 1, pad: 'valid' },
    { shape: [2, 9, 9, 3], size: 2, s: 2, pad: 'same' },
    { shape: [2, 8, 8, 3], size: 2, s: 2, pad: 'valid', ties: true },
  ];
  cases.forEach((c, i) => {
    tf.setBackend('cpu');
    const x = randomInput(c.shape, 400 + i);
    // ReLU-like input: many windows are all zeros.
    if (c.ties)
      x.data.forEach((v, j) => {
        x.data[j] = Math.max(0, Math.round(v));
      });
    const y = tf.tidy(() => {
      const t = tf.maxPool(tf.tensor(x.data, c.shape) as tf.Tensor4D, c.size, c.s, c.pad as 'same' | 'valid');
      return { data: t.dataSync() as Float32Array, shape: t.shape as number[] };
    });
    const inputs = { dy: randomInput(y.shape, 500 + i), input: x, output: y };
    assertSame('MaxPoolGrad', inputs, { filterSize: c.size, strides: c.s, pad: c.pad }, JSON.stringify(c));
  });
});

test('gradients of conv2d through tf.grads match cpu', () => {
  const x = randomInput([2, 11, 10, 3], 7),
    f = randomInput([3, 3, 3, 4], 8);
  const grads = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf
          .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')
          .square()
          .sum(),
      );
      return g([tf.tensor(x.data, x.shape), tf.tensor(f.data, f.shape)]).map((t) => t.dataSync() as Float32Array);
    });
  };
  const ref = grads('cpu'),
    got = grads('wasm');
  for (let i = 0; i < 2; i++) assert.ok(relError(got[i], ref[i]) < 1e-4, `gradient ${i}: ${relError(got[i], ref[i])}`);
});

test('the kernels free their intermediates', () => {
  tf.setBackend('wasm');
  const x = tf.randomNormal([2, 9, 9, 3]) as tf.Tensor4D,
    f = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'valid').sum());
  tf.dispose(g([x, f])); // warm up (first-use allocations)
  const before = tf.backend().numDataIds();
  tf.dispose(g([x, f]));
  assert.equal(tf.backend().numDataIds(), before);
  tf.dispose([x, f]);
});
