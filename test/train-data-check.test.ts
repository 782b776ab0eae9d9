/**
 * trainRecipe reads every split before the first epoch: a bad image, an
 * empty class or other class names in test/ stop it at once, naming the
 * file or folder, before any model is written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import type { Callback } from '../src/train/callbacks.js';
import { ConvkitError } from '../src/util/errors.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let set: SyntheticSet;
before(async () => {
  await tf.setBackend('cpu');
  set = await writeSyntheticSet({ train: 4, validation: 2, test: 2 }, 16);
});
after(() => set?.cleanup());

/** A copy of the data set, broken by `damage`. */
async function broken(name: string, damage: (data: string) => void): Promise<string> {
  const data = join(set.root, 'broken', name);
  for (const split of ['train', 'validation', 'test']) await cp(join(set.root, split), join(data, split), { recursive: true });
  damage(data);
  return data;
}

async function assertStopsBeforeTraining(data: string, message: RegExp): Promise<void> {
  let epochs = 0;
  const counter: Callback = {
    onEpochBegin: () => {
      epochs++;
    },
  };
  const out = join(set.root, 'models', data.split('/').pop()!);
  await assert.rejects(
    trainRecipe({
      recipe: 'scratch',
      data,
      out,
      verbose: false,
      callbacks: [counter],
      overrides: { imageSize: 16, epochs: 2, batchSize: 4, model: { filters: [4], denseUnits: 4 } },
    }),
    (err: unknown) => err instanceof ConvkitError && message.test(err.message),
  );
  assert.equal(epochs, 0, 'an epoch began before the data was checked');
  assert.ok(!existsSync(join(out, 'convkit.json')), 'a model was written');
}

test('a bad image in test/ stops training before the first epoch, naming the file', async () => {
  const data = await broken('bad-image', (d) => writeFileSync(join(d, 'test', 'left', 'broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])));
  await assertStopsBeforeTraining(data, /bad image .*test\/left\/broken\.png/);
});

test('an empty class folder in test/ stops training before the first epoch', async () => {
  const data = await broken('empty-class', (d) => mkdirSync(join(d, 'test', 'middle')));
  await assertStopsBeforeTraining(data, /test\/middle holds no images/);
});

test('other class names in test/ stop training before the first epoch', async () => {
  const data = await broken('other-classes', (d) => renameSync(join(d, 'test', 'right'), join(d, 'test', 'up')));
  await assertStopsBeforeTraining(data, /test has classes left, up but train has left, right/);
});

test("a val/ folder (Imagenette's layout) is the validation split, for the small convnets and the transfer recipes", async () => {
  const data = await broken('val-layout', (d) => renameSync(join(d, 'validation'), join(d, 'val')));
  const out = join(set.root, 'models', 'val-layout');
  const r = await trainRecipe({
    recipe: 'scratch',
    data,
    out,
    verbose: false,
    overrides: { imageSize: 16, epochs: 1, batchSize: 4, model: { filters: [4], denseUnits: 4 } },
  });
  assert.equal((r.meta.data as { validation?: number }).validation, 4);
  assert.equal(r.history.history.val_acc?.length, 1);
  const { tinyBase } = await import('./transfer-fixtures.js');
  const t = await trainRecipe({
    recipe: 'features',
    data,
    out: `${out}-features`,
    verbose: false,
    overrides: { imageSize: 12, epochs: 1, batchSize: 4, transfer: { base: tinyBase() } },
  });
  assert.equal(t.history.history.val_acc?.length, 1);
  assert.equal(t.test?.n, 4);
});
