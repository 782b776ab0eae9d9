import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { loadBase } from '../src/models/bases.js';
import { getBase } from '../src/transfer/bases.js';
import { truncate } from '../src/transfer/head.js';
import { runTransferRecipe } from '../src/transfer/recipes.js';
import { concatFeatureSets } from '../src/transfer/combined-features.js';
import type { FeatureSet } from '../src/transfer/feature-cache.js';
import { flowFromDirectory } from '../src/data/iterator.js';
import { fileSystem } from '../src/train/saved-model.js';
import { linkSubset } from './audit-fixtures.js';

const SIZE: [number, number] = [96, 96];
let work: string;
let data: string;

before(async () => {
  await initBackend();
  work = await mkdtemp(join(tmpdir(), 'convkit-combined-'));
  data = join(work, 'data');
  linkSubset(data, { train: 6, validation: 4, test: 4 });
});
after(() => rm(work, { recursive: true, force: true }));

const photos = async () => (await flowFromDirectory(join(data, 'test'), { targetSize: SIZE, shuffle: false, classMode: 'binary' })).loadAll();

test("two bases side by side: the combined feature map is each base's own feature map, concatenated", async () => {
  const combined = getBase('mobilenet_v1+mobilenet_v2');
  assert.deepEqual(combined.parts, ['mobilenet_v1', 'mobilenet_v2']);
  const { model, featureLayer } = await combined.load({ inputSize: SIZE });
  assert.equal(model.outputs[0]!.sourceLayer.name, featureLayer);
  assert.deepEqual(model.outputs[0]!.shape, [null, 3, 3, 768 + 1280]);
  const names = model.layers.map((l) => l.name);
  assert.equal(new Set(names).size, names.length, 'layer names repeat');
  const alone: tf.LayersModel[] = [];
  for (const name of ['mobilenet_v1', 'mobilenet_v2']) {
    const b = await loadBase(name, { inputSize: SIZE });
    alone.push(truncate(b.model, b.featureLayer));
  }
  const { x } = await photos();
  const [both, v1, v2] = tf.tidy(() => [model.predict(x) as tf.Tensor, alone[0]!.predict(x) as tf.Tensor, alone[1]!.predict(x) as tf.Tensor]);
  const [first, second] = tf.split(both!, [768, 1280], -1);
  for (const [part, own] of [
    [first!, v1!],
    [second!, v2!],
  ] as const) {
    const diff = tf.max(tf.abs(tf.sub(part, own))).dataSync()[0]!;
    assert.ok(diff <= 1e-5, `combined features differ from the base's own by ${diff}`);
    assert.ok(tf.max(own).dataSync()[0]! > 0, 'features all zero');
  }
  tf.dispose([x, both!, v1!, v2!, first!, second!]);
});

test('features on mobilenet_v1+mobilenet_v2: each part cached as its own base, one classifier that plain tf.loadLayersModel loads', async () => {
  const cacheDir = join(work, 'cache');
  const entries = async () => (await readdir(cacheDir)).filter((f) => f.endsWith('.json')).length;
  const common = { data, inputSize: SIZE, cacheDir, epochs: 2, batchSize: 4, seed: 3 };
  await runTransferRecipe('features', { ...common, out: join(work, 'v1'), base: 'mobilenet_v1', silent: true });
  assert.equal(await entries(), 3);
  const lines: string[] = [];
  const out = join(work, 'model');
  const r = await runTransferRecipe('features', { ...common, out, base: 'mobilenet_v1+mobilenet_v2', log: (l) => lines.push(l) });
  // MobileNet v1's three sets came from the single-base run's entries; only v2's were added.
  assert.equal(await entries(), 6);
  assert.match(lines.join('\n'), /features 3×3×2048 per image \(0 of 3 sets from the cache/);
  const second: string[] = [];
  const again = await runTransferRecipe('features', { ...common, out: join(work, 'again'), base: 'mobilenet_v1+mobilenet_v2', log: (l) => second.push(l) });
  assert.match(second.join('\n'), /3 of 3 sets from the cache/);
  assert.equal(again.metrics.test_acc, r.metrics.test_acc);
  const meta = JSON.parse(await readFile(join(out, 'convkit.json'), 'utf8'));
  assert.equal(meta.recipe.settings.base, 'mobilenet_v1+mobilenet_v2');
  const loaded = await tf.loadLayersModel(fileSystem(out));
  assert.equal(loaded.getLayer('combined_features').getClassName(), 'Concatenate');
  const { x, y } = await photos();
  const [a, b] = tf.tidy(() => [(loaded.predict(x) as tf.Tensor).dataSync(), (r.model.predict(x) as tf.Tensor).dataSync()]);
  assert.deepEqual(Array.from(a!), Array.from(b!));
  const acc = tf.tidy(() => tf.mean(tf.equal(tf.greater(loaded.predict(x) as tf.Tensor, 0.5).toFloat(), y!)).dataSync()[0]!);
  assert.ok(Math.abs(acc - r.metrics.test_acc!) < 1e-6, `saved model ${acc} vs recipe ${r.metrics.test_acc}`);
  tf.dispose([x, y!]);
});

test('combined base names: an empty part, a repeated base or an unknown one is refused by name; finetune refuses the combination before any work', async () => {
  assert.throws(() => getBase('mobilenet_v1+'), /--base "mobilenet_v1\+" has an empty part/);
  assert.throws(() => getBase('mobilenet_v1+mobilenet_v1'), /names mobilenet_v1 twice/);
  assert.throws(() => getBase('mobilenet_v1+resnet50'), /unknown base "resnet50"/);
  const out = join(work, 'finetune');
  await assert.rejects(
    runTransferRecipe('finetune', { data, out, base: 'mobilenet_v2+mobilenet_v1', inputSize: SIZE, silent: true }),
    /recipe finetune cannot fine-tune --base mobilenet_v2\+mobilenet_v1/,
  );
  assert.equal(existsSync(out) || existsSync(`${out}.features-augment`), false, 'finetune wrote something before refusing');
});

test('concatFeatureSets joins per position along the channels, as Concatenate(axis -1) does', () => {
  const set = (x: number[], shape: number[], key: string): FeatureSet => ({
    x: Float32Array.from(x),
    shape,
    y: Float32Array.from([0, 1]),
    yShape: [1],
    n: 2,
    files: ['a.jpg', 'b.jpg'],
    classNames: ['cats', 'dogs'],
    key,
    hit: true,
  });
  // Two images, two positions each: the first set has 2 channels, the second 1.
  const a = set([1, 2, 3, 4, 5, 6, 7, 8], [2, 2], 'a');
  const b = set([10, 20, 30, 40], [2, 1], 'b');
  const joined = concatFeatureSets([a, b]);
  assert.deepEqual(joined.shape, [2, 3]);
  assert.deepEqual(Array.from(joined.x), [1, 2, 10, 3, 4, 20, 5, 6, 30, 7, 8, 40]);
  assert.equal(joined.key, 'a+b');
  assert.throws(() => concatFeatureSets([a, { ...b, files: ['a.jpg', 'c.jpg'] }]), /different images or sizes/);
});
