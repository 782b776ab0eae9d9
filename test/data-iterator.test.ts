import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { flowFromDirectory, loadImageFolder, type Batch, type BatchTransform, type DirectoryIterator } from '../src/data/iterator.js';
import { ConvkitError } from '../src/util/errors.js';
import { colourOf, makeClassFolder, tempDir } from './data-fixtures.js';

let dir: string;
let cleanup: () => void;
// 3 classes, 17 files: batches of 5 leave a short last batch.
const PER_CLASS = { dogs: 6, birds: 4, cats: 7 };
const SIZE: [number, number] = [6, 8];

before(async () => {
  await tf.setBackend('cpu');
  ({ dir, cleanup } = tempDir());
  await makeClassFolder(join(dir, 'three'), PER_CLASS, SIZE);
  await makeClassFolder(join(dir, 'two'), { cats: 5, dogs: 4 }, SIZE);
});
after(() => cleanup());

const indexOf = (path: string) => Number(basename(path).split('.')[1]);
const dispose = (b: Batch) => {
  b.x.dispose();
  b.y?.dispose();
};

async function epochPaths(it: DirectoryIterator): Promise<string[]> {
  const paths: string[] = [];
  for await (const b of it.epoch()) {
    paths.push(...b.files.map((f) => f.path));
    dispose(b);
  }
  return paths;
}

test('class names, indices and labels follow the sorted folder names', async () => {
  const it = await flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 5 });
  assert.deepEqual(it.classNames, ['birds', 'cats', 'dogs']);
  assert.deepEqual({ ...it.classIndices }, { birds: 0, cats: 1, dogs: 2 });
  assert.equal(it.n, 17);
  assert.equal(it.stepsPerEpoch, 4);
  assert.deepEqual(it.labels, [...Array(4).fill(0), ...Array(7).fill(1), ...Array(6).fill(2)]);
  assert.deepEqual(
    it.files.map((f) => f.label),
    it.labels,
  );
});

test('each epoch visits every file once, reshuffled per epoch; same seed gives the same order', async () => {
  const opts = { targetSize: SIZE, batchSize: 5, seed: 7 };
  const a = await flowFromDirectory(join(dir, 'three'), opts);
  const b = await flowFromDirectory(join(dir, 'three'), opts);
  const c = await flowFromDirectory(join(dir, 'three'), { ...opts, seed: 8 });
  const all = a.files.map((f) => f.path).sort();
  const a1 = await epochPaths(a),
    a2 = await epochPaths(a);
  assert.deepEqual([...a1].sort(), all);
  assert.deepEqual([...a2].sort(), all);
  assert.notDeepEqual(a1, a2);
  assert.notDeepEqual(
    a1,
    a.files.map((f) => f.path),
  );
  assert.deepEqual(await epochPaths(b), a1);
  assert.deepEqual(await epochPaths(b), a2);
  assert.notDeepEqual(await epochPaths(c), a1);
  const plain = await flowFromDirectory(join(dir, 'three'), { ...opts, shuffle: false });
  assert.deepEqual(
    await epochPaths(plain),
    plain.files.map((f) => f.path),
  );
});

test('nextBatch is an endless stream with a short last batch per epoch; reset starts a new epoch', async () => {
  const it = await flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 5, seed: 3 });
  const sizes: number[] = [];
  for (let i = 0; i < 9; i++) {
    const b = await it.nextBatch();
    sizes.push(b.x.shape[0]);
    dispose(b);
  }
  assert.deepEqual(sizes, [5, 5, 5, 2, 5, 5, 5, 2, 5]);
  assert.equal(it.epochIndex, 3);
  it.reset();
  const b = await it.nextBatch();
  assert.equal(b.x.shape[0], 5);
  assert.equal(it.epochIndex, 4);
  dispose(b);
});

