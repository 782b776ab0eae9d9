/** Native convolution and pooling kernels against TF.js's JS cpu kernels. */
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertClose, createRng, parity, randomInput, setup, skipReason } from './backend-native-util.js';

const rng = createRng(20240501);
type Pad = 'same' | 'valid';
type Pair = [number, number];

const convCases: { x: number[]; f: number[]; s: number | Pair; pad: Pad; d?: number }[] = [
  { x: [1, 7, 7, 1], f: [3, 3, 1, 4], s: 1, pad: 'same' },
  { x: [2, 9, 11, 3], f: [3, 3, 3, 8], s: 2, pad: 'same' },
  { x: [2, 10, 10, 3], f: [3, 3, 3, 5], s: 2, pad: 'valid' },
  { x: [3, 8, 7, 5], f: [5, 3, 5, 6], s: [2, 1], pad: 'valid' },
  { x: [2, 6, 6, 16], f: [1, 1, 16, 7], s: 1, pad: 'valid' },
  { x: [1, 12, 12, 32], f: [3, 3, 32, 24], s: 1, pad: 'same' },
  { x: [1, 9, 9, 4], f: [3, 3, 4, 3], s: 1, pad: 'same', d: 2 },
];

test('Conv2D, its two backprops and FusedConv2D match the cpu kernels', { skip: skipReason }, async () => {
  await setup();
  for (const c of convCases) {
    const name = `conv x${c.x} f${c.f} s${c.s} ${c.pad} d${c.d ?? 1}`;
    const x = randomInput(rng, c.x),
      w = randomInput(rng, c.f, 0.5);
    const conv = (xt: tf.Tensor, wt: tf.Tensor) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d ?? 1);
    await parity(name, [x, w], conv, ['Conv2D']);
    const b = randomInput(rng, [c.f[3]]);
    for (const activation of ['relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu', 'linear'] as const) {
      await parity(
        `${name} fused ${activation}`,
        [x, w, b],
        (xt, wt, bt) =>
          tf.fused.conv2d({
            x: xt as tf.Tensor4D,
            filter: wt as tf.Tensor4D,
            strides: c.s,
            pad: c.pad,
            dilations: c.d ?? 1,
            bias: bt,
            activation,
            leakyreluAlpha: 0.1,
          }),
        ['FusedConv2D'],
      );
    }
    if (c.d) continue; // TF.js has no conv2d gradient for dilation > 1
    const y = tf.tidy(() => conv(tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)));
    const r = randomInput(rng, y.shape);
    y.dispose();
    await parity(`${name} grads`, [x, w, r], (xt, wt, rt) => tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(conv(a, f), rt)))([xt, wt]), [
      'Conv2DBackpropInput',
      'Conv2DBackpropFilter',
    ]);
  }
});

const dwCases: { x: number[]; f: number[]; s: number; pad: Pad; d?: number }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 2], s: 2, pad: 'same' },
  { x: [1, 8, 8, 4], f: [3, 3, 4, 1], s: 1, pad: 'valid' },
  { x: [2, 10, 10, 1], f: [3, 3, 1, 3], s: 2, pad: 'valid' },
  { x: [1, 11, 11, 32], f: [3, 3, 32, 1], s: 1, pad: 'same' },
  { x: [1, 9, 9, 5], f: [3, 3, 5, 1], s: 1, pad: 'same', d: 2 },
];

test('depthwise convolution, its backprops and FusedDepthwiseConv2D match', { skip: skipReason }, async () => {
  await setup();
  for (const c of dwCases) {
    const name = `depthwise x${c.x} f${c.f} s${c.s} ${c.pad} d${c.d ?? 1}`;
    const x = randomInput(rng, c.x),
      w = randomInput(rng, c.f, 0.5);
    const dw = (xt: tf.Tensor, wt: tf.Tensor) => tf.depthwiseConv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d ?? 1);
    await parity(name, [x, w], dw, ['DepthwiseConv2dNative']);
    const b = randomInput(rng, [c.f[2] * c.f[3]]);
    for (const activation of ['relu6', 'relu', 'linear'] as const) {
      await parity(
        `${name} fused ${activation}`,
        [x, w, b],
        (xt, wt, bt) =>
          tf.fused.depthwiseConv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: c.s, pad: c.pad, dilations: c.d ?? 1, bias: bt, activation }),
        ['FusedDepthwiseConv2D'],
      );
    }
    if (c.d) continue;
    const y = tf.tidy(() => dw(tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)));
    const r = randomInput(rng, y.shape);
    y.dispose();
    await parity(`${name} grads`, [x, w, r], (xt, wt, rt) => tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(dw(a, f), rt)))([xt, wt]), [
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
    ]);
  }
});

