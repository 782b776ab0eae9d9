import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-harness.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

// The plain JS kernels: deterministic, and independent of the native/wasm builds.
process.env.CONVKIT_BACKEND = 'cpu';

let set: SyntheticSet;
let work: string;

before(async () => {
  set = await writeSyntheticSet({ train: 40, validation: 12, test: 12 });
  work = await mkdtemp(join(tmpdir(), 'convkit-cli-'));
});
after(async () => {
  await set?.cleanup();
  await rm(work, { recursive: true, force: true });
});

const run = runCli;

const TINY = ['--image-size', '16', '--filters', '8,16', '--dense-units', '16', '--batch-size', '16', '--learning-rate', '3e-3', '--optimizer', 'adam'];

test('folder → train → evaluate → predict: a tiny convnet learns bright-left vs bright-right', async () => {
  const model = join(work, 'model');
  const t0 = performance.now();
  const r = await run(['train', '--recipe', 'scratch', '--data', set.root, '--out', model, '--epochs', '6', '--seed', '3', '--quiet', '--json', ...TINY]);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, r.err.join('\n'));
  const summary = JSON.parse(r.out.at(-1)!);
  assert.equal(summary.recipe, 'scratch');
  for (const f of ['model.json', 'weights.bin', 'convkit.json', 'history.csv', 'history.json', 'learning-curves.png', 'confusion-test.png']) {
    assert.ok(existsSync(join(model, f)), `${f} written`);
  }
  const meta = JSON.parse(readFileSync(join(model, 'convkit.json'), 'utf8'));
  assert.equal(meta.format, 'convkit-model');
  assert.deepEqual(meta.classNames, ['left', 'right']);
  assert.deepEqual(meta.inputSize, [16, 16]);
  assert.equal(meta.classMode, 'binary');
  assert.equal(meta.recipe.name, 'scratch');
  assert.equal(meta.history.epoch.length, 6);
  assert.ok(meta.metrics.test.accuracy >= 0.95, `test accuracy ${meta.metrics.test.accuracy} in ${seconds.toFixed(1)} s`);
  const csv = readFileSync(join(model, 'history.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 7);
  assert.match(csv[0]!, /^epoch,loss,acc,val_loss,val_acc,lr$/);

  const e = await run(['evaluate', '--model', model, '--data', join(set.root, 'test'), '--json']);
  assert.equal(e.code, 0, e.err.join('\n'));
  const ev = JSON.parse(e.out.join(''));
  assert.equal(ev.n, 24);
  assert.ok(ev.accuracy >= 0.95, `accuracy ${ev.accuracy}`);
  assert.equal(ev.confusion.length, 2);
  assert.equal(
    ev.confusion.flat().reduce((a: number, b: number) => a + b, 0),
    24,
  );
  assert.ok(Number.isFinite(ev.loss));
  assert.equal(ev.accuracy, meta.metrics.test.accuracy);

  const p = await run(['predict', '--model', model, '--json', join(set.root, 'test', 'left'), join(set.root, 'test', 'right', 'right_000.png')]);
  assert.equal(p.code, 0, p.err.join('\n'));
  const lines = p.out.map((l) => JSON.parse(l));
  assert.equal(lines.length, 13);
  for (const l of lines) {
    assert.ok(typeof l.file === 'string' && ['left', 'right'].includes(l.label));
    assert.ok(l.probability >= 0.5 && l.probability <= 1);
    assert.ok(Math.abs(l.probabilities.left + l.probabilities.right - 1) < 1e-5);
  }
  const right = lines.filter((l) => l.label === 'right').length;
  assert.ok(right <= 2, `${right} of 12 left images called right`);
  assert.equal(lines.at(-1).label, 'right');

  // Class folders that differ from the model's classes: a clear error naming both.
  const other = join(work, 'other');
  await mkdir(other, { recursive: true });
  await cp(join(set.root, 'test', 'left'), join(other, 'cats'), { recursive: true });
  await cp(join(set.root, 'test', 'right'), join(other, 'dogs'), { recursive: true });
  const bad = await run(['evaluate', '--model', model, '--data', other, '--json']);
  assert.equal(bad.code, 2);
  assert.match(bad.err.join('\n'), /classes \[cats, dogs\] but the model was trained on \[left, right\]/);
});

test('augment recipe, best profile: augmentation, schedule, label smoothing and TTA are applied and recorded', async () => {
  const model = join(work, 'model-aug');
  const r = await run([
    'train',
    '--recipe',
    'augment',
    '--profile',
    'best',
    '--data',
    set.root,
    '--out',
    model,
    '--epochs',
    '2',
    '--steps-per-epoch',
    '2',
    '--seed',
    '1',
    '--quiet',
    '--json',
    '--no-plots',
    ...TINY,
  ]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const meta = JSON.parse(readFileSync(join(model, 'convkit.json'), 'utf8'));
  assert.equal(meta.recipe.profile, 'best');
  assert.equal(meta.recipe.settings.schedule, 'one-cycle');
  assert.equal(meta.recipe.settings.labelSmoothing, 0.1);
  assert.equal(meta.recipe.settings.augmentation.horizontalFlip, true);
  assert.equal(meta.recipe.settings.learningRate, 3e-3);
  assert.equal(meta.history.epoch.length, 2);
  // The one-cycle schedule moves the rate away from the base value.
  assert.ok(meta.history.history.lr.every((lr: number) => lr > 0 && lr < 3e-3));
  assert.equal(meta.metrics.testTta.ttaViews, 4);
  assert.equal(meta.metrics.testTta.n, 24);
  // TTA's worth is judged on validation: the plain score there is the kept epoch's val_acc.
  const choice = meta.metrics.ttaChoice;
  assert.equal(choice.views, 4);
  assert.ok(Math.abs(choice.validation.plain.accuracy - meta.metrics.val_acc) <= 1 / 24 + 1e-9, JSON.stringify(choice));
  assert.equal(
    choice.use,
    choice.validation.tta.accuracy > choice.validation.plain.accuracy ||
      (choice.validation.tta.accuracy === choice.validation.plain.accuracy && choice.validation.tta.loss < choice.validation.plain.loss),
  );
  assert.deepEqual(JSON.parse(r.out.at(-1)!).ttaChoice, choice);
  assert.ok(!existsSync(join(model, 'learning-curves.png')));
});

test('same seed, same data → byte-identical weights (shuffling, augmentation and dropout seeded)', async () => {
  const args = (out: string, seed: string) => [
    'train',
    '--recipe',
    'augment',
    '--data',
    set.root,
    '--out',
    out,
    '--epochs',
    '1',
    '--steps-per-epoch',
    '2',
    '--validation-steps',
    '1',
    '--seed',
    seed,
    '--quiet',
    '--json',
    '--no-plots',
    ...TINY,
  ];
  const a = join(work, 'seed-a'),
    b = join(work, 'seed-b'),
    c = join(work, 'seed-c');
  for (const [dir, seed] of [
    [a, '5'],
    [b, '5'],
    [c, '6'],
  ] as const)
    assert.equal((await run(args(dir, seed))).code, 0);
  const wa = readFileSync(join(a, 'weights.bin')),
    wb = readFileSync(join(b, 'weights.bin')),
    wc = readFileSync(join(c, 'weights.bin'));
  assert.ok(wa.equals(wb), 'same seed gives the same weights');
  assert.ok(!wa.equals(wc), 'another seed gives other weights');
});

test('train: bad flags and folders are named', async () => {
  let r = await run(['train', '--recipe', 'nope', '--data', set.root, '--out', join(work, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /unknown recipe "nope"[\s\S]*scratch, augment/);
  r = await run(['train', '--recipe', 'scratch', '--data', join(set.root, 'train'), '--out', join(work, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /train not found/);
  r = await run(['train', '--recipe', 'scratch', '--data', set.root, '--out', join(work, 'x'), '--epochs', 'two']);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /--epochs/);
  r = await run(['evaluate', '--model', set.root, '--data', set.root]);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /convkit\.json not found/);
});
