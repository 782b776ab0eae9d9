import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, readFile, writeFile, truncate, mkdir, cp, unlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { smallCnn } from '../src/models/small-cnn.js';
import { saveModel, loadModel, fileSystem, type ModelMetaInput } from '../src/train/saved-model.js';
import { predict } from '../src/train/predict.js';
import { syntheticTensors, writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let work: string;
let set: SyntheticSet;
let pixels: tf.Tensor4D;
before(async () => {
  await tf.setBackend('cpu');
  work = await mkdtemp(join(tmpdir(), 'convkit-saved-'));
  set = await writeSyntheticSet({ train: 0, validation: 0, test: 3 });
  // The pixels decoded by sharp directly, independent of convkit's reader.
  const files = ['left', 'right'].map((c) => join(set.root, 'test', c, `${c}_000.png`));
  const raws = await Promise.all(files.map((f) => sharp(f).removeAlpha().raw().toBuffer()));
  pixels = tf.tensor4d(Float32Array.from(Buffer.concat(raws)), [2, 32, 32, 3]);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
  await set.cleanup();
});

const META: ModelMetaInput = {
  classNames: ['left', 'right'],
  inputSize: [32, 32],
  colorMode: 'rgb',
  classMode: 'binary',
  preprocessing: { input: 'RGB floats 0..255', interpolation: 'bilinear' },
  recipe: { name: 'scratch', profile: 'book' },
};

test('save → load (convkit and plain tf.loadLayersModel) gives identical predictions', async () => {
  const dir = join(work, 'm1');
  const model = smallCnn({ inputShape: [32, 32, 3], filters: [8, 16], denseUnits: 16, dropout: 0.5, seed: 9 });
  const { x } = syntheticTensors(6, 32);
  const before = await (model.predict(x) as tf.Tensor).data();
  const meta = await saveModel(model, dir, META);
  assert.equal(meta.format, 'convkit-model');
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
  assert.equal(json.modelTopology.config.layers[0].class_name, 'Rescaling');

  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.meta.classNames, ['left', 'right']);
  assert.equal(loaded.meta.recipe?.name, 'scratch');
  assert.ok(!Number.isNaN(Date.parse(loaded.meta.createdAt)));
  assert.deepEqual(await (loaded.model.predict(x) as tf.Tensor).data(), before);

  const plain = await tf.loadLayersModel(fileSystem(dir));
  assert.deepEqual(await (plain.predict(x) as tf.Tensor).data(), before);
  // Dropout is inactive at inference: two calls agree.
  assert.deepEqual(await (plain.predict(x) as tf.Tensor).data(), before);

  // Saving again replaces the folder whole.
  await saveModel(model, dir, { ...META, recipe: { name: 'augment' } });
  assert.equal((await loadModel(dir)).meta.recipe?.name, 'augment');
  tf.dispose([x]);
  model.dispose();
});

test('predict(): labels with probabilities; seeded test-time augmentation repeats exactly', async () => {
  const dir = join(work, 'm2');
  const model = smallCnn({ inputShape: [32, 32, 3], filters: [8, 16], denseUnits: 16, seed: 2 });
  await saveModel(model, dir, META);
  const files = ['left', 'right'].map((c) => join(set.root, 'test', c, `${c}_000.png`));
  const plain = await predict(dir, files);
  assert.equal(plain.length, 2);
  for (const p of plain) {
    assert.ok(['left', 'right'].includes(p.label));
    assert.equal(p.probability, Math.max(p.probabilities.left!, p.probabilities.right!));
    assert.ok(Math.abs(p.probabilities.left! + p.probabilities.right! - 1) < 1e-6);
  }
  // Same as running the model on the decoded pixels directly.
  const direct = await (model.predict(pixels) as tf.Tensor).data();
  assert.ok(Math.abs(direct[0]! - plain[0]!.probabilities.right!) < 1e-5);
  assert.ok(Math.abs(direct[1]! - plain[1]!.probabilities.right!) < 1e-5);
  const a = await predict(dir, files, { tta: { views: 3 }, seed: 4 });
  const b = await predict(dir, files, { tta: { views: 3 }, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(
    a.map((p) => p.probabilities.right),
    plain.map((p) => p.probabilities.right),
  );
  model.dispose();
});

test("another tool's model, a missing model.json, truncated weights: clear errors naming the file", async () => {
  const dir = join(work, 'm3');
  const model = smallCnn({ inputShape: [32, 32, 3], filters: [8, 16], denseUnits: 16, seed: 1 });
  await saveModel(model, dir, META);
  model.dispose();

  const foreign = join(work, 'foreign');
  await mkdir(foreign, { recursive: true });
  await cp(join(dir, 'model.json'), join(foreign, 'model.json'));
  await cp(join(dir, 'weights.bin'), join(foreign, 'weights.bin'));
  await assert.rejects(loadModel(foreign), /foreign\/convkit\.json not found[\s\S]*another tool/);
  // ...which plain TF.js still loads.
  (await tf.loadLayersModel(fileSystem(foreign))).dispose();

  const noJson = join(work, 'nojson');
  await cp(dir, noJson, { recursive: true });
  await unlink(join(noJson, 'model.json'));
  await assert.rejects(loadModel(noJson), /nojson\/model\.json not found/);

  const cut = join(work, 'cut');
  await cp(dir, cut, { recursive: true });
  const size = (await stat(join(cut, 'weights.bin'))).size;
  await truncate(join(cut, 'weights.bin'), size - 100);
  await assert.rejects(loadModel(cut), (err: Error) => /weights are truncated/.test(err.message) && err.message.includes(join(cut, 'model.json')));

  const wrong = join(work, 'wrong');
  await cp(dir, wrong, { recursive: true });
  await writeFile(join(wrong, 'convkit.json'), JSON.stringify({ format: 'something-else' }));
  await assert.rejects(loadModel(wrong), /wrong\/convkit\.json is not a convkit model description/);

  await assert.rejects(loadModel(join(work, 'absent')), /model folder .*absent not found/);
});