const poolCases: { x: number[]; k: number | Pair; s: number | Pair; pad: Pad }[] = [
  { x: [2, 9, 9, 3], k: 2, s: 2, pad: 'valid' },
  { x: [1, 7, 8, 5], k: 3, s: 2, pad: 'same' },
  { x: [2, 6, 6, 1], k: 3, s: 1, pad: 'same' },
  { x: [1, 10, 9, 16], k: [2, 3], s: [2, 1], pad: 'valid' },
  { x: [3, 15, 15, 8], k: 2, s: 2, pad: 'same' },
  // Non-overlapping windows without padding take the addon's one-pass gradient: threaded, and stride past the window.
  { x: [8, 48, 48, 32], k: 2, s: 2, pad: 'valid' },
  { x: [1, 11, 10, 4], k: 2, s: 3, pad: 'valid' },
  // Channels in two blocks of the gradient's inner loop (64 + 6), and 3×3 windows with rows and columns left over.
  { x: [2, 9, 7, 70], k: 3, s: 3, pad: 'valid' },
];

test('MaxPool, AvgPool and their gradients match', { skip: skipReason }, async () => {
  await setup();
  for (const c of poolCases) {
    const name = `pool x${c.x} k${c.k} s${c.s} ${c.pad}`;
    const x = randomInput(rng, c.x);
    const maxPool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.k, c.s, c.pad);
    const avgPool = (t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, c.k, c.s, c.pad);
    await parity(`max ${name}`, [x], maxPool, ['MaxPool']);
    await parity(`avg ${name}`, [x], avgPool, ['AvgPool']);
    const y = tf.tidy(() => maxPool(tf.tensor(x.data, x.shape)));
    const r = randomInput(rng, y.shape);
    y.dispose();
    await parity(`max ${name} grad`, [x, r], (xt, rt) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool(a), rt)))(xt), ['MaxPoolGrad']);
    await parity(`avg ${name} grad`, [x, r], (xt, rt) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(avgPool(a), rt)))(xt), ['AvgPoolGrad']);
  }
});

test('max-pool gradient with tied maxima goes to the first one, as the JS kernel', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [2, 9, 8, 3]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.round(x.data[i]! * 1.5) / 2; // few distinct values: many ties
  x.data[5] = -Infinity;
  const r = randomInput(rng, [2, 4, 4, 3]);
  const maxPool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid');
  await parity('max pool grad with ties', [x, r], (xt, rt) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool(a), rt)))(xt), ['MaxPoolGrad'], 0);
});

test('the max-pool gradient with the relu step folded in equals MaxPoolGrad · step(x) on the cpu kernels', { skip: skipReason }, async () => {
  await setup();
  for (const c of [
    { x: [2, 9, 9, 3], k: 2, s: 2, pad: 'valid' },
    { x: [1, 7, 8, 5], k: 3, s: 2, pad: 'same' },
  ] as const) {
    // Relu outputs: many exact zeros, and whole windows of them.
    const x = randomInput(rng, [...c.x]);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.max(0, x.data[i]! - 0.5);
    const attrs = { filterSize: c.k, strides: c.s, pad: c.pad } as unknown as tf.NamedAttrMap;
    const run = async (backend: string, f: (inputs: { dy: tf.Tensor; input: tf.Tensor; output: tf.Tensor }) => tf.Tensor) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const input = tf.tensor(x.data, x.shape);
        const output = tf.maxPool(input as tf.Tensor4D, c.k, c.s, c.pad);
        const dy = tf.tensor(randomInput(createRng(3), output.shape).data, output.shape);
        return new Float32Array(f({ dy, input, output }).dataSync());
      });
    };
    const got = await run('native', (inputs) => tf.engine().runKernel('ConvkitMaxPoolReluGrad', inputs, attrs) as tf.Tensor);
    const want = await run('cpu', (inputs) => tf.mul(tf.engine().runKernel('MaxPoolGrad', inputs, attrs) as tf.Tensor, tf.step(inputs.input)));
    assertClose(got, want, 0, `x${c.x} k${c.k} s${c.s} ${c.pad}`);
  }
});

test('cases the addon does not take (PReLU, NCHW) still match through the JS kernels', { skip: skipReason }, async () => {
  await setup();
  const x = randomInput(rng, [2, 7, 7, 3]),
    w = randomInput(rng, [3, 3, 3, 4]),
    b = randomInput(rng, [4]);
  const alpha = randomInput(rng, [4]);
  await parity(
    'fused conv prelu',
    [x, w, b, alpha],
    (xt, wt, bt, at) =>
      tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: 1, pad: 'same', bias: bt, activation: 'prelu', preluActivationWeights: at }),
    [],
  );
  const xc = randomInput(rng, [2, 3, 7, 7]);
  await parity('conv NCHW', [xc, w], (xt, wt) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same', 'NCHW'), []);
});
