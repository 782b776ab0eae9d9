/**
 * The training API has no dead parts: no loss table nothing reads, and no
 * per-recipe training hook (every recipe that builds a model trains with
 * the one fit() of trainRecipe).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { rm } from 'node:fs/promises';
import * as train from '../src/train/index.js';
import { scratch } from '../src/recipes/convnet.js';
import type { Recipe } from '../src/recipes/recipe.js';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let set: SyntheticSet;
before(async () => {
  await tf.setBackend('cpu');
  set = await writeSyntheticSet({ train: 4, validation: 2, test: 2 }, 16);
});
after(async () => {
  await set?.cleanup();
  await rm(`${set.root}-model`, { recursive: true, force: true });
});

test('the training module exports no unused loss table', () => {
  assert.ok(!('LOSS_FOR_MODE' in train));
});

test('a recipe has no training hook: trainRecipe fits every model-building recipe itself', async () => {
  const recipe: Recipe = {
    ...scratch,
    name: 'hooked',
    // @ts-expect-error Recipe has no `train` hook.
    train: () => {
      throw new Error('the hook ran');
    },
  };
  const r = await trainRecipe({
    recipe,
    data: set.root,
    out: `${set.root}-model`,
    verbose: false,
    overrides: { imageSize: 16, epochs: 1, batchSize: 4, model: { filters: [4], denseUnits: 4 } },
  });
  assert.equal(r.history.epoch.length, 1);
});
