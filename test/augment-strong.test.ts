/**
 * Strong augmentation against hand-computed cases: MixUp and CutMix on
 * known images and labels, each RandAugment / TrivialAugment op on a tiny
 * known image, the magnitude tables, random erasing, seeded
 * reproducibility, training-only mixing in fit, and the settings and flags
 * that switch them on.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  ImageDataGenerator,
  applyImageOp,
  applyImageOps,
  applyMix,
  applyTransform,
  batchMixer,
  cutMixBox,
  identityTransform,
  opMagnitude,
  sampleBeta,
  sampleErasing,
  sampleMix,
  sampleRandAugment,
  sampleTransform,
  sampleTrivialAugment,
  trainingAugmentation,
  IMAGE_OPS,
  OP_FILL,
  type ImageOp,
  type ImageShape,
} from '../src/augment/index.js';
import { createRng } from '../src/util/rng.js';
import { fit, evaluateLossAcc } from '../src/train/fit.js';
import { resolveSettings } from '../src/recipes/settings.js';
import { getRecipe } from '../src/recipes/registry.js';
import { runCli } from './cli-harness.js';

process.env.CONVKIT_BACKEND = 'cpu';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const near = (actual: ArrayLike<number>, expected: readonly number[], tol = 1e-4, what = '') => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

const op = (name: ImageOp['op'], value = 0): ImageOp => ({ op: name, value });
const run = (values: readonly number[], shape: ImageShape, o: ImageOp): number[] => Array.from(applyImageOp(Float32Array.from(values), shape, o));

test('MixUp of two known images and one-hot labels with λ = 0.3 is the exact mix', () => {
  const x = tf.tensor4d([0, 10, 20, 30, 100, 100, 100, 100], [2, 2, 2, 1]);
  const y = tf.tensor2d([1, 0, 0, 1], [2, 2]);
  const out = applyMix(x, y, { kind: 'mixup', lambda: 0.3, permutation: [1, 0] });
  // x0 = 0.3·a + 0.7·b, x1 = 0.3·b + 0.7·a.
  near(out.x.dataSync(), [70, 73, 76, 79, 30, 37, 44, 51]);
  near(out.y.dataSync(), [0.3, 0.7, 0.7, 0.3], 1e-6);
  // Binary labels [b, 1] mix the same way.
  const yb = tf.tensor2d([1, 0], [2, 1]);
  const outB = applyMix(x, yb, { kind: 'mixup', lambda: 0.3, permutation: [1, 0] });
  near(outB.y.dataSync(), [0.3, 0.7], 1e-6);
  tf.dispose([x, y, yb, out.x, out.y, outB.x, outB.y]);
});

test('CutMix: box and label weight exact for a fixed draw', () => {
  // λ 0.75 on 8×8: sides ⌊8·√0.25⌋ = 4; centred at row 2, column 7 → rows 0..4, columns 5..8 (clipped): 12 px.
  const { box, lambda } = cutMixBox(0.75, [8, 8], 2, 7);
  assert.deepEqual(box, { top: 0, left: 5, height: 4, width: 3 });
  assert.equal(lambda, 1 - 12 / 64);
  const x = tf.concat([tf.fill([1, 8, 8, 1], 1), tf.fill([1, 8, 8, 1], 2)]) as tf.Tensor4D;
  const y = tf.tensor2d([1, 0, 0, 1], [2, 2]);
  const out = applyMix(x, y, { kind: 'cutmix', lambda, permutation: [1, 0], box });
  const px = out.x.arraySync() as number[][][][];
  for (let r = 0; r < 8; r++)
    for (let c = 0; c < 8; c++) {
      const inBox = r < 4 && c >= 5;
      assert.equal(px[0]![r]![c]![0], inBox ? 2 : 1, `image 0 (${r}, ${c})`);
      assert.equal(px[1]![r]![c]![0], inBox ? 1 : 2, `image 1 (${r}, ${c})`);
    }
  near(out.y.dataSync(), [0.8125, 0.1875, 0.1875, 0.8125], 1e-6);
  tf.dispose([x, y, out.x, out.y]);
});

test('a drawn CutMix weight is the area its box leaves, and the box lies in the image', () => {
  const rng = createRng(11);
  for (let i = 0; i < 200; i++) {
    const p = sampleMix({ cutmix: 1 }, 4, [12, 9], rng)!;
    assert.equal(p.kind, 'cutmix');
    const b = p.box!;
    assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 12 && b.left + b.width <= 9, JSON.stringify(b));
    assert.equal(p.lambda, 1 - (b.height * b.width) / (12 * 9));
    assert.deepEqual([...p.permutation].sort(), [0, 1, 2, 3]);
  }
  // With both, batches split between the two by switchProb (default 0.5).
  const kinds = Array.from({ length: 400 }, () => sampleMix({ mixup: 0.2, cutmix: 1 }, 2, [8, 8], rng)!.kind);
  const cut = kinds.filter((k) => k === 'cutmix').length;
  assert.ok(cut > 160 && cut < 240, `${cut} of 400 CutMix`);
});

test('λ draws follow Beta(α, α): mean and variance against the formulas', () => {
  for (const [a, b] of [
    [0.2, 0.2],
    [1, 1],
    [2, 5],
  ] as const) {
    const rng = createRng(3);
    const draws = Array.from({ length: 40000 }, () => sampleBeta(a, b, rng));
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    const variance = draws.reduce((s, v) => s + (v - mean) ** 2, 0) / draws.length;
    const m = a / (a + b),
      v = (a * b) / ((a + b) ** 2 * (a + b + 1));
    assert.ok(Math.abs(mean - m) < 0.01, `Beta(${a}, ${b}) mean ${mean} vs ${m}`);
    assert.ok(Math.abs(variance - v) < 0.01, `Beta(${a}, ${b}) variance ${variance} vs ${v}`);
    assert.ok(draws.every((d) => d >= 0 && d <= 1));
  }
});

test('solarize, posterize, brightness on a row of known values', () => {
  const row = [0, 63.6, 100, 128, 200, 255];
  const shape: ImageShape = [1, 6, 1];
  assert.deepEqual(run(row, shape, op('solarize', 128)), [0, 63.6, 100, 127, 55, 0].map(Math.fround));
  // 2 bits keep 0xC0 of the rounded code: 64 → 64, 100 → 64, 128 → 128, 200 → 192, 255 → 192.
  assert.deepEqual(run(row, shape, op('posterize', 2)), [0, 64, 64, 128, 192, 192]);
  assert.deepEqual(run(row, shape, op('posterize', 8)), [0, 64, 100, 128, 200, 255]);
  near(run(row, shape, op('brightness', 1.5)), [0, 95.4, 150, 192, 255, 255]);
  near(run(row, shape, op('brightness', 0.5)), [0, 31.8, 50, 64, 100, 127.5]);
});

test('autocontrast stretches each channel to 0..255 and leaves a constant channel', () => {
  near(run([50, 100, 150], [1, 3, 1], op('autocontrast')), [0, 127.5, 255]);
  // Two RGB pixels: R 10→0, 20→255; G constant 7 stays; B 5→0, 15→255.
  near(run([10, 7, 5, 20, 7, 15], [1, 2, 3], op('autocontrast')), [0, 7, 0, 255, 7, 255]);
});

test('equalize maps codes by the reference histogram rule (steps 1 and 2)', () => {
  // 256 pixels: 128 × 10, 64 × 20, 63 × 30, 1 × 40 → step ⌊(256 − 1)/255⌋ = 1; code v → pixels below v.
  const a = [...Array(128).fill(10), ...Array(64).fill(20), ...Array(63).fill(30), 40];
  const outA = run(a, [16, 16, 1], op('equalize'));
  assert.deepEqual([outA[0], outA[128], outA[192], outA[255]], [0, 128, 192, 255]);
  // 512 pixels: step ⌊511/255⌋ = 2; v → ⌊(below + 1)/2⌋: 0, 128, 192, 256 → 255.
  const b = [...Array(256).fill(10), ...Array(128).fill(20), ...Array(127).fill(30), 40];
  const outB = run(b, [32, 16, 1], op('equalize'));
  assert.deepEqual([outB[0], outB[256], outB[384], outB[511]], [0, 128, 192, 255]);
  // Fewer than 256 pixels of more than one code: step 0 leaves the image.
  assert.deepEqual(run([3, 9, 9, 200], [2, 2, 1], op('equalize')), [3, 9, 9, 200]);
});

test('translate, rotate and shear move whole pixels and fill with mid-grey', () => {
  const img = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const s: ImageShape = [3, 3, 1];
  const F = OP_FILL;
  assert.deepEqual(run(img, s, op('translate-x', 1)), [F, 1, 2, F, 4, 5, F, 7, 8]);
  assert.deepEqual(run(img, s, op('translate-y', -1)), [4, 5, 6, 7, 8, 9, F, F, F]);
  // 90° counter-clockwise.
  assert.deepEqual(run(img, s, op('rotate', 90)), [3, 6, 9, 2, 5, 8, 1, 4, 7]);
  // shear-x 1: output (x, y) shows input (x + y, y).
  assert.deepEqual(run(img, s, op('shear-x', 1)), [1, 2, 3, 5, 6, F, 9, F, F]);
  assert.deepEqual(run(img, s, op('shear-y', 1)), [1, 5, 9, 4, 8, F, 7, F, F]);
});

test('color, contrast and sharpness blend with their degenerate images', () => {
  // A red pixel's grey is 0.299 · 255 = 76.245: color 0 is that grey, color 2 doubles the distance from it (clipped).
  near(run([255, 0, 0], [1, 1, 3], op('color', 0)), [76.245, 76.245, 76.245], 1e-3);
  near(run([255, 0, 0], [1, 1, 3], op('color', 2)), [255, 0, 0]);
  // Contrast 0.5 around the mean 50.
  near(run([0, 100], [1, 2, 1], op('contrast', 0.5)), [25, 75]);
  // Sharpness: the centre's smoothed value is (8 · 13 + 5 · 0) / 13 = 8; factor 0.5 gives 4; borders stay.
  const ring = [13, 13, 13, 13, 0, 13, 13, 13, 13];
  near(run(ring, [3, 3, 1], op('sharpness', 0.5)), [13, 13, 13, 13, 4, 13, 13, 13, 13]);
  near(run(ring, [3, 3, 1], op('identity')), ring);
});

test('RandAugment and TrivialAugment magnitude tables (torchvision bins 0..30)', () => {
  const s: [number, number] = [150, 150];
  assert.equal(opMagnitude('rotate', 9, s), 9);
  assert.equal(opMagnitude('posterize', 9, s), 7);
  assert.equal(opMagnitude('posterize', 30, s), 4);
  assert.equal(opMagnitude('solarize', 9, s), 178.5);
  // 150/331 of the width at M 30: 150/331 · 150 · 9/30 = 20.39 → 20 whole pixels.
  assert.equal(opMagnitude('translate-x', 9, s), 20);
  assert.ok(Math.abs(opMagnitude('shear-x', 30, s) - 0.3) < 1e-12);
  assert.ok(Math.abs(opMagnitude('brightness', 9, s) - 0.27) < 1e-12);
  assert.equal(opMagnitude('equalize', 9, s), 0);
  assert.equal(opMagnitude('rotate', 30, s, true), 135);
  assert.equal(opMagnitude('posterize', 30, s, true), 2);
  assert.equal(opMagnitude('translate-y', 15, s, true), 16);
});

test('RandAugment draws N ops at magnitude M with random signs; TrivialAugment one op', () => {
  const rng = createRng(5);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const ops = sampleRandAugment({ numOps: 2, magnitude: 9 }, [150, 150], rng);
    assert.equal(ops.length, 2);
    for (const o of ops) {
      seen.add(o.op);
      const m = opMagnitude(o.op, 9, [150, 150]);
      const allowed = ['brightness', 'color', 'contrast', 'sharpness'].includes(o.op) ? [1 + m, 1 - m] : [m, -m];
      assert.ok(
        allowed.some((a) => Math.abs(a - o.value) < 1e-12),
        JSON.stringify(o),
      );
    }
  }
  assert.deepEqual([...seen].sort(), [...IMAGE_OPS].sort());
  for (let i = 0; i < 100; i++) {
    const ops = sampleTrivialAugment([64, 64], rng);
    assert.equal(ops.length, 1);
    if (ops[0]!.op === 'rotate') assert.ok(Math.abs(ops[0]!.value) <= 135);
  }
});

test('random erasing fills one box with random values and leaves every other pixel', () => {
  const rng = createRng(9);
  const [h, w, c] = [40, 60, 3];
  const x = tf.randomUniform([1, h, w, c], 0, 255, 'float32', 1) as tf.Tensor4D;
  const before = x.dataSync();
  for (let i = 0; i < 20; i++) {
    const e = sampleErasing(1, [h, w], rng)!;
    assert.ok(e.top >= 0 && e.left >= 0 && e.top + e.height <= h && e.left + e.width <= w, JSON.stringify(e));
    const area = (e.height * e.width) / (h * w);
    assert.ok(area > 0.01 && area < 0.4, `area ${area}`);
    const out = applyImageOps(x, [{ erasing: e }]);
    const after = out.dataSync();
    let changed = 0;
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++) {
          const k = (y * w + xx) * c + ch;
          const inside = y >= e.top && y < e.top + e.height && xx >= e.left && xx < e.left + e.width;
          if (!inside) assert.equal(after[k], before[k]);
          else {
            assert.ok(after[k]! >= 0 && after[k]! < 255);
            if (after[k] !== before[k]) changed++;
          }
        }
    assert.equal(changed, e.height * e.width * c);
    out.dispose();
  }
  x.dispose();
  // Probability p: about p of the images get a box; 0 never.
  const hits = Array.from({ length: 2000 }, () => sampleErasing(0.25, [h, w], rng)).filter(Boolean).length;
  assert.ok(hits > 420 && hits < 580, `${hits} of 2000`);
  assert.equal(Array.from({ length: 100 }, () => sampleErasing(0, [h, w], rng)).filter(Boolean).length, 0);
});

test('the per-image ops run after the affine step (flip, then translate)', () => {
  const x = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
  const out = applyTransform(x, [{ ...identityTransform(), flipHorizontal: true, ops: [op('translate-x', 1)] }], { engine: 'js' });
  // Flipped 3 2 1, then moved right by one: fill 3 2 (the other order would give 2 1 fill).
  assert.deepEqual(Array.from(out.dataSync()), [OP_FILL, 3, 2]);
  tf.dispose([x, out]);
});

test('same seed, same augmented and mixed batches; another seed differs', async () => {
  const x = tf.randomUniform([6, 16, 16, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3).toFloat();
  const gen = new ImageDataGenerator({ rotationRange: 10, randAugment: { numOps: 2, magnitude: 9 }, randomErasing: 0.5 });
  const batches = async (seed: number) => {
    const it = gen.flow(x, y, { batchSize: 3, seed });
    const out: number[][] = [];
    for (let i = 0; i < 4; i++) {
      const b = await it.nextBatch();
      out.push(Array.from(b.x.dataSync()));
      tf.dispose([b.x, b.y!]);
    }
    return out;
  };
  assert.deepEqual(await batches(4), await batches(4));
  assert.notDeepEqual(await batches(4), await batches(5));
  const mix = batchMixer({ mixup: 0.4, cutmix: 1 });
  const mixed = (seed: number) => {
    const rng = createRng(seed);
    return Array.from({ length: 4 }, () => {
      const m = mix(x, y as tf.Tensor2D, rng);
      const v = [...m.x.dataSync(), ...m.y.dataSync()];
      tf.dispose([m.x, m.y]);
      return v;
    });
  };
  assert.deepEqual(mixed(8), mixed(8));
  assert.notDeepEqual(mixed(8), mixed(9));
  // Transforms are drawn from the seeded Rng only: the same draw twice.
  assert.deepEqual(
    sampleTransform({ trivialAugment: true, randomErasing: 1 }, [16, 16], createRng(1)),
    sampleTransform({ trivialAugment: true, randomErasing: 1 }, [16, 16], createRng(1)),
  );
  tf.dispose([x, y]);
});

/** A tiny classifier of 8×8 RGB images into 3 classes. */
function tinyModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [8, 8, 3] }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  return m;
}