test('the next batch is decoded while the current one is in use', async () => {
  const it = await flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 4, shuffle: false });
  const first = await it.nextBatch();
  const second = it.files.slice(4, 8);
  const deadline = Date.now() + 10_000;
  while (!second.every((f) => it.cache.has(f.path, it.decodeOptions)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(
    second.every((f) => it.cache.has(f.path, it.decodeOptions)),
    'second batch decoded ahead',
  );
  assert.equal(it.cache.stats.decoded, 8, 'only one batch ahead');
  dispose(first);
  const b = await it.nextBatch();
  assert.deepEqual(b.files, second);
  dispose(b);
});

test('batch shapes, dtypes and labels for each classMode; pixels match the listed files', async () => {
  const expectY: Record<string, (labels: number[], n: number) => { shape: number[]; values: number[] }> = {
    categorical: (l, n) => ({ shape: [l.length, n], values: l.flatMap((k) => Array.from({ length: n }, (_, j) => (j === k ? 1 : 0))) }),
    sparse: (l) => ({ shape: [l.length], values: l }),
    binary: (l) => ({ shape: [l.length, 1], values: l }),
  };
  for (const classMode of ['categorical', 'sparse', 'binary', 'none'] as const) {
    const root = join(dir, classMode === 'binary' ? 'two' : 'three');
    const it = await flowFromDirectory(root, { targetSize: SIZE, batchSize: 4, classMode, seed: 1 });
    const batch = await it.nextBatch();
    assert.deepEqual(batch.x.shape, [4, ...SIZE, 3]);
    assert.equal(batch.x.dtype, 'float32');
    const x = await batch.x.array();
    batch.files.forEach((f, i) => assert.deepEqual(x[i]![SIZE[0] - 1]![SIZE[1] - 1], colourOf(f.label, indexOf(f.path)), `pixels of ${f.path}`));
    const labels = batch.files.map((f) => f.label);
    if (classMode === 'none') assert.equal(batch.y, undefined);
    else {
      const want = expectY[classMode]!(labels, it.classNames.length);
      assert.deepEqual(batch.y!.shape, want.shape, classMode);
      assert.equal(batch.y!.dtype, 'float32');
      assert.deepEqual(Array.from(await batch.y!.data()), want.values, classMode);
    }
    dispose(batch);
  }
});

test('bad options give an error naming the option', async () => {
  const root = join(dir, 'three');
  const cases: [object, RegExp][] = [
    [{ classMode: 'binary' }, /classMode "binary" needs exactly 2 classes.*has 3/],
    [{ classMode: 'multi' }, /invalid classMode: "multi"/],
    [{ batchSize: 0 }, /invalid batchSize: 0/],
    [{ targetSize: [150] }, /invalid targetSize: \[150\]/],
    [{ colorMode: 'rgba' }, /invalid colorMode/],
    [{ interpolation: 'lanczos' }, /invalid interpolation/],
  ];
  for (const [opts, re] of cases) {
    await assert.rejects(flowFromDirectory(root, opts), (err: unknown) => err instanceof ConvkitError && re.test(err.message), JSON.stringify(opts));
  }
});

test('grayscale batches have one channel', async () => {
  const it = await flowFromDirectory(join(dir, 'two'), { targetSize: [5, 5], colorMode: 'grayscale', batchSize: 3, classMode: 'binary' });
  const b = await it.nextBatch();
  assert.deepEqual(b.x.shape, [3, 5, 5, 1]);
  const [r, g, bl] = colourOf(b.files[0]!.label, indexOf(b.files[0]!.path));
  const v = (await b.x.data())[0]!;
  assert.ok(v > Math.min(r, g, bl) && v < Math.max(r, g, bl), `grey ${v} between the channels`);
  dispose(b);
});

