/**
 * ImageDataGenerator: option validation, seeded sampling, standardize/fit
 * against direct computations, flow() and flowFromDirectory().
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { ImageDataGenerator, sampleTransform, type ImageDataGeneratorOptions } from '../src/augment/index.js';
import { ConvkitError } from '../src/util/errors.js';
import { createRng } from '../src/util/rng.js';
import { BOOK_AUGMENTATION } from '../src/augment/presets.js';

let dir = '';
before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  dir = await mkdtemp(join(tmpdir(), 'convkit-augment-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function throwsNaming(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ConvkitError && pattern.test(err.message));
}

test('options are validated with errors naming the option', () => {
  const bad: [ImageDataGeneratorOptions, RegExp][] = [
    [{ rotationRange: -5 }, /rotationRange/],
    [{ widthShiftRange: -0.1 }, /widthShiftRange/],
    [{ heightShiftRange: [] as number[] }, /heightShiftRange/],
    [{ shearRange: Number.NaN }, /shearRange/],
    [{ zoomRange: 1.5 }, /zoomRange/],
    [{ zoomRange: [1.2, 0.8] }, /zoomRange/],
    [{ brightnessRange: [0.5] as unknown as [number, number] }, /brightnessRange/],
    [{ fillMode: 'mirror' as 'wrap' }, /fillMode/],
    [{ cval: Number.POSITIVE_INFINITY }, /cval/],
    [{ horizontalFlip: 'yes' as unknown as boolean }, /horizontalFlip/],
    [{ rescale: 'a' as unknown as number }, /rescale/],
    [{ interpolationOrder: 3 as 1 }, /interpolationOrder/],
    [{ zcaWhitening: true }, /zcaWhitening is not supported/],
    [{ validationSplit: 1 }, /validationSplit/],
    [{ rotation_range: 40 } as ImageDataGeneratorOptions, /rotation_range[\s\S]*rotationRange/],
  ];
  for (const [options, pattern] of bad) throwsNaming(() => new ImageDataGenerator(options), pattern);
  const g = new ImageDataGenerator({ zoomRange: 0.2, featurewiseStdNormalization: true, samplewiseStdNormalization: true, rescale: 0 });
  assert.deepEqual(
    g.options.zoomRange.map((v) => Math.round(v * 100) / 100),
    [0.8, 1.2],
  );
  assert.equal(g.options.featurewiseCenter, true, 'std normalisation implies centring, as Keras');
  assert.equal(g.options.samplewiseCenter, true);
  assert.equal(g.options.rescale, null);
});

// The book's ranges, with the colour changes the book leaves out.
const BOOK = { ...BOOK_AUGMENTATION, channelShiftRange: 10, brightnessRange: [0.5, 1.5] as [number, number] };

test('sampling is reproducible with a seed and stays within the ranges', () => {
  const a = Array.from(
    { length: 300 },
    (
      (rng) => () =>
        sampleTransform(BOOK, [150, 100], rng)
    )(createRng(1)),
  );
  const b = Array.from(
    { length: 300 },
    (
      (rng) => () =>
        sampleTransform(BOOK, [150, 100], rng)
    )(createRng(1)),
  );
  const c = Array.from(
    { length: 300 },
    (
      (rng) => () =>
        sampleTransform(BOOK, [150, 100], rng)
    )(createRng(2)),
  );
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(JSON.parse(JSON.stringify(a[0])), a[0], 'plain serialisable object');
  for (const t of a) {
    assert.ok(Math.abs(t.theta) <= 40);
    assert.ok(Math.abs(t.tx) <= 0.2 * 100, `tx ${t.tx} within 20% of the width`);
    assert.ok(Math.abs(t.ty) <= 0.2 * 150, `ty ${t.ty} within 20% of the height`);
    assert.ok(Math.abs(t.shear) <= 0.2);
    assert.ok(t.zx >= 0.8 && t.zx <= 1.2 && t.zy >= 0.8 && t.zy <= 1.2);
    assert.equal(t.flipVertical, false);
    assert.ok(Math.abs(t.channelShiftIntensity!) <= 10);
    assert.ok(t.brightness! >= 0.5 && t.brightness! <= 1.5);
  }
  const flips = a.filter((t) => t.flipHorizontal).length;
  assert.ok(flips > 100 && flips < 200, `about half flipped (${flips})`);
  assert.ok(
    a.some((t) => Math.abs(t.ty) > 20),
    'shifts use the range, not just tiny values',
  );
  assert.notEqual(a[0]!.zx, a[0]!.zy, 'x and y zoom are drawn separately, as Keras');
});

test('shift ranges: integers are whole pixels, arrays pick an allowed value with a sign', () => {
  const rng = createRng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) {
    const t = sampleTransform({ widthShiftRange: 3, heightShiftRange: [0.1, 0.25] }, [40, 80], rng);
    assert.ok(Number.isInteger(t.tx) && Math.abs(t.tx) < 3, `tx ${t.tx}`);
    seen.add(t.ty);
  }
  // [0.1, 0.25] are fractions (all < 1): ±4 or ±10 px of a 40 px height.
  assert.deepEqual(
    [...seen].sort((x, y) => x - y),
    [-10, -4, 4, 10],
  );
  const px = sampleTransform({ widthShiftRange: [5, 20] }, [40, 80], createRng(4));
  assert.ok([5, 20].includes(Math.abs(px.tx)));
  // Nothing enabled: identity, and no random numbers consumed.
  const r1 = createRng(9),
    r2 = createRng(9);
  sampleTransform({}, [10, 10], r1);
  assert.equal(r1.next(), r2.next());
});

test('rescale and samplewise normalisation', () => {
  const x = tf.tensor4d([0, 51, 102, 255, 10, 20, 30, 40], [2, 2, 2, 1]);
  const g = new ImageDataGenerator({ rescale: 1 / 255 });
  const y = g.standardize(x);
  assert.deepEqual(
    Array.from(y.dataSync())
      .slice(0, 4)
      .map((v) => Math.round(v * 1000) / 1000),
    [0, 0.2, 0.4, 1],
  );
  const s = new ImageDataGenerator({ samplewiseCenter: true, samplewiseStdNormalization: true }).standardize(x);
  const second = Array.from(s.dataSync()).slice(4);
  // Image 2: 10, 20, 30, 40 → mean 25, population std √125.
  const sd = Math.sqrt(125);
  second.forEach((v, i) => assert.ok(Math.abs(v - (10 * (i + 1) - 25) / (sd + 1e-6)) < 1e-5));
  tf.dispose([x, y, s]);
});

test('featurewise normalisation needs fit(), then uses per-channel mean and std', () => {
  const g = new ImageDataGenerator({ featurewiseCenter: true, featurewiseStdNormalization: true, rescale: 0.5 });
  const x = tf.tensor4d(
    Array.from({ length: 70 * 2 * 2 * 3 }, (_, i) => (i * 37) % 101),
    [70, 2, 2, 3],
  );
  throwsNaming(() => g.standardize(x), /fit/);
  throwsNaming(() => g.flow(x), /fit/);
  g.fit(x);
  // Reference: direct per-channel moments of x·0.5 (fit works in chunks of 64).
  const { mean, variance } = tf.moments(x.mul(0.5), [0, 1, 2]);
  const m = Array.from(mean.dataSync()),
    sd = Array.from(variance.dataSync(), Math.sqrt);
  g.mean!.forEach((v, i) => assert.ok(Math.abs(v - m[i]!) < 1e-3, `mean ${v} vs ${m[i]}`));
  g.std!.forEach((v, i) => assert.ok(Math.abs(v - sd[i]!) < 1e-3, `std ${v} vs ${sd[i]}`));
  const y = g.standardize(x);
  const after = tf.moments(y, [0, 1, 2]);
  for (const v of after.mean.dataSync()) assert.ok(Math.abs(v) < 1e-4);
  for (const v of after.variance.dataSync()) assert.ok(Math.abs(v - 1) < 1e-3);
  tf.dispose([x, y, mean, variance, after.mean, after.variance]);
  // fit with augmentation is seeded.
  const aug = (seed: number) =>
    new ImageDataGenerator({ featurewiseCenter: true, rotationRange: 30, fillMode: 'constant' }).fit(tf.ones([4, 6, 6, 1]) as tf.Tensor4D, {
      augment: true,
      rounds: 2,
      seed,
    }).mean;
  assert.deepEqual(aug(1), aug(1));
  assert.notDeepEqual(aug(1), aug(2));
  assert.ok(aug(1)![0]! < 1, 'constant-0 fill of rotated copies lowers the mean');
});

test('preprocessingFunction runs first, on the batch', () => {
  const g = new ImageDataGenerator({ preprocessingFunction: (x) => x.add(1), rescale: 2 });
  const x = tf.tensor4d([1, 2], [1, 1, 2, 1]);
  const y = g.standardize(x);
  assert.deepEqual(Array.from(y.dataSync()), [4, 6]);
  const bad = new ImageDataGenerator({ preprocessingFunction: (x) => x.reshape([2]) as unknown as tf.Tensor4D });
  throwsNaming(() => bad.standardize(x), /preprocessingFunction/);
  tf.dispose([x, y]);
});

test('batchTransform is deterministic for a given Rng', () => {
  const g = new ImageDataGenerator({ ...BOOK, rescale: 1 / 255 });
  const x = tf.randomUniform([3, 12, 10, 3], 0, 255, 'float32', 5) as tf.Tensor4D;
  const bt = g.batchTransform();
  const a = bt(x, createRng(11)),
    b = bt(x, createRng(11)),
    c = bt(x, createRng(12));
  assert.deepEqual(a.shape, [3, 12, 10, 3]);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  assert.notDeepEqual(Array.from(a.dataSync()), Array.from(c.dataSync()));
  assert.ok(a.max().dataSync()[0]! <= 1 && a.min().dataSync()[0]! >= 0);
  tf.dispose([x, a, b, c]);
});

test('flow(): batches, labels follow their images, reshuffled epochs, subsets', async () => {
  // Image i is filled with the value i; label i too.
  const n = 10;
  const x = tf.tensor4d(
    Array.from({ length: n * 4 }, (_, i) => Math.floor(i / 4)),
    [n, 2, 2, 1],
  );
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i));
  const g = new ImageDataGenerator({ horizontalFlip: true });
  const it = g.flow(x, y, { batchSize: 4, seed: 5 });
  assert.equal(it.stepsPerEpoch, 3);
  const epoch1: number[] = [];
  for await (const b of it.epoch()) {
    const xs = b.x.arraySync().map((img) => img[0]![0]![0]);
    assert.deepEqual(xs, Array.from(b.y!.dataSync()));
    assert.deepEqual(xs, b.indices);
    epoch1.push(...b.indices);
    tf.dispose([b.x, b.y!]);
  }
  assert.deepEqual(
    [...epoch1].sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
  const epoch2: number[] = [];
  for await (const b of it.epoch()) {
    epoch2.push(...b.indices);
    tf.dispose([b.x, b.y!]);
  }
  assert.notDeepEqual(epoch2, epoch1, 'reshuffled');
  const again = g.flow(x, y, { batchSize: 4, seed: 5 });
  const first = await again.nextBatch();
  assert.deepEqual(first.indices, epoch1.slice(0, 4), 'same seed, same order');
  tf.dispose([first.x, first.y!]);

  const split = new ImageDataGenerator({ validationSplit: 0.3 });
  assert.equal(split.flow(x, y, { subset: 'validation' }).n, 3);
  assert.equal(split.flow(x, y, { subset: 'training' }).n, 7);
  throwsNaming(() => g.flow(x, y, { subset: 'training' }), /validationSplit/);
  throwsNaming(() => g.flow(x, tf.zeros([3])), /labels/);
  tf.dispose([x, y]);
});

test('flowFromDirectory(): augmented, rescaled batches from class folders', async () => {
  const root = join(dir, 'train');
  for (const [cls, colour] of [
    ['cats', { r: 200, g: 30, b: 30 }],
    ['dogs', { r: 30, g: 30, b: 200 }],
  ] as const) {
    await mkdir(join(root, cls), { recursive: true });
    for (let i = 0; i < 3; i++) {
      await sharp({ create: { width: 20 + i, height: 16, channels: 3, background: colour } })
        .png()
        .toFile(join(root, cls, `${cls}.${i}.png`));
    }
  }
  const g = new ImageDataGenerator({ rescale: 1 / 255, rotationRange: 20, zoomRange: 0.1, horizontalFlip: true });
  const it = await g.flowFromDirectory(root, { targetSize: [12, 12], batchSize: 4, classMode: 'binary', seed: 3 });
  const b = await it.nextBatch();
  assert.deepEqual(b.x.shape, [4, 12, 12, 3]);
  const px = b.x.arraySync();
  const labels = Array.from(b.y!.dataSync());
  // Flat-colour images stay flat under any geometric transform with 'nearest' fill.
  px.forEach((img, i) => {
    const [r, , bl] = img[6]![6]!;
    if (labels[i] === 0) assert.ok(Math.abs(r! - 200 / 255) < 0.01 && Math.abs(bl! - 30 / 255) < 0.01);
    else assert.ok(Math.abs(bl! - 200 / 255) < 0.01 && Math.abs(r! - 30 / 255) < 0.01);
  });
  tf.dispose([b.x, b.y!]);
  it.dispose();
});
