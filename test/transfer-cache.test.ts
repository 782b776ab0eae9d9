import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, utimesSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowFromDirectory } from '../src/data/index.js';
import { extractFeatures, readFeatureSet } from '../src/transfer/feature-cache.js';
import { cachePrefix, frozenPrefixEnd } from '../src/transfer/prefix-cache.js';
import { freeze } from '../src/transfer/freeze.js';
import { buildHead, stitch, truncate } from '../src/transfer/head.js';
import { createRng, type Rng } from '../src/util/rng.js';
import { makePhotoSet, tinyBase, countCalls } from './transfer-fixtures.js';

await tf.setBackend('cpu');

const root = await makePhotoSet(4);
const cacheDir = mkdtempSync(join(tmpdir(), 'convkit-feature-cache-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

const open = (split: string) => flowFromDirectory(join(root, 'data', split), { targetSize: [12, 12], batchSize: 3, shuffle: false, classMode: 'binary' });

test('features are computed once: the second run is a cache hit that does not run the base', async () => {
  const base = tinyBase();
  const features = truncate((await base.load()).model, 'block2_pool');
  freeze(features);
  const calls = countCalls(features.getLayer('block1_conv1'));
  const first = await extractFeatures(features, await open('train'), { baseName: 'tiny', cacheDir, silent: true });
  assert.equal(first.hit, false);
  assert.equal(calls.count, 3, 'one base call per batch (8 images, batches of 3)');
  assert.equal(first.n, 8);
  assert.deepEqual(first.shape, [3, 3, 4]);
  assert.deepEqual(first.yShape, [1]);
  assert.deepEqual(Array.from(first.y), [0, 0, 0, 0, 1, 1, 1, 1]);
  assert.deepEqual(readdirSync(cacheDir).sort(), [`${first.key}.bin`, `${first.key}.json`]);

  // The features equal the base's output on the images (independent reference: loadAll + predict).
  const all = await (await open('train')).loadAll();
  const ref = tf.tidy(() => (features.predict(all.x) as tf.Tensor).dataSync());
  assert.deepEqual(Array.from(first.x), Array.from(ref));
  tf.dispose([all.x, all.y!]);

  calls.count = 0;
  const second = await extractFeatures(features, await open('train'), { baseName: 'tiny', cacheDir, silent: true });
  assert.equal(second.hit, true);
  assert.equal(calls.count, 0, 'the base ran on a cache hit');
  assert.equal(second.key, first.key);
  assert.deepEqual(Array.from(second.x), Array.from(first.x));
  assert.deepEqual(second.files, first.files);

  // Another base name, other weights, or a changed file are misses.
  const other = await extractFeatures(features, await open('train'), { baseName: 'tiny2', cacheDir, silent: true });
  assert.equal(other.hit, false);
  const reloaded = truncate((await tinyBase().load()).model, 'block2_pool');
  reloaded.getLayer('block2_conv1').setWeights(
    reloaded
      .getLayer('block2_conv1')
      .getWeights()
      .map((w) => tf.mul(w, 2)),
  );
  assert.equal((await extractFeatures(reloaded, await open('train'), { baseName: 'tiny', cacheDir, silent: true })).hit, false);
  const file = join(root, 'data', 'train', 'cats', 'cats.0.png');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal((await extractFeatures(features, await open('train'), { baseName: 'tiny', cacheDir, silent: true })).hit, false);
  // A damaged binary is ignored (recomputed), never read as features.
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(cacheDir, `${first.key}.bin`), Buffer.alloc(8));
  assert.equal(await readFeatureSet(cacheDir, first.key), undefined);
});

test('images resized with another interpolation are another cache entry; bilinear keeps its key', async () => {
  const features = truncate((await tinyBase().load()).model, 'block2_pool');
  freeze(features);
  const dir = mkdtempSync(join(cacheDir, 'interpolation-'));
  // Photos of 17 px resized to the base's 12, so the resampling matters.
  const photos = await makePhotoSet(2, 17);
  after(() => rmSync(photos, { recursive: true, force: true }));
  const openWith = (interpolation?: 'nearest' | 'bilinear') =>
    flowFromDirectory(join(photos, 'data', 'train'), { targetSize: [12, 12], batchSize: 3, shuffle: false, classMode: 'binary', interpolation });
  const implicit = await extractFeatures(features, await openWith(), { baseName: 'tiny', cacheDir: dir, silent: true });
  const bilinear = await extractFeatures(features, await openWith('bilinear'), { baseName: 'tiny', cacheDir: dir, silent: true });
  assert.equal(bilinear.hit, true, 'bilinear is the default');
  const nearest = await extractFeatures(features, await openWith('nearest'), { baseName: 'tiny', cacheDir: dir, silent: true });
  assert.equal(nearest.hit, false, 'nearest-neighbour features are not the bilinear ones');
  assert.notEqual(nearest.key, implicit.key);
  assert.notDeepEqual(Array.from(nearest.x), Array.from(implicit.x));
  assert.equal((await extractFeatures(features, await openWith('nearest'), { baseName: 'tiny', cacheDir: dir, silent: true })).hit, true);
});

test("prefix cache: suffix on cached activations gives the model's outputs; augmented variants are seeded and distinct", async () => {
  const base = tinyBase();
  const features = truncate((await base.load()).model, 'block2_pool');
  const head = buildHead([3, 3, 4], { numClasses: 2, rng: createRng(3) });
  const model = stitch(features, head);
  freeze(model, { upTo: 'block1_pool' });
  assert.equal(frozenPrefixEnd(model), 'block1_pool');

  const plain = await cachePrefix(model, await open('validation'), { baseName: 'tiny', cacheDir, silent: true, batchSize: 8, shuffle: false });
  assert.equal(plain.split.at, 'block1_pool');
  const batch = await plain.data.nextBatch();
  const all = await (await open('validation')).loadAll();
  const [viaCache, whole] = tf.tidy(() => [(plain.split.suffix.predict(batch.x) as tf.Tensor).dataSync(), (model.predict(all.x) as tf.Tensor).dataSync()]);
  assert.deepEqual(Array.from(viaCache!), Array.from(whole!));

  // Variants: a transform that adds a random constant per batch, drawn from the Rng it is given.
  const transform = (x: tf.Tensor4D, rng: Rng) => tf.add(x, rng.uniform(-50, 50)) as tf.Tensor4D;
  const calls = countCalls(model.getLayer('block1_conv1'));
  const variants = { baseName: 'tiny', cacheDir, silent: true, transform, transformId: 'add-constant', variants: 3, seed: 5 };
  const aug = await cachePrefix(model, await open('validation'), { ...variants, batchSize: 4 });
  assert.equal(aug.data.sets.length, 3);
  assert.equal(aug.hits, 0);
  assert.ok(calls.count > 0);
  const [v0, v1] = aug.data.sets;
  assert.notDeepEqual(Array.from(v0!.x), Array.from(v1!.x));
  // Variant 0 equals the prefix on the transformed images (same seeded draw).
  // The iterator yields batches of 3, each transformed with the next draws of the variant's Rng.
  const rng = createRng(5 * 1000003 + 0);
  const ref = tf.tidy(() => {
    const parts = [0, 3, 6].map((s) => aug.split.prefix.predict(transform(all.x.slice([s, 0, 0, 0], [Math.min(3, 8 - s), -1, -1, -1]), rng)) as tf.Tensor);
    return tf.concat(parts).dataSync();
  });
  assert.ok(
    Array.from(ref).every((v, i) => Math.abs(v - v0!.x[i]!) < 1e-4),
    'variant 0 is not the prefix of the augmented images',
  );
  // Same seed again: every variant from the cache, no prefix call.
  calls.count = 0;
  const again = await cachePrefix(model, await open('validation'), variants);
  assert.equal(again.hits, 3);
  assert.equal(calls.count, 0);
  // Each epoch serves every image once, one variant each.
  let seen = 0;
  for await (const b of aug.data.epoch()) {
    seen += b.x.shape[0];
    tf.dispose([b.x, b.y!]);
  }
  assert.equal(seen, 8);
  tf.dispose([batch.x, batch.y!, all.x, all.y!]);
});
