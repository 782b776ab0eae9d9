/** Native matrix products, elementwise ops and sums against the JS cpu kernels. */
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { createRng, parity, randomInput, runOn, setup, skipReason } from './backend-native-util.js';

const rng = createRng(77);

const mmCases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [5, 7], b: [7, 3], ta: false, tb: false },
  { a: [7, 5], b: [7, 3], ta: true, tb: false },
  { a: [5, 7], b: [3, 7], ta: false, tb: true },
  { a: [7, 5], b: [3, 7], ta: true, tb: true },
  { a: [1, 64], b: [64, 33], ta: false, tb: false },
  { a: [2, 4, 6], b: [2, 6, 3], ta: false, tb: false },
  { a: [1, 4, 6], b: [3, 6, 5], ta: false, tb: false },
  { a: [3, 6, 4], b: [6, 5], ta: true, tb: false },
];

test('MatMul, BatchMatMul, _FusedMatMul and their gradients match', { skip: skipReason }, async () => {
  await setup();
  for (const c of mmCases) {
    const name = `matmul a${c.a}${c.ta ? 'T' : ''} b${c.b}${c.tb ? 'T' : ''}`;
    const a = randomInput(rng, c.a),
      b = randomInput(rng, c.b);
    const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.ta, c.tb);
    await parity(name, [a, b], mm, ['BatchMatMul']);
    const n = c.tb ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
    const bias = randomInput(rng, [n]);
    for (const activation of ['relu', 'sigmoid', 'relu6', 'linear'] as const) {
      await parity(
        `${name} fused ${activation}`,
        [a, b, bias],
        (x, y, z) => tf.fused.matMul({ a: x, b: y, transposeA: c.ta, transposeB: c.tb, bias: z, activation }),
        ['_FusedMatMul'],
      );
    }
    if (c.a.length > 2 && c.a[0] !== c.b[0]) continue; // TF.js has no gradient for broadcast batches
    const out = tf.tidy(() => mm(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)));
    const r = randomInput(rng, out.shape);
    out.dispose();
    await parity(`${name} grads`, [a, b, r], (x, y, rt) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(mm(p, q), rt)))([x, y]), ['BatchMatMul']);
  }
});

test('elementwise ops match the cpu kernels exactly', { skip: skipReason }, async () => {
  await setup();
  const shape = [4, 33, 37, 3]; // 14652 elements: above the native threshold
  const x = randomInput(rng, shape, 3),
    pos = randomInput(rng, shape, 2, true);
  x.data[5] = 0;
  x.data[6] = 6;
  x.data[7] = NaN;
  const unary: [string, (t: tf.Tensor) => tf.Tensor, boolean][] = [
    ['Relu', tf.relu, false],
    ['Relu6', tf.relu6, false],
    ['Step', (t) => tf.step(t, 0.25), false],
    ['Square', tf.square, false],
    ['Sqrt', tf.sqrt, true],
    ['Neg', tf.neg, false],
    ['Reciprocal', tf.reciprocal, true],
  ];
  for (const [kernel, f, positive] of unary) await parity(kernel, [positive ? pos : x], f, [kernel], 0);
  const y = randomInput(rng, shape),
    c = randomInput(rng, [3]),
    row = randomInput(rng, [37, 3]),
    s = randomInput(rng, []);
  // Repeated along middle axes: [4,1,1,3] (global pooling's gradient) and [4,33,1,3].
  const perImage = randomInput(rng, [4, 1, 1, 3]),
    perRow = randomInput(rng, [4, 33, 1, 3]);
  const binary: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['Add', tf.add],
    ['Sub', tf.sub],
    ['Multiply', tf.mul],
    ['RealDiv', tf.div],
    ['SquaredDifference', tf.squaredDifference],
    ['Minimum', tf.minimum],
    ['Maximum', tf.maximum],
  ];
  for (const [kernel, f] of binary) {
    for (const [label, other] of [
      ['same shape', y],
      ['channel vector', c],
      ['trailing rows', row],
      ['scalar', s],
      ['per image and channel', perImage],
      ['per row', perRow],
    ] as const) {
      await parity(`${kernel} ${label}`, [x, other], f, [kernel], 0);
      await parity(`${kernel} ${label} swapped`, [other, x], f, [kernel], 0);
    }
  }
});

test('float32 tensors cast from bool (stored as bytes) multiply correctly', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [64, 100]),
    y = randomInput(rng, [64, 100]);
  await parity('mask multiply', [x, y], (a, b) => tf.mul(b, tf.cast(tf.greater(a, 0), 'float32')), []);
  await parity('mask add', [x, y], (a, b) => tf.add(tf.cast(tf.greater(a, 0), 'float32'), b), []);
});