test('a transform gets the seeded rng (same seed, same augmentation) and its input is disposed', async () => {
  const calls: number[] = [];
  // Adds a random offset per batch.
  const transform: BatchTransform = (x, rng) => {
    const o = rng.uniform(0, 10);
    calls.push(o);
    return tf.add(x, o);
  };
  const make = () => flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 6, seed: 5, transform });
  const a = await make(),
    b = await make();
  const base = tf.memory().numTensors;
  const va: number[][] = [],
    vb: number[][] = [];
  for (let i = 0; i < 5; i++) {
    const ba = await a.nextBatch(),
      bb = await b.nextBatch();
    va.push(Array.from(await ba.x.data()));
    vb.push(Array.from(await bb.x.data()));
    const off = (await ba.x.data())[0]! - colourOf(ba.files[0]!.label, indexOf(ba.files[0]!.path))[0];
    assert.ok(off >= 0 && off < 10, `offset ${off}`);
    dispose(ba);
    dispose(bb);
  }
  assert.deepEqual(va, vb);
  assert.equal(calls.length, 10);
  assert.equal(tf.memory().numTensors, base, 'no tensors leak');
});

test('tensor count stays flat across epochs', async () => {
  const it = await flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 4, transform: (x) => tf.mul(tf.sub(x, 1), 2) });
  for await (const b of it.epoch()) dispose(b);
  const base = tf.memory().numTensors;
  for (let e = 0; e < 3; e++) {
    for await (const b of it.epoch()) dispose(b);
    assert.equal(tf.memory().numTensors, base, `after epoch ${e + 2}`);
  }
  assert.equal(it.cache.stats.decoded, 17, 'each file decoded once');
});

test('toDataset trains a tiny model with fitDataset, one reshuffled pass per epoch', async () => {
  const it = await flowFromDirectory(join(dir, 'three'), { targetSize: SIZE, batchSize: 5, seed: 2 });
  const model = tf.sequential({
    layers: [tf.layers.rescaling({ scale: 1 / 255, inputShape: [...SIZE, 3] }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
  });
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const batchSizes: number[] = [];
  const before = tf.memory().numTensors;
  const history = await model.fitDataset(it.toDataset(), {
    epochs: 2,
    verbose: 0,
    callbacks: {
      onBatchEnd: async (_b, logs) => {
        batchSizes.push(logs!.size as number);
      },
    },
  });
  assert.equal(history.history.loss!.length, 2);
  assert.ok(Number.isFinite(history.history.loss![1] as number));
  assert.deepEqual(batchSizes, [5, 5, 5, 2, 5, 5, 5, 2]);
  assert.equal(it.epochIndex, 2);
  assert.ok(tf.memory().numTensors - before < 20, 'batches are disposed by fitDataset');
  model.dispose();
});

test('skipBad skips unreadable and tiny images, records them and goes on', async () => {
  const { dir: d, cleanup: c } = tempDir();
  try {
    await makeClassFolder(d, { cats: 3, dogs: 3 }, SIZE);
    await fs.writeFile(
      join(d, 'cats', 'broken.jpg'),
      (
        await sharp({ create: { width: 20, height: 20, channels: 3, background: 'red' } })
          .jpeg()
          .toBuffer()
      ).subarray(0, 100),
    );
    await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } })
      .png()
      .toFile(join(d, 'dogs', 'dot.png'));
    await fs.writeFile(join(d, 'dogs', 'notes.txt'), 'x');
    await assert.rejects(flowFromDirectory(d, { targetSize: SIZE }), /notes\.txt: not an image file/);
    await fs.rm(join(d, 'dogs', 'notes.txt'));
    const failing = await flowFromDirectory(d, { targetSize: SIZE, batchSize: 8 });
    await assert.rejects(failing.nextBatch(), (err: unknown) => err instanceof ConvkitError && /broken\.jpg|dot\.png/.test(err.message));

    await fs.writeFile(join(d, 'dogs', 'notes.txt'), 'x');
    const it = await flowFromDirectory(d, { targetSize: SIZE, batchSize: 3, skipBad: true, seed: 4 });
    assert.equal(it.n, 8);
    const seen = await epochPaths(it);
    assert.equal(seen.length, 6);
    assert.equal(it.n, 6);
    assert.deepEqual(it.skipped.map((s) => basename(s.path)).sort(), ['broken.jpg', 'dot.png', 'notes.txt']);
    assert.match(it.skipped.find((s) => s.path.endsWith('dot.png'))!.reason, /1×1 px/);
    assert.equal((await epochPaths(it)).length, 6);
    assert.equal(it.stepsPerEpoch, 2);
  } finally {
    c();
  }
});

