/**
 * The Learner: fit continues the epoch count, fineTune is freeze → fit →
 * unfreeze → fit on the base it was built from, save writes convkit.json
 * from the data, and mismatches are errors that say what to change.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { flowFromDirectory } from '../src/data/iterator.js';
import { Learner } from '../src/learner/learner.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { tinyBase } from './transfer-fixtures.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let set: SyntheticSet;
let out: string;
before(async () => {
  await initBackend();
  set = await writeSyntheticSet({ train: 8, validation: 4, test: 4 }, 24, 11);
  out = await mkdtemp(join(tmpdir(), 'convkit-learner-'));
});
after(async () => {
  await set?.cleanup();
  await rm(out, { recursive: true, force: true });
});

const data = async (size = 24) => {
  const common = { targetSize: [size, size] as [number, number], classMode: 'binary' as const, batchSize: 4 };
  return {
    train: await flowFromDirectory(join(set.root, 'train'), { ...common, seed: 2 }),
    validation: await flowFromDirectory(join(set.root, 'validation'), { ...common, shuffle: false }),
  };
};
const quiet = { verbose: false, seed: 1, optimizer: 'adam' as const, learningRate: 1e-2 };

test('fineTune trains the head with the base frozen, then the whole model, the epochs counted on', async () => {
  const learner = await Learner.fromBase(tinyBase(24), await data());
  const conv = learner.model.getLayer('block1_conv1');
  const pretrained = conv.getWeights()[0]!.dataSync().slice();
  const seen: boolean[] = [];
  const r = await learner.fineTune(2, { freezeEpochs: 1, baseLr: 1e-2, verbose: false, callbacks: [{ onEpochBegin: () => void seen.push(conv.trainable) }] });
  assert.deepEqual(seen, [false, true, true], 'frozen for the first epoch, open for the next two');
  assert.equal(r.frozen.epoch.length, 1);
  assert.deepEqual(learner.history().epoch, [0, 1, 2]);
  assert.notDeepEqual(Array.from(conv.getWeights()[0]!.dataSync()), Array.from(pretrained), 'the unfrozen base trained');
  learner.model.dispose();
});

test('save writes convkit.json from the data: classes, size, mode, the whole history', async () => {
  const learner = Learner.convnet(await data(), { filters: [4], denseUnits: 4, seed: 1 });
  await learner.fit(1, quiet);
  await learner.fit(1, quiet);
  const meta = await learner.save(join(out, 'convnet'));
  const written = JSON.parse(await readFile(join(out, 'convnet', 'convkit.json'), 'utf8'));
  assert.deepEqual(written.classNames, ['left', 'right']);
  assert.deepEqual(written.inputSize, [24, 24]);
  assert.equal(written.classMode, 'binary');
  assert.deepEqual(meta.history?.epoch, [0, 1]);
  assert.equal(meta.history?.history.val_acc?.length, 2);
  const scores = await learner.evaluate(join(set.root, 'test'));
  assert.equal(scores.n, 8);
  learner.model.dispose();
});

test('a model whose input differs from the data, and freeze() without a base, are errors that say what to do', async () => {
  const d = await data();
  const model = smallCnn({ inputShape: [32, 32, 3], numClasses: 2, filters: [4], denseUnits: 4 });
  assert.throws(() => new Learner(model, d), /takes 32×32 images but the training data is read at 24×24/);
  const learner = Learner.convnet(d, { filters: [4], denseUnits: 4 });
  assert.throws(() => learner.freeze(), /no pretrained base to freeze/);
  model.dispose();
  learner.model.dispose();
});
