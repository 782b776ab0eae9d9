/**
 * The training tools against hand-computed cases: the learning-rate range
 * test (its schedule, smoothing, stop, suggestions and the weights it puts
 * back), per-group learning rates, the moving average of the weights,
 * class-weighted losses and the class-weight decision, and balanced sampling.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fit } from '../src/train/fit.js';
import { computeLoss } from '../src/train/losses.js';
import { lrFind, smoothLosses, steepestIndex, suggestLearningRate, valleyIndex } from '../src/train/lr-find.js';
import { groupedOptimizer } from '../src/train/lr-groups.js';
import { WeightEma, chooseEmaLogs } from '../src/train/ema.js';
import { chooseClassWeights, parseClassWeight } from '../src/train/class-balance.js';
import { balancedOrder, BalancedTensorBatches } from '../src/train/balanced-sampling.js';
import { makeOptimizer } from '../src/train/optimizers.js';
import { discriminativeMultipliers, trainableGroups } from '../src/transfer/discriminative.js';
import { buildHead, stitch } from '../src/transfer/head.js';
import { freeze, unfreeze } from '../src/transfer/freeze.js';
import { createRng } from '../src/util/rng.js';
import { ConvkitError } from '../src/util/errors.js';
import { syntheticTensors } from './train-synthetic.js';
import { tinyBase } from './transfer-fixtures.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A small dense classifier with BatchNormalization (its moving statistics change in training). */
function denseNet(seed = 1, classes = 1): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const input = tf.input({ shape: [4] });
  let x = tf.layers.dense({ units: 6, activation: 'relu', kernelInitializer: init(seed), name: 'block1_dense' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'block1_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: classes, activation: classes === 1 ? 'sigmoid' : 'softmax', kernelInitializer: init(seed + 1), name: 'head_output' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** 48 points of two noisy classes in 4-D, labels [n, 1]. */
function points(n = 48, seed = 5): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = createRng(seed);
  const xs: number[] = [],
    ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    for (let d = 0; d < 4; d++) xs.push((label ? 1 : -1) * (d < 2 ? 1 : 0.2) + rng.normal() * 0.8);
    ys.push(label);
  }
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.tensor2d(ys, [n, 1]) };
}

const bytes = (ts: tf.Tensor[]) => ts.map((t) => Buffer.from((t.dataSync() as Float32Array).buffer).toString('hex'));

test('lrFind: rates grow as start·(end/start)^(i/numIt), the loss is smoothed as fastai does, and every weight is put back bit for bit', async () => {
  const model = denseNet();
  const before = bytes(model.getWeights());
  const data = { ...points(), batchSize: 8 } as unknown as { x: tf.Tensor4D; y: tf.Tensor; batchSize: number };
  const r = await lrFind(model, data, { startLr: 1e-5, endLr: 1, numIt: 30, optimizer: 'sgd', verbose: false, divergence: 1e9 });
  assert.equal(r.lrs.length, 30, 'no divergence asked for: all 30 batches');
  r.lrs.forEach((lr, i) => assert.equal(lr, 1e-5 * (1 / 1e-5) ** (i / 30), `rate of batch ${i}`));
  // fastai's AvgSmoothLoss: a running average with β = 0.98, divided by 1 − β^(i+1).
  let avg = 0;
  r.losses.forEach((l, i) => {
    avg = 0.98 * avg + 0.02 * l;
    assert.ok(Math.abs(r.smoothed[i]! - avg / (1 - 0.98 ** (i + 1))) < 1e-12);
  });
  assert.deepEqual(bytes(model.getWeights()), before, 'weights and BatchNormalization statistics restored');
  const again = await lrFind(denseNet(), data, { startLr: 1e-5, endLr: 1, numIt: 30, optimizer: 'sgd', verbose: false, divergence: 1e9 });
  assert.deepEqual(again.losses, r.losses, 'same seed, same curve');
});