test('loadImageFolder and loadAll return the whole set in file order', async () => {
  const { x, y, classNames, files } = await loadImageFolder(join(dir, 'two'), { targetSize: SIZE, classMode: 'binary' });
  assert.deepEqual(classNames, ['cats', 'dogs']);
  assert.deepEqual(x.shape, [9, ...SIZE, 3]);
  assert.deepEqual(Array.from(await y!.data()), [0, 0, 0, 0, 0, 1, 1, 1, 1]);
  const pixels = await x.array();
  files.forEach((f, i) => assert.deepEqual(pixels[i]![0]![0], colourOf(f.label, indexOf(f.path))));
  x.dispose();
  y!.dispose();
});

test('the disk cache makes a second iterator skip decoding', async () => {
  const cacheDir = join(dir, 'cache');
  const a = await flowFromDirectory(join(dir, 'two'), { targetSize: SIZE, cacheDir, shuffle: false });
  const xa = await a.loadAll();
  const b = await flowFromDirectory(join(dir, 'two'), { targetSize: SIZE, cacheDir, shuffle: false });
  const xb = await b.loadAll();
  assert.equal(a.cache.stats.decoded, 9);
  assert.deepEqual({ decoded: b.cache.stats.decoded, diskHits: b.cache.stats.diskHits }, { decoded: 0, diskHits: 9 });
  assert.deepEqual(await xb.x.data(), await xa.x.data());
  tf.dispose([xa.x, xa.y!, xb.x, xb.y!]);
});

const SHARED = new URL('../../shared/data/cats_and_dogs_small/train', import.meta.url).pathname;
test('cats_and_dogs_small/train gives 150×150 binary batches', { skip: existsSync(SHARED) ? false : `no ${SHARED}` }, async () => {
  const it = await flowFromDirectory(SHARED, { targetSize: [150, 150], batchSize: 8, classMode: 'binary' });
  assert.deepEqual(it.classNames, ['cats', 'dogs']);
  assert.equal(it.n, 2000);
  assert.equal(it.stepsPerEpoch, 250);
  const b = await it.nextBatch();
  assert.deepEqual(b.x.shape, [8, 150, 150, 3]);
  const max = b.x.max().dataSync()[0]!;
  assert.ok(max > 100 && max <= 255);
  dispose(b);
});

test("validationSplit and subset split each class's sorted files as Keras does: disjoint, every class in both", async () => {
  const root = join(dir, 'two');
  const names = async (subset: 'training' | 'validation') =>
    (await flowFromDirectory(root, { targetSize: SIZE, validationSplit: 0.4, subset, shuffle: false })).files.map((f) => basename(f.path));
  // cats: 5 files → ⌊0.4·5⌋ = 2 held out; dogs: 4 files → 1. Keras sorts by name: cats.0, cats.1 | dogs.0.
  const validation = await names('validation');
  const training = await names('training');
  assert.deepEqual(validation, ['cats.0.png', 'cats.1.png', 'dogs.0.png']);
  assert.deepEqual(training, ['cats.2.png', 'cats.3.png', 'cats.4.png', 'dogs.1.png', 'dogs.2.png', 'dogs.3.png']);
  await assert.rejects(flowFromDirectory(root, { targetSize: SIZE, validationSplit: 1.5, subset: 'training' }), /validationSplit/);
  await assert.rejects(flowFromDirectory(root, { targetSize: SIZE, validationSplit: 0.2 }), /subset/);
  await assert.rejects(flowFromDirectory(root, { targetSize: SIZE, subset: 'validation' }), /validationSplit/);
});
