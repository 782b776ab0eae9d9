import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../src/train/saved-model.js';
import { runCli } from './cli-harness.js';
import { corruptJpeg, solidPng } from './data-fixtures.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

// The plain JS kernels: deterministic, and independent of the native/wasm builds.
process.env.CONVKIT_BACKEND = 'cpu';

// Class folders named like Object.prototype's members must be classes like any other.
const CLASSES = ['__proto__', 'constructor'];
const TINY = ['--image-size', '16', '--filters', '4,4', '--dense-units', '8', '--epochs', '1', '--batch-size', '8', '--quiet', '--json', '--no-plots'];

let set: SyntheticSet;
let work: string;
let model: string;
let damaged: string;

before(async () => {
  set = await writeSyntheticSet({ train: 8, validation: 4, test: 4 }, 16);
  for (const split of ['train', 'validation', 'test']) {
    await rename(join(set.root, split, 'left'), join(set.root, split, CLASSES[0]!));
    await rename(join(set.root, split, 'right'), join(set.root, split, CLASSES[1]!));
  }
  work = await mkdtemp(join(tmpdir(), 'convkit-bad-cli-'));
  damaged = join(work, 'damaged.jpg');
  await corruptJpeg(damaged);
  model = join(work, 'model');
  const r = await runCli(['train', '--recipe', 'scratch', '--data', set.root, '--out', model, ...TINY]);
  assert.equal(r.code, 0, r.err.join('\n'));
});
after(async () => {
  await set?.cleanup();
  await rm(work, { recursive: true, force: true });
});

const json = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

test('classes named __proto__ and constructor: train, evaluate, predict and prepare keep them as classes', async () => {
  const meta = JSON.parse(readFileSync(join(model, 'convkit.json'), 'utf8'));
  assert.deepEqual(meta.classNames, CLASSES);
  assert.equal(meta.metrics.test.n, 8);

  const e = await runCli(['evaluate', '--model', model, '--data', join(set.root, 'test'), '--json']);
  assert.equal(e.code, 0, e.err.join('\n'));
  const ev = JSON.parse(e.out.join(''));
  assert.equal(ev.n, 8);
  assert.deepEqual(ev.classNames, CLASSES);
  assert.deepEqual(
    ev.perClass.map((c: { className: string; support: number }) => [c.className, c.support]),
    [
      [CLASSES[0], 4],
      [CLASSES[1], 4],
    ],
  );

  const p = await runCli(['predict', '--model', model, '--json', join(set.root, 'test', CLASSES[1]!)]);
  assert.equal(p.code, 0, p.err.join('\n'));
  const lines = json(p.out);
  assert.equal(lines.length, 4);
  for (const l of lines) {
    assert.ok(CLASSES.includes(l.label as string));
    const probs = l.probabilities as Record<string, number>;
    assert.deepEqual(Object.keys(probs), CLASSES);
    assert.ok(Math.abs(probs[CLASSES[0]!]! + probs[CLASSES[1]!]! - 1) < 1e-5);
  }

  const prepared = await runCli(['prepare', join(set.root, 'train'), join(work, 'prepared'), '--split', '4,2', '--json']);
  assert.equal(prepared.code, 0, prepared.err.join('\n'));
  assert.deepEqual(
    JSON.parse(prepared.out.join('')).counts,
    JSON.parse('{"train": {"__proto__": 4, "constructor": 4}, "validation": {"__proto__": 2, "constructor": 2}}'),
  );
});

test('predict goes on past a file it cannot read: a {file, error} line, exit 1 (0 with --skip-bad)', async () => {
  const dir = join(work, 'to-predict');
  await runCli(['prepare', join(set.root, 'test'), dir, '--split', '2', '--names', 'some']);
  const folder = join(dir, 'some', CLASSES[0]!);
  await copyFile(damaged, join(folder, 'damaged.jpg'));
  await symlink('.', join(folder, 'loop.jpg'));
  // A PNG named .bmp: train refuses the name, so predict does too.
  const bmp = join(work, 'photo.bmp');
  await solidPng(bmp, [9, 9, 9]);

  const r = await runCli(['predict', '--model', model, '--json', folder, bmp]);
  assert.equal(r.code, 1, r.err.join('\n'));
  const lines = json(r.out);
  const errors = lines.filter((l) => 'error' in l);
  assert.deepEqual(errors.map((l) => basename(l.file as string)).sort(), ['damaged.jpg', 'loop.jpg', 'photo.bmp']);
  assert.match(errors.find((l) => (l.file as string).endsWith('damaged.jpg'))!.error as string, /(VipsJpeg: Corrupt JPEG data|damaged image data)/);
  assert.match(errors.find((l) => (l.file as string).endsWith('loop.jpg'))!.error as string, /symbolic link loop/);
  assert.match(errors.find((l) => (l.file as string).endsWith('photo.bmp'))!.error as string, /\.bmp files are not read; convkit reads JPEG/);
  assert.equal(lines.filter((l) => 'label' in l).length, 2);

  const text = await runCli(['predict', '--model', model, folder]);
  assert.equal(text.code, 1);
  assert.equal(text.out.length, 2);
  assert.equal(text.err.length, 2);
  assert.match(text.err.join('\n'), /^convkit predict: cannot decode image .*damaged\.jpg: (VipsJpeg: Corrupt JPEG data|damaged image data)[^\n]*$/m);
  const skipping = await runCli(['predict', '--model', model, '--skip-bad', folder]);
  assert.equal(skipping.code, 0);
  assert.equal(skipping.out.length, 2);
});