test('lrFind stops once the smoothed loss passes 4× its minimum, and the curve suggests a rate below the divergence', async () => {
  const model = denseNet(3);
  const data = { ...points(64, 9), batchSize: 16 } as unknown as { x: tf.Tensor4D; y: tf.Tensor; batchSize: number };
  const r = await lrFind(model, data, { startLr: 1e-4, endLr: 1e4, numIt: 60, optimizer: 'sgd', verbose: false });
  assert.ok(r.diverged, 'SGD at rates up to 1e4 diverges');
  assert.ok(r.lrs.length < 60);
  const finite = r.smoothed.filter(Number.isFinite);
  const last = r.smoothed[r.smoothed.length - 1]!;
  assert.ok(!Number.isFinite(last) || last > 4 * Math.min(...finite), 'the last point is past 4× the minimum (or not finite)');
  r.smoothed.slice(0, -1).forEach((s, i) => assert.ok(s <= 4 * Math.min(...r.smoothed.slice(0, i + 1)), `point ${i} was not past the limit`));
  assert.ok(r.suggestion < r.lrs[r.lrs.length - 1]! && r.suggestion >= 1e-4);
});

test('the suggestions are fastai’s: valley about two thirds down the longest fall, steepest slope, minimum / 10', () => {
  const losses = [3, 3.1, 2.9, 2.5, 2.0, 1.4, 1.0, 0.9, 1.5, 4];
  // Longest fall: indices 0 → 7 (lengths 1,1,2,3,4,5,6,7); sections 7/3; index 0 + 2 + 1 = 3.
  assert.equal(valleyIndex(losses), 3);
  const lrs = losses.map((_, i) => 10 ** (i - 8));
  // Equal log steps: the slope is the loss difference; the most negative is 2.0 → 1.4 at index 4.
  assert.equal(steepestIndex(lrs, losses), 4);
  // Stopped after 7 of 10 batches: without the first tenth (1 point) and the last 5, one point is left, too few for a valley.
  const s = suggestLearningRate(lrs.slice(0, 7), losses.slice(0, 7), 10);
  assert.equal(s.method, 'minimum');
  assert.equal(s.suggestion, lrs[6]! / 10, 'the lowest loss of the 7 is at index 6');
  const long = Array.from({ length: 40 }, (_, i) => (i < 30 ? 2 - i * 0.05 : 0.5 + (i - 30) * 0.5));
  const longLrs = long.map((_, i) => 1e-6 * 10 ** (i / 5));
  const t = suggestLearningRate(longLrs, long, 40);
  assert.equal(t.method, 'valley');
  // Trimmed to indices 4..34: the fall runs 4 → 29 (26 points): sections 26/3 → 4 + 8 + 4 = index 16 of the full curve.
  assert.equal(t.valley, longLrs[16]);
  smoothLosses([1, 1, 1]).forEach((v) => assert.ok(Math.abs(v - 1) < 1e-12, 'the debiased average of a constant is the constant'));
});

test('per-group optimizers: one SGD step moves each group by rate × multiplier × gradient exactly; Adam steps by its own rate', () => {
  const model = denseNet(7);
  const lr = 0.1;
  const multipliers = new Map([['block1_dense', 0.01]]);
  for (const name of ['sgd', 'adam'] as const) {
    const opt = groupedOptimizer(model, multipliers, lr, (rate) => makeOptimizer(name, { learningRate: rate }));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const before = vars.map((v) => v.dataSync().slice());
    const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.fill(v.shape, 0.5 + 0.25 * i) }));
    opt.applyGradients(grads);
    vars.forEach((v, i) => {
      const layer = model.trainableWeights[i]!.originalName.split('/')[0]!;
      const m = layer === 'block1_dense' ? 0.01 : 1;
      const g = 0.5 + 0.25 * i;
      // SGD: w − lr·m·g. Adam's first step: w − lr·m·g/(|g| + ε) ≈ w − lr·m, whatever the gradient's size.
      const step = name === 'sgd' ? lr * m * g : (lr * m * g) / (Math.abs(g) + 1e-7);
      const after = v.dataSync();
      after.forEach((w, j) => assert.ok(Math.abs(w - (before[i]![j]! - step)) < 1e-6, `${name} ${v.name}[${j}]: ${w} vs ${before[i]![j]! - step}`));
    });
    tf.dispose(grads.map((g) => g.tensor));
    opt.dispose();
  }
  assert.throws(() => groupedOptimizer(model, new Map([['nope', 2]]), lr, (r) => makeOptimizer('sgd', { learningRate: r })), /nope, not trainable layers/);
});