test('fit mixes training batches only: the validation loss it logs is that of the plain validation images', async () => {
  const x = tf.randomUniform([24, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const labels = tf.tensor1d(
    Array.from({ length: 24 }, (_, i) => i % 3),
    'float32',
  );
  const data = { x, y: labels, batchSize: 8 };
  const run = async (mixup?: number) => {
    const tensorsBefore = tf.memory().numTensors;
    const model = tinyModel();
    const h = await fit(model, data, {
      epochs: 2,
      optimizer: 'sgd',
      learningRate: 0.5,
      classMode: 'sparse',
      labelSmoothing: 0.1,
      validationData: data,
      mix: mixup ? batchMixer({ mixup }) : undefined,
      verbose: false,
      handleSigint: false,
      seed: 3,
    });
    const v = await evaluateLossAcc(model, data, { classMode: 'sparse', batchSize: 8 });
    model.dispose();
    return { h, v, left: tf.memory().numTensors - tensorsBefore };
  };
  const plain = await run();
  const mixed = await run(0.4);
  // The last epoch's logged validation loss is the trained model's on the unmixed images.
  assert.ok(Math.abs(mixed.h.history.val_loss!.at(-1)! - mixed.v.loss) < 1e-6, `${mixed.h.history.val_loss!.at(-1)} vs ${mixed.v.loss}`);
  // Mixing changed what was trained on.
  assert.notEqual(plain.h.history.loss![0], mixed.h.history.loss![0]);
  // The same seed gives the same mixed run, and mixing leaves no tensor behind that a plain run does not.
  const again = await run(0.4);
  assert.deepEqual(again.h.history, mixed.h.history);
  assert.equal(mixed.left, plain.left);
  tf.dispose([x, labels]);
});

test('recipe settings: per-image ops join the augmentation, mixing goes to fit, bad values fail early', () => {
  const s = resolveSettings(getRecipe('scratch'), 'book', { randAugment: { numOps: 2, magnitude: 9 }, mixup: 0.2 });
  const t = trainingAugmentation(s);
  assert.deepEqual(t.augmentation, { randAugment: { numOps: 2, magnitude: 9 } });
  assert.equal(typeof t.mix, 'function');
  assert.deepEqual(trainingAugmentation(resolveSettings(getRecipe('scratch'), 'book')), { augmentation: undefined, mix: undefined });
  const a = trainingAugmentation(resolveSettings(getRecipe('augment'), 'book', { trivialAugment: true, randomErasing: 0.25 }));
  assert.equal(a.augmentation?.rotationRange, 40);
  assert.equal(a.augmentation?.trivialAugment, true);
  assert.throws(() => trainingAugmentation({ randAugment: { numOps: 2, magnitude: 31 } }), /randAugment/);
  assert.throws(() => trainingAugmentation({ randAugment: { numOps: 2, magnitude: 9 }, trivialAugment: true }), /randAugment and trivialAugment/);
  assert.throws(() => trainingAugmentation({ randomErasing: 2 }), /randomErasing/);
  assert.throws(() => trainingAugmentation({ mixup: -1 }), /mixup/);
  assert.throws(() => new ImageDataGenerator({ randAugment: { numOps: 0, magnitude: 9 } }), /invalid randAugment/);
  assert.throws(() => applyImageOp(new Float32Array(1), [1, 1, 1], op('posterize', 9)), /posterize/);
});

test('train refuses strong augmentation a recipe cannot honour, and bad flag values, naming them', async () => {
  const args = (recipe: string, ...extra: string[]) => ['train', '--recipe', recipe, '--data', '/nonexistent/data', '--out', '/nonexistent/out', ...extra];
  const cases: [string[], RegExp][] = [
    [args('features', '--rand-augment', '2,9'), /recipe features cannot use --rand-augment[\s\S]*applies to recipe scratch, augment/],
    [args('features', '--trivial-augment'), /recipe features cannot use --trivial-augment/],
    [args('features', '--random-erasing', '0.25'), /recipe features cannot use --random-erasing/],
    [args('features', '--cutmix', '1'), /recipe features cannot use --cutmix/],
    [args('features-augment', '--mixup', '0.2'), /recipe features-augment cannot use --mixup/],
    [args('finetune', '--cutmix', '1'), /recipe finetune cannot use --cutmix/],
    [args('scratch', '--rand-augment', '2,31'), /invalid --rand-augment: "2,31"/],
    [args('scratch', '--rand-augment', '2'), /invalid --rand-augment/],
    [args('scratch', '--mixup', '0'), /invalid --mixup/],
    [args('scratch', '--random-erasing', '1.5'), /invalid --random-erasing/],
    [args('scratch', '--rand-augment', '2,9', '--trivial-augment'), /--rand-augment and --trivial-augment/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err.join('\n'), message, argv.join(' '));
  }
});
