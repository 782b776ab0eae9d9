import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTransferRecipe, TRANSFER_RECIPES } from '../src/transfer/recipes.js';
import { flowFromDirectory } from '../src/data/index.js';
import { fileSystem } from '../src/train/saved-model.js';
import { makePhotoSet, tinyBase, weightsOf, bitEqual, countCalls } from './transfer-fixtures.js';

await tf.setBackend('cpu');

const root = await makePhotoSet(5);
const cacheDir = mkdtempSync(join(tmpdir(), 'convkit-recipe-cache-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});
const data = join(root, 'data');
const common = { data, cacheDir, silent: true, batchSize: 4, learningRate: 0.01, seed: 7 };
const BASE_LAYERS = ['block1_conv1', 'block1_bn', 'block2_conv1'];

async function testImages() {
  return (await flowFromDirectory(join(data, 'test'), { targetSize: [12, 12], shuffle: false, classMode: 'binary' })).loadAll();
}

test("the recipes carry the book's settings", () => {
  assert.deepEqual(TRANSFER_RECIPES.features.defaults, { epochs: 30, batchSize: 20, learningRate: 2e-5, optimizer: 'rmsprop' });
  assert.equal(TRANSFER_RECIPES.finetune.defaults.learningRate, 1e-5);
});

test('features: head trained on cached features, saved as one classifier that plain tf.loadLayersModel loads', async () => {
  const base = tinyBase();
  const out = join(root, 'features-model');
  const r = await runTransferRecipe('features', { ...common, base, out, epochs: 3 });
  assert.equal(r.history.epoch.length, 3);
  // The kept head is the epoch with the lowest validation loss.
  const valLoss = r.history.history.val_loss!;
  const best = valLoss.indexOf(Math.min(...valLoss));
  assert.equal(r.metrics.bestEpoch, best + 1);
  assert.ok(Math.abs(r.metrics.val_loss! - valLoss[best]!) < 1e-5, `val_loss ${r.metrics.val_loss} vs best epoch's ${valLoss[best]}`);
  assert.ok(r.metrics.test_acc! >= 0 && r.metrics.test_acc! <= 1);
  const meta = JSON.parse(readFileSync(join(out, 'convkit.json'), 'utf8'));
  assert.equal(meta.recipe.name, 'features');
  assert.deepEqual(meta.classNames, ['cats', 'dogs']);
  // The data it learned from, as the int8 TFLite export's default calibration set.
  assert.deepEqual(meta.data, { root: resolve(common.data), train: 10, validation: 10 });
  const loaded = await tf.loadLayersModel(fileSystem(out));
  assert.deepEqual(loaded.inputs[0]!.shape, [null, 12, 12, 3]);
  assert.equal(loaded.layers[1]!.name, 'rescaling');
  const imgs = await testImages();
  const [a, b] = tf.tidy(() => [(loaded.predict(imgs.x) as tf.Tensor).dataSync(), (r.model.predict(imgs.x) as tf.Tensor).dataSync()]);
  assert.deepEqual(Array.from(a!), Array.from(b!));
  // Accuracy of the saved model on raw test pixels is the recipe's test accuracy.
  const acc = tf.tidy(() => tf.mean(tf.equal(tf.greater(loaded.predict(imgs.x) as tf.Tensor, 0.5).toFloat(), imgs.y!)).dataSync()[0]!);
  assert.ok(Math.abs(acc - r.metrics.test_acc!) < 1e-6);

  // Another head on the same data: the features come from the cache, the base never runs.
  const base2 = tinyBase();
  const orig = base2.load.bind(base2);
  let calls: { count: number } | undefined;
  base2.load = async (o) => {
    const m = await orig(o);
    calls = countCalls(m.model.getLayer('block1_conv1'));
    return m;
  };
  const r2 = await runTransferRecipe('features', { ...common, base: base2, out: join(root, 'features-model-2'), epochs: 1, pooling: 'avg' });
  assert.equal(calls!.count, 0, 'the base ran although its features were cached');
  assert.equal(r2.model.getLayer('head_pool').getClassName(), 'GlobalAveragePooling2D');
  tf.dispose([imgs.x, imgs.y!]);
});

for (const prefixCache of [true, false]) {
  test(`features-augment (${prefixCache ? 'prefix cache' : 'base run every step'}): only the head's weights change`, async () => {
    const base = tinyBase();
    const out = join(root, `augment-${prefixCache}`);
    const r = await runTransferRecipe('features-augment', { ...common, base, out, epochs: 2, prefixCache, variants: 2 });
    const fresh = (await tinyBase().load()).model;
    for (const name of BASE_LAYERS) assert.ok(bitEqual(weightsOf(fresh, name), weightsOf(r.model, name)), `${name} changed`);
    // The head trained: its weights differ from the same seeded head untrained.
    const { buildHead } = await import('../src/transfer/head.js');
    const { createRng } = await import('../src/util/rng.js');
    const untrained = buildHead([3, 3, 4], { numClasses: 2, rng: createRng(7) });
    assert.ok(!bitEqual(weightsOf(untrained, 'head_dense'), weightsOf(r.model, 'head_dense')), 'the head did not train');
    assert.equal(r.history.epoch.length, 2);
    assert.ok(r.metrics.test_acc !== undefined);
  });
}

test('features-augment --from a features model starts from its trained head; a mismatched model is refused', async () => {
  const from = join(root, 'features-model');
  const before = await tf.loadLayersModel(fileSystem(from));
  // Steps at a learning rate of 1e-15 move the weights by ~1e-15: the head is the one loaded.
  const r = await runTransferRecipe('features-augment', {
    ...common,
    base: tinyBase(),
    from,
    out: join(root, 'augment-from-features'),
    epochs: 1,
    variants: 1,
    learningRate: 1e-15,
  });
  for (const name of ['head_dense', 'head_output']) {
    const [a, b] = [weightsOf(before, name), weightsOf(r.model, name)];
    const diff = Math.max(...a.map((t, i) => Math.max(...t.map((v, j) => Math.abs(v - b[i]![j]!)))));
    assert.ok(diff < 1e-9, `${name} was not copied (max difference ${diff})`);
  }
  assert.equal(r.meta.recipe?.settings?.headFrom, from);
  await assert.rejects(
    runTransferRecipe('features-augment', {
      ...common,
      base: tinyBase(),
      from: join(root, 'augment-true'),
      out: join(root, 'never-2'),
      epochs: 1,
      variants: 1,
    }),
    /is a features-augment model .*features-augment starts its head from a features model/s,
  );
});

test('finetune --from a features-augment model: the top block trains, the rest of the base stays bit-identical', async () => {
  const base = tinyBase();
  const from = join(root, 'augment-true');
  const before = await tf.loadLayersModel(fileSystem(from));
  const r = await runTransferRecipe('finetune', { ...common, base, from, out: join(root, 'finetuned'), epochs: 2, variants: 2, learningRate: 0.05 });
  assert.equal(r.meta.recipe?.settings?.unfreezeFrom, 'block2_conv1');
  assert.ok(bitEqual(weightsOf(before, 'block1_conv1'), weightsOf(r.model, 'block1_conv1')));
  assert.ok(bitEqual(weightsOf(before, 'block1_bn'), weightsOf(r.model, 'block1_bn')));
  assert.ok(!bitEqual(weightsOf(before, 'block2_conv1'), weightsOf(r.model, 'block2_conv1')), 'the unfrozen block did not train');
  const saved = await tf.loadLayersModel(fileSystem(join(root, 'finetuned')));
  assert.ok(bitEqual(weightsOf(saved, 'block2_conv1'), weightsOf(r.model, 'block2_conv1')));
});

test('finetune without --from runs features-augment first, then fine-tunes', async () => {
  const out = join(root, 'finetuned-direct');
  const r = await runTransferRecipe('finetune', { ...common, base: tinyBase(), out, epochs: 1, variants: 1 });
  const first = JSON.parse(readFileSync(`${out}.features-augment/convkit.json`, 'utf8'));
  assert.equal(first.recipe.name, 'features-augment');
  assert.equal(r.meta.recipe?.name, 'finetune');
  assert.equal(r.history.epoch.length, 1);
});

test('the transfer recipes are in the training-recipe registry', async () => {
  const { getRecipe } = await import('../src/recipes/registry.js');
  const { resolveSettings } = await import('../src/recipes/settings.js');
  for (const name of ['features', 'features-augment', 'finetune']) {
    const r = getRecipe(name);
    assert.equal(typeof r.run, 'function');
    assert.equal(resolveSettings(r, 'book').optimizer, 'rmsprop');
  }
  assert.equal(resolveSettings(getRecipe('finetune'), 'book').learningRate, 1e-5);
  const r = getRecipe('features');
  await assert.rejects(
    r.run!({
      data,
      out: join(root, 'never'),
      settings: { ...resolveSettings(r, 'book'), transfer: { base: 'resnet9000' } },
      profile: 'book',
      seed: 1,
      verbose: false,
      log: () => {},
    }),
    /unknown base "resnet9000"/,
  );
});