test('discriminative rates: the base’s blocks then the head, spread geometrically from LO to HI', async () => {
  const base = (await tinyBase().load()).model;
  const head = buildHead(base.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, dropout: 0, rng: createRng(1) });
  const model = stitch(base, head);
  freeze(model);
  unfreeze(model, { blocks: 2, keepBatchNormFrozen: false });
  assert.deepEqual(
    trainableGroups(model).map((g) => g.name),
    ['block1', 'block2', 'head'],
  );
  const m = discriminativeMultipliers(model, { lowest: 1e-5, highest: 1e-3 });
  // Three groups: (LO/HI)^(2/2), (LO/HI)^(1/2), 1.
  assert.ok(Math.abs(m.get('block1_conv1')! - 0.01) < 1e-15);
  assert.ok(Math.abs(m.get('block1_bn')! - 0.01) < 1e-15);
  assert.ok(Math.abs(m.get('block2_conv1')! - 0.1) < 1e-15);
  assert.equal(m.get('head_dense'), 1);
  assert.equal(m.get('head_output'), 1);
  // One fit step of SGD: each layer moves by HI × its multiplier × its gradient (the gradient from an independent tf.grads).
  const { x } = syntheticTensors(4, 12, 2);
  const y = tf.tensor2d([0, 1, 0, 1], [4, 1]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const beforeW = vars.map((v) => v.dataSync().slice());
  const { grads } = tf.variableGrads(() => computeLoss(y, model.apply(x, { training: true }) as tf.Tensor, 'binary'), vars);
  await fit(model, { x, y, batchSize: 4, shuffle: false }, { epochs: 1, optimizer: 'sgd', learningRate: 1e-3, lrMultipliers: m, verbose: false });
  vars.forEach((v, i) => {
    const layer = model.trainableWeights[i]!.originalName.split('/')[0]!;
    const g = grads[v.name]!.dataSync();
    v.dataSync().forEach((w, j) => {
      const want = beforeW[i]![j]! - 1e-3 * m.get(layer)! * g[j]!;
      assert.ok(Math.abs(w - want) < 1e-6 + 1e-4 * Math.abs(want), `${v.name}[${j}]`);
    });
  });
  freeze(model);
  unfreeze(model, { blocks: 1 });
  assert.deepEqual(
    trainableGroups(model).map((g) => g.name),
    ['block2', 'head'],
  );
  assert.throws(() => discriminativeMultipliers(model, { lowest: 1e-3, highest: 1e-5 }), ConvkitError);
  model.dispose();
});

