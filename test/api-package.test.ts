/**
 * convkit as a user's project sees it: imported by its package name (the
 * built package, through package.json's exports), the lecture's five steps
 * run on a small synthetic photo set — a convnet from scratch, with
 * augmentation, a pretrained base as a feature extractor, the frozen base
 * inside the model with augmentation, and fine-tuning — and the saved model
 * is read back by convkit and by plain TensorFlow.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  initBackend,
  flowFromDirectory,
  ImageDataGenerator,
  BOOK_AUGMENTATION,
  Learner,
  loadModel,
  predict,
  trainRecipe,
  recipeNames,
  transfer,
  fit,
  evaluate,
} from 'convkit';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

const SIZE = 64;
const MOBILENET = join(import.meta.dirname, '..', '..', 'shared', 'models', 'mobilenet_v1_0.75_224', 'model.json');
const quiet = { verbose: false, seed: 1 } as const;
let set: SyntheticSet;
let models: string;

before(async () => {
  await initBackend();
  set = await writeSyntheticSet({ train: 12, validation: 6, test: 6 }, SIZE, 5);
  models = await mkdtemp(join(tmpdir(), 'convkit-api-models-'));
});
after(async () => {
  await set?.cleanup();
  await rm(models, { recursive: true, force: true });
});

const folders = async (transform?: ReturnType<ImageDataGenerator['batchTransform']>) => {
  const common = { targetSize: [SIZE, SIZE] as [number, number], classMode: 'binary' as const, batchSize: 8 };
  return {
    train: await flowFromDirectory(join(set.root, 'train'), { ...common, seed: 1, transform }),
    validation: await flowFromDirectory(join(set.root, 'validation'), { ...common, shuffle: false }),
  };
};

test('the package resolves by its name to the built library', () => {
  assert.match(import.meta.resolve('convkit'), /\/dist\/src\/index\.js$/);
  assert.equal(typeof Learner, 'function');
  assert.deepEqual(recipeNames().slice(0, 5), ['scratch', 'augment', 'features', 'features-augment', 'finetune']);
});

test('the five lecture steps through the public API, each model saved without hand-written metadata', { timeout: 300_000 }, async () => {
  // 1. A small convnet from scratch.
  const scratch = Learner.convnet(await folders(), { filters: [8, 8], denseUnits: 16, seed: 1 });
  const h1 = await scratch.fit(3, { optimizer: 'adam', learningRate: 3e-3, ...quiet });
  assert.equal(h1.epoch.length, 3);
  assert.ok(h1.history.val_acc!.every(Number.isFinite));

  // 2. The same convnet with Dropout and augmentation of the training images.
  const augmenter = new ImageDataGenerator({ ...BOOK_AUGMENTATION, rescale: null });
  const augment = Learner.convnet(await folders(augmenter.batchTransform()), { filters: [8, 8], denseUnits: 16, dropout: 0.5, seed: 1 });
  await augment.fit(2, { optimizer: 'adam', learningRate: 3e-3, ...quiet });
  const out2 = join(models, 'augment');
  const meta2 = await augment.save(out2);
  assert.deepEqual(meta2.classNames, ['left', 'right']);
  assert.deepEqual(meta2.inputSize, [SIZE, SIZE]);
  assert.equal(meta2.classMode, 'binary');
  assert.equal(meta2.history?.epoch.length, 2);

  // 3. A pretrained base as a feature extractor: features once, a dense head trained on them.
  const base = transfer.getBase('mobilenet_v1');
  const loaded = await base.load({ inputSize: [SIZE, SIZE] });
  const extractor = transfer.truncate(loaded.model, loaded.featureLayer);
  const data = await folders();
  const options = { baseName: base.name, noCache: true, silent: true };
  const [trainFeatures, validationFeatures] = [
    await transfer.extractFeatures(extractor, data.train, options),
    await transfer.extractFeatures(extractor, data.validation, options),
  ];
  assert.equal(trainFeatures.n, 24);
  const head = transfer.buildHead(trainFeatures.shape, { numClasses: 2, dropout: 0.5 });
  const train = transfer.featureTensors(trainFeatures),
    validation = transfer.featureTensors(validationFeatures);
  const h3 = await fit(
    head,
    { x: train.x as tf.Tensor4D, y: train.y },
    { epochs: 5, validationData: { x: validation.x as tf.Tensor4D, y: validation.y }, optimizer: 'adam', learningRate: 1e-3, ...quiet },
  );
  assert.equal(h3.epoch.length, 5);
  tf.dispose([train.x, train.y, validation.x, validation.y]);

  // 4. The frozen base inside the model, the head trained on augmented images.
  const frozen = await Learner.fromBase(base, await folders(augmenter.batchTransform()), { dropout: 0.5 });
  const firstConv = frozen.model.layers.find((l) => l.getClassName() === 'Conv2D')!;
  const pretrained = firstConv.getWeights()[0]!.dataSync().slice();
  await frozen.fit(2, { optimizer: 'adam', learningRate: 1e-3, ...quiet });
  assert.deepEqual(firstConv.getWeights()[0]!.dataSync(), pretrained, 'the frozen base kept its pretrained weights');

  // 5. Fine-tuning: the top block unfrozen, trained on at a low learning rate.
  frozen.unfreeze({ blocks: 1 });
  await frozen.fit(1, { optimizer: 'rmsprop', learningRate: 1e-5, ...quiet });
  assert.equal(frozen.history().epoch.length, 3);
  assert.deepEqual(frozen.history().epoch, [0, 1, 2]);
  const scores = await frozen.evaluate(join(set.root, 'test'));
  assert.equal(scores.n, 12);
  const out5 = join(models, 'finetune');
  await frozen.save(out5);

  // The saved model: convkit reads it back with its classes, plain TensorFlow.js loads it.
  const saved = await loadModel(out5);
  const again = await evaluate(saved.model, join(set.root, 'test'), { classNames: saved.meta.classNames });
  assert.equal(again.accuracy, scores.accuracy);
  const [first] = await predict(saved, [join(set.root, 'test', 'left', 'left_000.png')]);
  assert.ok(first && ['left', 'right'].includes(first.label));
  const json = JSON.parse(readFileSync(join(out5, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  saved.model.dispose();
  for (const l of [scratch, augment, frozen]) l.model.dispose();
  head.dispose();
});

test(
  'the five recipes by name through trainRecipe, as `convkit train` runs them',
  { timeout: 600_000, skip: !existsSync(MOBILENET) && 'the shared MobileNet v1 is not here' },
  async () => {
    const small = { imageSize: SIZE, epochs: 1, batchSize: 8 };
    const run = (recipe: string, out: string, overrides: Parameters<typeof trainRecipe>[0]['overrides']) =>
      trainRecipe({ recipe, data: set.root, out: join(models, out), overrides, ...quiet });
    const results = [
      await run('scratch', 'scratch', { ...small, model: { filters: [8, 8], denseUnits: 16 } }),
      await run('augment', 'augment', { ...small, model: { filters: [8, 8], denseUnits: 16 } }),
      await run('features', 'features', { ...small, transfer: { base: 'mobilenet_v1' } }),
      await run('features-augment', 'features-augment', { ...small, transfer: { base: 'mobilenet_v1', variants: 1 } }),
      await run('finetune', 'finetune', { ...small, transfer: { from: join(models, 'features-augment'), variants: 1 } }),
    ];
    for (const r of results) {
      assert.equal(r.test?.n, 12, `${r.meta.recipe?.name} scored the test split`);
      assert.deepEqual(r.meta.classNames, ['left', 'right']);
    }
    assert.equal(results[4]!.meta.recipe?.settings?.base, 'mobilenet_v1', 'finetune took the base recorded by its --from model');
  },
);