test('Sum and Mean over leading, middle or trailing axes match', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [6, 21, 19, 16]);
  const cases: [number | number[], boolean][] = [
    [[0, 1, 2], false],
    [[0, 1, 2], true],
    [0, false],
    [[2, 3], false],
    [3, true],
    [-1, false],
    [[1, 2], false],
    [[1, 2], true],
    [1, false],
    [[2, 1], true],
  ];
  for (const [axis, keepDims] of cases) {
    await parity(`sum axis ${axis} keepDims ${keepDims}`, [x], (t) => tf.sum(t, axis, keepDims), ['Sum'], 1e-5);
    await parity(`mean axis ${axis} keepDims ${keepDims}`, [x], (t) => tf.mean(t, axis, keepDims), ['Mean'], 1e-5);
  }
  // A sum of all 38,304 values: float32 rounding differs with the order of
  // additions, so both backends are held to a float64 reference.
  let exact = 0,
    magnitude = 0;
  for (const v of x.data) {
    exact += v;
    magnitude += Math.abs(v);
  }
  for (const backend of ['native', 'cpu']) {
    const [got] = await runOn(backend, [x], (t) => tf.sum(t));
    assert.ok(Math.abs(got[0] - exact) <= 1e-6 * magnitude, `${backend} total ${got[0]} vs ${exact}`);
  }
});

test('GatherV2 along axis 0 matches (float and int rows, repeated indices); bad indices keep the JS error', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [9, 7, 5, 3]);
  const idx = [8, 0, 3, 3, 5];
  await parity('gather rows', [x], (t) => tf.gather(t, tf.tensor1d(idx, 'int32')), ['GatherV2'], 0);
  await parity(
    'gather 2-D indices',
    [x],
    (t) =>
      tf.gather(
        t,
        tf.tensor2d(
          [
            [1, 2],
            [2, 1],
          ],
          [2, 2],
          'int32',
        ),
      ),
    ['GatherV2'],
    0,
  );
  await parity(
    'gather int labels',
    [x],
    (t) => tf.gather(tf.range(0, 9, 1, 'int32').reshape([9, 1]), tf.tensor1d(idx, 'int32')).add(t.sum().mul(0).cast('int32')),
    ['GatherV2'],
    0,
  );
  tf.setBackend('native');
  const t = tf.zeros([3, 2]);
  assert.throws(() => tf.gather(t, tf.tensor1d([3], 'int32')), /GatherV2: the index value 3 is not in \[0, 2\]/);
  t.dispose();
});

for (const [name, f, kernel] of [
  ['relu6', tf.relu6, 'Relu6'],
  ['relu', tf.relu, 'Relu'],
] as const) {
  test(`${name}'s gradient runs as one native kernel and matches the cpu backend's exactly`, { skip: skipReason }, async () => {
    await setup();
    const x = randomInput(rng, [4, 33, 37, 3], 8),
      dy = randomInput(rng, [4, 33, 37, 3]);
    x.data[0] = 0;
    x.data[1] = 6;
    x.data[2] = NaN;
    await parity(`${name} gradient`, [x, dy], (t, g) => tf.grad((u: tf.Tensor) => f(u))(t, g), [], 0);
    tf.setBackend('native');
    const [xt, gt] = [tf.tensor(x.data, x.shape), tf.tensor(dy.data, dy.shape)];
    const profile = await tf.profile(() => tf.grad((u: tf.Tensor) => f(u))(xt, gt));
    assert.deepEqual(
      profile.kernels.map((k) => k.name).filter((n) => n !== kernel && n !== 'Identity'),
      [`Convkit${kernel}Grad`],
    );
    tf.dispose([xt, gt]);
  });
}

test('kernels flush denormal floats to zero, as TensorFlow does; JS arithmetic keeps them', { skip: skipReason }, async () => {
  await setup();
  tf.setBackend('native');
  const tiny = 1e-39; // below float32's smallest normal (1.18e-38)
  for (const n of [5000, 300_000]) {
    // one thread, and all of them
    const x = tf.fill([n], tiny);
    const y = tf.mul(x, tf.fill([n], 1));
    const v = y.dataSync();
    assert.equal(v[0], 0);
    assert.equal(v[n - 1], 0);
    tf.dispose([x, y]);
  }
  // The JS thread's own floating point is untouched.
  assert.ok(2.2250738585072014e-308 / 2 > 0);
  assert.ok(new Float32Array([tiny])[0]! > 0);
});
