import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smallCnn } from '../src/models/small-cnn.js';
import { summary, paramCounts } from '../src/models/summary.js';
import { fit } from '../src/train/fit.js';
import { EarlyStopping, KeepBestWeights, ModelCheckpoint, ReduceLROnPlateau, type TrainingState } from '../src/train/callbacks.js';
import { makeSchedule } from '../src/train/optimizers.js';
import { ConvkitError } from '../src/util/errors.js';
import { syntheticTensors } from './train-synthetic.js';

before(async () => {
  await tf.setBackend('cpu');
});

const tiny = (seed: number, dropout = 0.3) => smallCnn({ inputShape: [16, 16, 3], filters: [8, 16], denseUnits: 16, dropout, seed });

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

test('smallCnn matches the book: 3,453,121 parameters at 150×150, sigmoid head, Rescaling first', () => {
  const m = smallCnn({ dropout: 0.5 });
  assert.equal(paramCounts(m).total, 3_453_121);
  assert.equal(m.layers[0]!.getClassName(), 'Rescaling');
  assert.deepEqual(m.outputs[0]!.shape, [null, 1]);
  const text = summary(m);
  assert.match(text, /conv2d_1 \(Conv2D\)\s+\(None, 148, 148, 32\)\s+896/);
  assert.match(text, /dense_1 \(Dense\)\s+\(None, 512\)\s+3,211,776/);
  assert.match(text, /Total params: 3,453,121\nTrainable params: 3,453,121\nNon-trainable params: 0/);
  const five = smallCnn({ numClasses: 5, inputShape: [64, 64, 3] });
  assert.deepEqual(five.outputs[0]!.shape, [null, 5]);
  assert.throws(() => smallCnn({ inputShape: [20, 20, 3] }), /at least 46 px/);
  m.dispose();
  five.dispose();
});

