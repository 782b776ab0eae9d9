/** The study runner on a tiny synthetic photo set with a tiny pretrained-like base. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy, DONE_FILE, type StudyOptions } from '../src/studies/study.js';
import type { StepSettings, StepName, StudyDefinition } from '../src/studies/steps.js';
import { ConvkitError } from '../src/util/errors.js';
import { tinyBase } from './transfer-fixtures.js';

const SIZE = 32;
let root: string;

/** train/validation/test with two classes of 32×32 PNGs: reddish "cats", bluish "dogs". */
async function makeData(dir: string, perClass: number): Promise<void> {
  let k = 0;
  for (const split of ['train', 'validation', 'test']) {
    for (const [cls, tint] of [
      ['cats', [1, 0.3, 0.3]],
      ['dogs', [0.3, 0.3, 1]],
    ] as const) {
      mkdirSync(join(dir, split, cls), { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const px = Buffer.alloc(SIZE * SIZE * 3);
        for (let p = 0; p < SIZE * SIZE; p++) {
          const noise = ((p * 7919 + k * 104729) % 97) / 97;
          for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(255 * Math.min(1, tint[c]! * (0.4 + 0.6 * noise)));
        }
        k++;
        await sharp(px, { raw: { width: SIZE, height: SIZE, channels: 3 } })
          .png()
          .toFile(join(dir, split, cls, `${cls}.${i}.png`));
      }
    }
  }
}

const convnet: StepSettings = { imageSize: SIZE, epochs: 2, batchSize: 4, model: { filters: [4, 8], denseUnits: 8 } };
const transfer: StepSettings = { imageSize: SIZE, epochs: 2, batchSize: 4, variants: 1 };
const TINY: Partial<Record<StepName, StepSettings>> = {
  scratch: convnet,
  augment: convnet,
  features: transfer,
  'features-augment': transfer,
  finetune: { ...transfer, learningRate: 1e-4 },
};

function options(out: string, extra: Partial<StudyOptions> = {}): StudyOptions & { lines: string[] } {
  const lines: string[] = [];
  return {
    study: 'cats-vs-dogs',
    data: join(root, 'data'),
    out,
    base: tinyBase(SIZE),
    profile: 'book',
    overrides: TINY,
    cacheDir: join(root, 'cache'),
    verbose: false,
    log: (l) => lines.push(l),
    lines,
    ...extra,
  };
}

const doneTimes = (out: string) =>
  Object.fromEntries(['scratch', 'augment', 'features', 'features-augment', 'finetune'].map((n) => [n, statSync(join(out, 'steps', n, DONE_FILE)).mtimeMs]));

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'convkit-study-'));
  await makeData(join(root, 'data'), 6);
});