test('evaluate stops at a file it cannot read, or leaves it out with --skip-bad', async () => {
  const data = join(work, 'eval-data');
  await runCli(['prepare', join(set.root, 'test'), data, '--split', '4', '--names', 'all']);
  await copyFile(damaged, join(data, 'all', CLASSES[1]!, 'damaged.jpg'));
  const stop = await runCli(['evaluate', '--model', model, '--data', join(data, 'all'), '--json']);
  assert.equal(stop.code, 2);
  assert.match(
    stop.err.join('\n'),
    /^convkit evaluate: cannot decode image .*damaged\.jpg: (VipsJpeg: Corrupt JPEG data|damaged image data).*\n {2}fix: .*--skip-bad/,
  );
  const skip = await runCli(['evaluate', '--model', model, '--data', join(data, 'all'), '--json', '--skip-bad']);
  assert.equal(skip.code, 0, skip.err.join('\n'));
  const r = JSON.parse(skip.out.join(''));
  assert.equal(r.n, 8);
  assert.deepEqual(
    r.skipped.map((s: { path: string }) => basename(s.path)),
    ['damaged.jpg'],
  );
  assert.match(skip.err.join('\n'), /convkit evaluate: skipped .*damaged\.jpg/);
});

test("evaluate reads images at convkit.json's inputSize, as predict does", async () => {
  // A model that takes any input size: only convkit.json says how big the images are read.
  const net = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [null, null, 3] as unknown as number[],
        filters: 2,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tf.initializers.randomUniform({ minval: -1e-3, maxval: 1e-3, seed: 1 }),
      }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const dir = join(work, 'any-size');
  await saveModel(net, dir, {
    classNames: CLASSES,
    inputSize: [12, 12],
    colorMode: 'rgb',
    classMode: 'categorical',
    preprocessing: { input: 'RGB pixels 0..255', interpolation: 'bilinear' },
  });
  net.dispose();
  const e = await runCli(['evaluate', '--model', dir, '--data', join(set.root, 'test'), '--json']);
  assert.equal(e.code, 0, e.err.join('\n'));
  const p = await runCli(['predict', '--model', dir, '--json', join(set.root, 'test')]);
  assert.equal(p.code, 0, p.err.join('\n'));
  const lines = json(p.out) as { file: string; probabilities: Record<string, number> }[];
  const loss = -lines.reduce((s, l) => s + Math.log(l.probabilities[basename(join(l.file, '..'))]!), 0) / lines.length;
  assert.ok(Math.abs(JSON.parse(e.out.join('')).loss - loss) < 1e-6, `evaluate's loss ${JSON.parse(e.out.join('')).loss} vs predict's ${loss}`);
});

test('train, preview and classify stop at a damaged image, or leave it out with --skip-bad', async () => {
  const data = join(work, 'train-data');
  await runCli(['prepare', join(set.root, 'train'), data, '--split', '6,2', '--names', 'train,validation']);
  await copyFile(damaged, join(data, 'train', CLASSES[0]!, 'damaged.jpg'));
  const stop = await runCli(['train', '--recipe', 'scratch', '--data', data, '--out', join(work, 'm2'), ...TINY]);
  assert.equal(stop.code, 2);
  assert.match(stop.err.join('\n'), /^convkit train: .*damaged\.jpg: (VipsJpeg: Corrupt JPEG data|damaged image data)/);

  const good = join(set.root, 'test', CLASSES[0]!, 'left_000.png');
  const out = join(work, 'preview.png');
  const refused = await runCli(['preview', '--image', damaged, '--image', good, '--out', out, '--count', '1', '--image-size', '16']);
  assert.equal(refused.code, 2);
  assert.match(refused.err.join('\n'), /damaged\.jpg: (VipsJpeg: Corrupt JPEG data|damaged image data)/);
  const previewed = await runCli(['preview', '--image', damaged, '--image', good, '--out', out, '--count', '1', '--image-size', '16', '--skip-bad']);
  assert.equal(previewed.code, 0, previewed.err.join('\n'));
  assert.match(previewed.err.join('\n'), /convkit preview: skipped .*damaged\.jpg/);
  assert.ok(existsSync(out));

  const models = new URL('../../shared/models/mobilenet_v1_0.75_224', import.meta.url).pathname;
  if (existsSync(models)) {
    const classified = await runCli(['classify', '--base', 'mobilenet_v1', '--models-dir', join(models, '..'), '--json', '--top', '1', damaged, good]);
    assert.equal(classified.code, 1, classified.err.join('\n'));
    assert.deepEqual(
      json(classified.out).map((l) => [basename(l.file as string), 'error' in l]),
      [
        ['damaged.jpg', true],
        [basename(good), false],
      ],
    );
    assert.equal((await runCli(['classify', '--base', 'mobilenet_v1', '--models-dir', join(models, '..'), '--skip-bad', damaged, good])).code, 0);
  }
});

test('train --skip-bad leaves the damaged image out and lists it', async () => {
  const data = join(work, 'train-data');
  const r = await runCli(['train', '--recipe', 'scratch', '--data', data, '--out', join(work, 'm3'), '--skip-bad', ...TINY]);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.match(r.err.join('\n'), /convkit train: skipped .*damaged\.jpg/);
});