test('EMA: the shadow after k steps is the hand formula, BatchNormalization statistics are copied, the average ends in the model', async () => {
  const v = tf.variable(tf.tensor1d([1, -2]));
  const ema = new WeightEma([v], 0.9);
  const values = [
    [3, 0],
    [5, 4],
    [-1, 2],
  ];
  let s = [1, -2];
  for (const val of values) {
    v.assign(tf.tensor1d(val));
    ema.update();
    s = s.map((si, j) => 0.9 * si + 0.1 * val[j]!);
  }
  const [avg] = ema.averages();
  avg!.dataSync().forEach((a, j) => assert.ok(Math.abs(a - s[j]!) < 1e-6));
  ema.swapIn();
  assert.deepEqual(Array.from(v.dataSync()), Array.from(avg!.dataSync()));
  ema.swapOut();
  assert.deepEqual(Array.from(v.dataSync()), [-1, 2]);
  ema.dispose();

  // Through fit without validation data: the model ends with the average of the weights after each step (Keras's use_ema).
  const model = denseNet(11);
  const data = { ...points(32, 4), batchSize: 8 } as unknown as { x: tf.Tensor4D; y: tf.Tensor; batchSize: number };
  const trainable = () => model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
  let shadow = trainable();
  let lastBn: number[] = [];
  const decay = 0.8;
  await fit(model, data, {
    epochs: 2,
    optimizer: 'sgd',
    learningRate: 0.1,
    ema: { decay },
    verbose: false,
    callbacks: [
      {
        onBatchEnd: () => {
          const now = trainable();
          shadow = shadow.map((w, i) => w.map((wi, j) => decay * wi + (1 - decay) * now[i]![j]!));
          lastBn = Array.from(model.getLayer('block1_bn').getWeights()[2]!.dataSync());
        },
      },
    ],
  });
  trainable().forEach((w, i) => w.forEach((wi, j) => assert.ok(Math.abs(wi - shadow[i]![j]!) < 1e-5, `weight ${i}[${j}]: ${wi} vs ${shadow[i]![j]}`)));
  assert.deepEqual(Array.from(model.getLayer('block1_bn').getWeights()[2]!.dataSync()), lastBn, 'moving mean: the trained one, not averaged');
});

test('EMA with validation: each epoch offers the weights that validate better, and says which', async () => {
  assert.deepEqual(chooseEmaLogs({ loss: 0.5, acc: 0.8 }, { loss: 0.4, acc: 0.8 }, { monitor: 'val_loss' }).chosen, true);
  assert.deepEqual(chooseEmaLogs({ loss: 0.5, acc: 0.8 }, { loss: 0.4, acc: 0.8 }, { monitor: 'val_acc' }).chosen, false, 'a tie keeps the trained weights');
  const model = denseNet(13);
  const data = { ...points(48, 6), batchSize: 8 } as unknown as { x: tf.Tensor4D; y: tf.Tensor; batchSize: number };
  const val = { ...points(32, 8), batchSize: 16 } as unknown as { x: tf.Tensor4D; y: tf.Tensor; batchSize: number };
  const seen: number[][] = [];
  const r = await fit(model, data, {
    epochs: 3,
    validationData: val,
    optimizer: 'adam',
    learningRate: 0.05,
    ema: { decay: 0.7, monitor: 'val_loss' },
    verbose: false,
    callbacks: [{ onEpochEnd: () => void seen.push(model.getWeights().map((w) => w.dataSync()[0]!)) }],
  });
  const h = r.history;
  h.ema!.forEach((chosen, e) => {
    assert.equal(h.val_loss![e], chosen ? h.ema_val_loss![e] : h.raw_val_loss![e]);
    assert.equal(chosen, h.ema_val_loss![e]! < h.raw_val_loss![e]! ? 1 : 0);
  });
  assert.deepEqual(
    model.getWeights().map((w) => w.dataSync()[0]!),
    seen[seen.length - 1],
    'the model ends with the last epoch’s choice',
  );
});

test('class weights: the weighted loss is Σ wᵢ·lossᵢ / n (Keras), by hand, for binary and sparse labels', () => {
  const y = tf.tensor2d([0, 1, 1], [3, 1]),
    p = tf.tensor2d([0.2, 0.7, 0.4], [3, 1]);
  const want = (3 * -Math.log(0.8) + 1 * -Math.log(0.7) + 1 * -Math.log(0.4)) / 3;
  assert.ok(Math.abs(computeLoss(y, p, 'binary', 0, [3, 1]).dataSync()[0]! - want) < 1e-5);
  const ys = tf.tensor1d([2, 0]),
    ps = tf.tensor2d([0.1, 0.2, 0.7, 0.5, 0.25, 0.25], [2, 3]);
  const wantS = (0.5 * -Math.log(0.7) + 2 * -Math.log(0.5)) / 2;
  assert.ok(Math.abs(computeLoss(ys, ps, 'sparse', 0, [2, 1, 0.5]).dataSync()[0]! - wantS) < 1e-5);
  assert.ok(Math.abs(computeLoss(ys, ps, 'sparse').dataSync()[0]! - (-Math.log(0.7) - Math.log(0.5)) / 2) < 1e-5, 'unweighted: the mean');
});