test('a tiny study runs every step, writes the report and skips finished steps on a re-run', async () => {
  const out = join(root, 'report');
  const first = await runStudy(options(out));
  assert.deepEqual(
    first.steps.map((s) => [s.name, s.status]),
    [
      ['scratch', 'trained'],
      ['augment', 'trained'],
      ['features', 'trained'],
      ['features-augment', 'trained'],
      ['finetune', 'trained'],
    ],
  );
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { steps: { name: string; testAccuracy?: number }[] };
  assert.deepEqual(
    results.steps.map((s) => s.name),
    ['scratch', 'augment', 'features', 'features-augment', 'finetune'],
  );
  for (const s of results.steps) assert.ok(typeof s.testAccuracy === 'number' && s.testAccuracy >= 0 && s.testAccuracy <= 1, `${s.name} has a test accuracy`);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  for (const name of ['scratch', 'augment', 'features-augment', 'finetune']) assert.ok(html.includes(name));
  assert.ok(existsSync(join(out, 'model', 'model.json')), 'best model copied beside the report');
  assert.ok(existsSync(join(out, 'try.html')));
  // cats-vs-dogs allows images: wrong predictions or augmented samples are embedded.
  assert.match(html, /data:image\/png;base64/);
  // The best step shows Grad-CAM maps of 3 test images per class.
  const gallery = /<h3>Class activation \(Grad-CAM\)<\/h3><div class="gallery gradcam">(.*?)<\/div>/s.exec(html);
  assert.ok(gallery, 'no Grad-CAM panel');
  assert.equal(gallery[1]!.match(/<figure>/g)?.length, 6);
  assert.match(gallery[1]!, /true cats<br>pred (cats|dogs) \d\.\d\d/);

  const before = doneTimes(out);
  const base = tinyBase(SIZE);
  const again = await runStudy({ ...options(out), base });
  assert.ok(again.steps.every((s) => s.status === 'reused'));
  assert.equal(base.loads.length, 0, 'the pretrained base was not even loaded');
  assert.deepEqual(doneTimes(out), before, 'no step was redone');
  assert.ok(existsSync(join(out, 'index.html')));

  // A step whose folder lost its DONE marker (killed run) is redone, and only it.
  rmSync(join(out, 'steps', 'augment', DONE_FILE));
  const third = await runStudy(options(out));
  assert.deepEqual(
    third.steps.filter((s) => s.status === 'trained').map((s) => s.name),
    ['augment'],
  );
  const after = doneTimes(out);
  assert.notEqual(after.augment, before.augment);
  for (const n of ['scratch', 'features', 'features-augment', 'finetune']) assert.equal(after[n], before[n], `${n} untouched`);
});

test('an aborted step leaves no DONE marker and is redone by the next run', async () => {
  const out = join(root, 'report-abort');
  const one: StudyDefinition = {
    name: 'two',
    title: 'two steps',
    steps: [
      { name: 'scratch', description: 'scratch' },
      { name: 'augment', description: 'augment' },
    ],
  };
  const controller = new AbortController();
  const o = options(out, { study: one, signal: controller.signal });
  o.log = (l) => {
    if (l.includes('[2/2] augment')) controller.abort();
  };
  await assert.rejects(runStudy(o), (err: Error) => err.name === 'AbortError' || /stopped before the first epoch/.test(err.message));
  assert.ok(existsSync(join(out, 'steps', 'scratch', DONE_FILE)));
  assert.ok(!existsSync(join(out, 'steps', 'augment', DONE_FILE)));
  const rerun = await runStudy(options(out, { study: one }));
  assert.deepEqual(
    rerun.steps.map((s) => [s.name, s.status]),
    [
      ['scratch', 'reused'],
      ['augment', 'trained'],
    ],
  );
});

test('a corrupt image stops the study naming the file; --skip-bad leaves it out and lists it', async () => {
  const data = join(root, 'bad-data');
  await makeData(data, 3);
  const bad = join(data, 'train', 'dogs', 'broken.jpg');
  writeFileSync(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]));
  const one: StudyDefinition = { name: 'one', title: 'one step', steps: [{ name: 'scratch', description: 'scratch' }] };
  await assert.rejects(
    runStudy(options(join(root, 'bad-report'), { study: one, data })),
    (err: unknown) => err instanceof ConvkitError && err.message.includes(bad) && err.message.includes('--skip-bad'),
  );
  const r = await runStudy(options(join(root, 'bad-report'), { study: one, data, skipBad: true }));
  assert.deepEqual(
    r.skipped.map((s) => s.path),
    [bad],
  );
  const results = readFileSync(join(root, 'bad-report', 'results.json'), 'utf8');
  assert.ok(results.includes('broken.jpg'), 'the report notes list the skipped file');
});

test('a study with private images embeds none by default', async () => {
  const out = join(root, 'private');
  const def: StudyDefinition = {
    name: 'faces',
    title: 'private',
    privateImages: true,
    steps: [
      { name: 'scratch', description: 'scratch' },
      { name: 'augment', description: 'augment' },
    ],
  };
  await runStudy(options(out, { study: def }));
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /data:image\/(png|jpeg);base64/);
  assert.doesNotMatch(html, /Grad-CAM/);
});
