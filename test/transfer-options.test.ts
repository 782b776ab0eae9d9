/**
 * What the transfer recipes take from a run: every training option they can
 * honour (steps, validation sample, label smoothing, momentum, early
 * stopping, plateaus, the user's callbacks, the abort signal), the base of
 * the --from model, and clear refusals.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransferRecipe, type TransferOptions } from '../src/transfer/recipes.js';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import { saveModel } from '../src/train/saved-model.js';
import type { Callback } from '../src/train/callbacks.js';
import { makePhotoSet, tinyBase } from './transfer-fixtures.js';

await tf.setBackend('cpu');

const MODELS = new URL('../../shared/models/', import.meta.url).pathname;
const skipV2 = existsSync(join(MODELS, 'mobilenet_v2_1.0_224_quant_tflite')) ? false : `MobileNet v2 files not found in ${MODELS}`;

const root = await makePhotoSet(5, 32);
const cacheDir = mkdtempSync(join(tmpdir(), 'convkit-options-cache-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});
const data = join(root, 'data');
const common = { data, cacheDir, silent: true, batchSize: 4, learningRate: 0.01, seed: 7, inputSize: [32, 32] as const };
const features = (out: string, extra: Partial<TransferOptions>) =>
  runTransferRecipe('features', { ...common, base: tinyBase(32), out: join(root, out), epochs: 2, ...extra });

/** Batches seen in each epoch. */
function batchCounter(): Callback & { perEpoch: number[] } {
  let n = 0;
  const perEpoch: number[] = [];
  return {
    perEpoch,
    onBatchEnd: () => {
      n++;
    },
    onEpochEnd: () => {
      perEpoch.push(n);
      n = 0;
    },
  };
}

test("transfer recipes: steps per epoch and the user's callbacks reach fit", async () => {
  const counter = batchCounter();
  const r = await features('steps', { epochs: 3, stepsPerEpoch: 5, callbacks: [counter] });
  assert.deepEqual(counter.perEpoch, [5, 5, 5]);
  assert.equal(r.history.epoch.length, 3);
});

test('transfer recipes: validation steps score a sample each epoch, the kept epoch is scored on the whole set', async () => {
  // 10 validation images in batches of 4: one batch is a sample of 4.
  const r = await features('validation-steps', { epochs: 3, validationSteps: 1 });
  for (const acc of r.history.history.val_acc!) assert.ok(Number.isInteger(Math.round(acc * 4 * 1e6) / 1e6), `val_acc ${acc} is not over 4 images`);
  const best = r.metrics.bestEpoch! - 1;
  assert.ok(Math.abs(r.history.history.val_loss![best]! - r.metrics.val_loss!) > 1e-6, "the sampled val_loss equals the whole set's");
});

test('transfer recipes: label smoothing and momentum change the training', async () => {
  const plain = await features('plain', {});
  const smoothed = await features('smoothed', { labelSmoothing: 0.2 });
  const momentum = await features('momentum', { momentum: 0.9 });
  assert.notEqual(smoothed.history.history.loss![0], plain.history.history.loss![0]);
  assert.notEqual(momentum.history.history.loss![1], plain.history.history.loss![1]);
});

test('transfer recipes: early stopping and learning-rate plateaus follow the monitor', async () => {
  // A rate this low leaves the validation accuracy where it is: no epoch improves on the first.
  const still = { learningRate: 1e-12, monitor: 'val_acc', epochs: 6 };
  const early = await features('early', { ...still, earlyStoppingPatience: 1 });
  assert.equal(early.history.stopReason, 'stopped');
  assert.equal(early.history.epoch.length, 2);
  const plateau = await features('plateau', { ...still, epochs: 3, reduceLrPatience: 1 });
  const lr = plateau.history.history.lr!;
  assert.ok(lr[2]! < lr[0]! / 5, `learning rate ${lr.join(', ')} was not reduced`);
});

test("transfer recipes: the abort signal stops training after the current epoch's batch", async () => {
  const controller = new AbortController();
  const stop: Callback = {
    onEpochEnd: (epoch) => {
      if (epoch === 0) controller.abort();
    },
  };
  const r = await features('aborted', { epochs: 5, callbacks: [stop], signal: controller.signal });
  assert.equal(r.history.stopReason, 'interrupted');
  assert.equal(r.history.epoch.length, 1);
  // Aborted before the base has run: no pass over the images starts.
  await assert.rejects(features('aborted-early', { signal: AbortSignal.abort() }), (err: Error) => err.name === 'AbortError');
});

test('features-augment --from a model without a base names it plainly', async () => {
  const dir = join(root, 'scratch-model');
  const input = tf.input({ shape: [32, 32, 3] });
  const output = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  await saveModel(tf.model({ inputs: input, outputs: output }), dir, {
    classNames: ['cats', 'dogs'],
    inputSize: [32, 32],
    colorMode: 'rgb',
    classMode: 'binary',
    preprocessing: { input: 'RGB 0..255' },
    recipe: { name: 'scratch', settings: {} },
  });
  await assert.rejects(
    runTransferRecipe('features-augment', { ...common, base: tinyBase(32), from: dir, out: join(root, 'never'), epochs: 1, variants: 1 }),
    (err: Error) => /is a scratch model at 32×32 px for classes cats, dogs/.test(err.message) && !err.message.includes('?'),
  );
});

test('train --recipe finetune --from a MobileNet v2 model: the base comes from its convkit.json; another --base is refused', { skip: skipV2 }, async () => {
  const small = { imageSize: 32, epochs: 1, batchSize: 4 };
  const quiet = { data, verbose: false, cacheDir, log: () => undefined };
  const from = join(root, 'v2-augment');
  await trainRecipe({ ...quiet, recipe: 'features-augment', out: from, overrides: { ...small, transfer: { base: 'mobilenet_v2', variants: 1 } } });
  const r = await trainRecipe({ ...quiet, recipe: 'finetune', out: join(root, 'v2-finetune'), overrides: { ...small, transfer: { from, variants: 1 } } });
  assert.equal(r.meta.recipe?.settings?.base, 'mobilenet_v2');
  assert.equal(r.meta.recipe?.settings?.unfreezeFrom, 'expanded_conv_16_expand');
  await assert.rejects(
    trainRecipe({ ...quiet, recipe: 'finetune', out: join(root, 'never-v1'), overrides: { ...small, transfer: { from, base: 'mobilenet_v1', variants: 1 } } }),
    /--base mobilenet_v1 differs from mobilenet_v2, the base of the --from model/,
  );
});