test('chooseClassWeights: auto turns balanced weights on above 1.5× and says why; none, balanced and given weights as asked', () => {
  const auto = chooseClassWeights([300, 100], 'auto', ['cats', 'dogs']);
  assert.deepEqual(auto.weights, [400 / (2 * 300), 400 / (2 * 100)]);
  assert.equal(auto.warn, true);
  assert.match(auto.reason, /cats 300, dogs 100/);
  assert.match(auto.reason, /--class-weight none/);
  const even = chooseClassWeights([110, 100], 'auto', ['a', 'b']);
  assert.equal(even.weights, undefined);
  assert.equal(even.warn, false);
  assert.equal(chooseClassWeights([150, 100], 'auto').weights, undefined, 'exactly 1.5 is not above the threshold');
  assert.equal(chooseClassWeights([300, 100], 'none').weights, undefined);
  assert.equal(chooseClassWeights([300, 100], 'auto', undefined, { balancedSampling: true }).weights, undefined, 'balanced sampling evens the classes');
  assert.deepEqual(chooseClassWeights([100, 100], 'balanced').weights, [1, 1]);
  assert.deepEqual(chooseClassWeights([5, 5, 10], 'balanced', ['a', 'b', 'c']).weights, [20 / 15, 20 / 15, 20 / 30]);
  assert.deepEqual(chooseClassWeights([1, 1], parseClassWeight('{"dogs": 3, "cats": 1}'), ['cats', 'dogs']).weights, [1, 3]);
  assert.deepEqual(chooseClassWeights([1, 1], parseClassWeight('[2, 0.5]'), ['cats', 'dogs']).weights, [2, 0.5]);
  assert.throws(() => chooseClassWeights([1, 1], { cats: 1 }, ['cats', 'dogs']), /no weight for class dogs/);
  assert.throws(() => chooseClassWeights([1, 1], { cats: 1, wolves: 2, dogs: 1 }, ['cats', 'dogs']), /"wolves", which is not a class/);
  assert.throws(() => parseClassWeight('heavy'), /invalid --class-weight/);
});

test('balanced sampling: every class drawn as often as the largest, each image ⌊max/n⌋ times plus a seeded draw of the rest', async () => {
  const labels = [0, 0, 0, 0, 0, 1, 1];
  const order = balancedOrder(labels, createRng(3));
  assert.equal(order.length, 10);
  const counts = new Map<number, number>();
  for (const i of order) counts.set(i, (counts.get(i) ?? 0) + 1);
  [0, 1, 2, 3, 4].forEach((i) => assert.equal(counts.get(i), 1));
  // Class 1 has 2 images for 5 places: each twice, one of them a third time.
  assert.deepEqual([counts.get(5), counts.get(6)].sort(), [2, 3]);
  assert.deepEqual(balancedOrder(labels, createRng(3)), order, 'seeded');
  const x = tf.tensor4d(
    Array.from({ length: 7 }, (_, i) => i),
    [7, 1, 1, 1],
  );
  const batches = new BalancedTensorBatches({ x, y: tf.tensor2d(labels, [7, 1]) }, { batchSize: 4, seed: 1 });
  assert.equal(batches.n, 10);
  const seen: number[] = [];
  for await (const b of batches.epoch()) {
    seen.push(...Array.from(b.y!.dataSync()));
    tf.dispose([b.x, b.y!]);
  }
  assert.equal(seen.length, 10);
  assert.equal(seen.filter((l) => l === 1).length, 5);
});