test('seeded: same seed → identical weights after training (dropout included); another seed differs', async () => {
  const data = syntheticTensors(32, 16);
  const run = async (seed: number) => {
    const m = tiny(seed);
    await fit(m, { x: data.x, y: data.y, batchSize: 8 }, { epochs: 1, optimizer: 'adam', learningRate: 1e-3, seed, verbose: false });
    const w = await weightsOf(m);
    m.dispose();
    return w;
  };
  const a = await run(5),
    b = await run(5),
    c = await run(6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  tf.dispose([data.x, data.y]);
});

test('dropout masks differ between batches (a fixed TF.js seed would repeat one mask)', async () => {
  // The same image as the first batch of two epochs, with a learning rate of ~0: the losses differ only through dropout.
  const x = tf.ones([2, 16, 16, 3]).mul(100) as tf.Tensor4D,
    y = tf.tensor2d([1, 1], [2, 1]);
  const m = tiny(1, 0.5);
  const losses: number[] = [];
  await fit(
    m,
    { x, y, batchSize: 1, shuffle: false },
    {
      epochs: 2,
      optimizer: 'sgd',
      learningRate: 1e-12,
      seed: 1,
      verbose: false,
      callbacks: [
        {
          onBatchEnd: (b, logs) => {
            if (b === 0) losses.push(logs.loss!);
          },
        },
      ],
    },
  );
  assert.equal(losses.length, 2);
  assert.notEqual(losses[0], losses[1]);
  tf.dispose([x, y]);
  m.dispose();
});

test('no tensor leaks across epochs; history has Keras names', async () => {
  const data = syntheticTensors(24, 16);
  const val = syntheticTensors(8, 16, 11);
  const m = tiny(2);
  const counts: number[] = [];
  const h = await fit(
    m,
    { x: data.x, y: data.y, batchSize: 8 },
    {
      epochs: 4,
      validationData: { x: val.x, y: val.y },
      seed: 2,
      verbose: false,
      optimizer: 'rmsprop',
      learningRate: 1e-3,
      callbacks: [
        {
          onEpochEnd: () => {
            counts.push(tf.memory().numTensors);
          },
        },
      ],
    },
  );
  // Epoch 1 creates the optimizer's slots; afterwards the count is flat.
  assert.equal(counts[1], counts[2]);
  assert.equal(counts[2], counts[3]);
  assert.deepEqual(h.epoch, [0, 1, 2, 3]);
  assert.deepEqual(Object.keys(h.history), ['loss', 'acc', 'val_loss', 'val_acc', 'lr']);
  assert.equal(h.stopReason, 'completed');
  tf.dispose([data.x, data.y, val.x, val.y]);
  m.dispose();
});

test('a NaN loss stops training with an error naming the epoch and a lower learning rate', async () => {
  const data = syntheticTensors(16, 16);
  const x = data.x.mul(Number.NaN) as tf.Tensor4D;
  const m = tiny(3);
  await assert.rejects(
    fit(m, { x, y: data.y, batchSize: 8 }, { epochs: 2, seed: 1, verbose: false, learningRate: 1e-3 }),
    (err: Error) => err instanceof ConvkitError && /loss became NaN at epoch 1, batch 1/.test(err.message) && /lower the learning rate/.test(err.message),
  );
  tf.dispose([x, data.x, data.y]);
  m.dispose();
});

test('Ctrl-C (SIGINT) stops after the current batch; the partial epoch is not recorded', async () => {
  const data = syntheticTensors(32, 16);
  const m = tiny(4);
  let batches = 0;
  const h = await fit(
    m,
    { x: data.x, y: data.y, batchSize: 8 },
    {
      epochs: 3,
      seed: 1,
      verbose: false,
      callbacks: [
        {
          onBatchEnd: (b, _l, s) => {
            batches++;
            if (s.history.epoch.length === 1 && b === 1) process.emit('SIGINT');
          },
        },
      ],
    },
  );
  assert.equal(h.stopReason, 'interrupted');
  assert.deepEqual(h.epoch, [0]);
  assert.equal(batches, 4 + 2);
  assert.equal(process.listenerCount('SIGINT'), 0);
  tf.dispose([data.x, data.y]);
  m.dispose();
});

function stateFor(model: tf.LayersModel): TrainingState {
  return { model, epochs: 10, history: { epoch: [], history: {} }, stopTraining: false, learningRate: 0.1 };
}

test('EarlyStopping: stops after `patience` epochs without improvement, restores the best weights', async () => {
  const m = tiny(5);
  const s = stateFor(m);
  const es = new EarlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
  es.onTrainBegin();
  const losses = [1.0, 0.8, 0.85, 0.9];
  let bestW: Float32Array[] = [];
  for (let e = 0; e < losses.length; e++) {
    if (e === 1) bestW = await weightsOf(m);
    es.onEpochEnd(e, { val_loss: losses[e]! }, s);
    if (e === 2) assert.equal(s.stopTraining, false);
    if (e < losses.length - 1) m.setWeights(m.getWeights().map((w) => tf.tidy(() => w.add(1))));
  }
  assert.equal(s.stopTraining, true);
  assert.equal(es.stoppedEpoch, 3);
  assert.equal(es.bestEpoch, 1);
  es.onTrainEnd({}, s);
  assert.deepEqual(await weightsOf(m), bestW);
  // 'auto' mode maximizes accuracies.
  const acc = new EarlyStopping({ monitor: 'val_acc', patience: 1 });
  const s2 = stateFor(m);
  acc.onEpochEnd(0, { val_acc: 0.5 }, s2);
  acc.onEpochEnd(1, { val_acc: 0.6 }, s2);
  assert.equal(s2.stopTraining, false);
  acc.onEpochEnd(2, { val_acc: 0.55 }, s2);
  assert.equal(s2.stopTraining, true);
  m.dispose();
});

test("KeepBestWeights puts back the best epoch's weights at the end, without stopping", async () => {
  const m = tiny(5);
  const s = stateFor(m);
  const keep = new KeepBestWeights({ monitor: 'val_acc' });
  keep.onTrainBegin();
  const accs = [0.6, 0.9, 0.7, 0.8];
  let bestW: Float32Array[] = [];
  for (let e = 0; e < accs.length; e++) {
    if (e === 1) bestW = await weightsOf(m);
    keep.onEpochEnd(e, { val_acc: accs[e]! }, s);
    m.setWeights(m.getWeights().map((w) => tf.tidy(() => w.add(1))));
  }
  assert.equal(s.stopTraining, false);
  assert.equal(keep.bestEpoch, 1);
  const tensors = tf.memory().numTensors;
  keep.onTrainEnd({}, s);
  assert.deepEqual(await weightsOf(m), bestW);
  assert.ok(tf.memory().numTensors < tensors, 'the kept copies are freed');
  m.dispose();
});

test('EarlyStopping inside fit ends the run early with stopReason "stopped"', async () => {
  const data = syntheticTensors(16, 16);
  const m = tiny(6);
  let epoch = 0;
  const fake = {
    onEpochEnd: (_e: number, logs: Record<string, number>) => {
      logs.score = [1, 0.5, 0.6, 0.7, 0.8][epoch++]!;
    },
  };
  const h = await fit(
    m,
    { x: data.x, y: data.y, batchSize: 8 },
    { epochs: 5, seed: 1, verbose: false, callbacks: [fake, new EarlyStopping({ monitor: 'score', mode: 'max', patience: 1 })] },
  );
  assert.equal(h.stopReason, 'stopped');
  assert.equal(h.epoch.length, 2);
  tf.dispose([data.x, data.y]);
  m.dispose();
});

test('ModelCheckpoint saves only improving epochs; ReduceLROnPlateau divides the rate on a plateau', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convkit-ckpt-'));
  try {
    const m = tiny(7);
    const s = stateFor(m);
    const meta = () => ({
      classNames: ['a', 'b'],
      inputSize: [16, 16] as [number, number],
      colorMode: 'rgb' as const,
      classMode: 'binary' as const,
      preprocessing: { input: 'rgb 0..255' },
    });
    const ck = new ModelCheckpoint(join(dir, 'best'), { monitor: 'val_acc', meta });
    const accs = [0.6, 0.7, 0.65, 0.7, 0.9];
    for (let e = 0; e < accs.length; e++) await ck.onEpochEnd(e, { val_acc: accs[e]! }, s);
    assert.equal(ck.saves, 3);
    assert.equal(ck.bestEpoch, 4);
    const saved = JSON.parse(await readFile(join(dir, 'best', 'convkit.json'), 'utf8'));
    assert.equal(saved.metrics.checkpoint.epoch, 5);
    assert.equal(saved.metrics.checkpoint.value, 0.9);

    const rl = new ReduceLROnPlateau({ monitor: 'val_loss', patience: 2, factor: 0.5 });
    for (const [e, v] of [1, 0.9, 0.95, 0.95, 0.96, 0.97].entries()) rl.onEpochEnd(e, { val_loss: v }, s);
    assert.equal(s.learningRate, 0.05 / 2);
    assert.equal(rl.reductions, 2);
    m.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('schedules: cosine ends near its floor, one-cycle peaks at the base rate', () => {
  const cos = makeSchedule('cosine'),
    one = makeSchedule('one-cycle');
  assert.ok(Math.abs(cos(1) - 0.01) < 1e-9);
  assert.ok(cos(0.05) > 0.99);
  assert.ok(Math.abs(one(0.3) - 1) < 1e-9);
  assert.ok(Math.abs(one(0) - 1 / 25) < 1e-9);
  assert.ok(one(1) < 1e-3);
  assert.equal(makeSchedule('constant')(0.7), 1);
  assert.throws(() => makeSchedule('zigzag' as 'cosine'), /unknown learning-rate schedule/);
});
