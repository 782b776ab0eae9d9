/**
 * The training tools through recipes and the command line, on a small
 * imbalanced folder of real photos (30 cats, 10 dogs from
 * cats_and_dogs_small, linked into a temporary folder): `auto` class
 * weights and their override, balanced sampling, the moving average, the
 * learning-rate finder (`lr-find` and `--learning-rate auto`) and the
 * options a recipe cannot honour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import { runTransferRecipe } from '../src/transfer/recipes.js';
import { flowFromDirectory } from '../src/data/iterator.js';
import { BalancedFolderBatches } from '../src/train/balanced-sampling.js';
import { isMarkedPng } from '../src/report/png-mark.js';
import { runCli } from './cli-harness.js';
import { makePhotoSet, tinyBase } from './transfer-fixtures.js';

const SOURCE = resolve('../shared/data/cats_and_dogs_small');
const TINY = ['--image-size', '32', '--filters', '4,8', '--dense-units', '8', '--epochs', '1', '--batch-size', '8', '--quiet', '--json', '--no-plots'];

let work: string;
let data: string;

/** train/ 30 cats and 10 dogs (3:1), validation/ and test/ 6 of each, linked from the shared photos. */
async function imbalancedFolder(root: string): Promise<string> {
  const counts = { train: { cats: 30, dogs: 10 }, validation: { cats: 6, dogs: 6 }, test: { cats: 6, dogs: 6 } };
  for (const [split, byClass] of Object.entries(counts)) {
    for (const [cls, n] of Object.entries(byClass)) {
      const dir = join(root, 'data', split, cls);
      await mkdir(dir, { recursive: true });
      const files = (await readdir(join(SOURCE, split, cls))).sort().slice(0, n);
      for (const f of files) await symlink(join(SOURCE, split, cls, f), join(dir, f));
    }
  }
  return join(root, 'data');
}

before(async () => {
  await tf.setBackend('cpu');
  work = await mkdtemp(join(tmpdir(), 'convkit-tools-'));
  data = await imbalancedFolder(work);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const metaOf = async (dir: string) => JSON.parse(await readFile(join(dir, 'convkit.json'), 'utf8'));

test('auto class weights turn on for a 3:1 training folder with a warning naming the counts; --class-weight none turns them off', async () => {
  const lines: string[] = [];
  const out = join(work, 'weighted');
  await trainRecipe({
    recipe: 'scratch',
    data,
    out,
    overrides: { imageSize: 32, epochs: 1, batchSize: 8, model: { filters: [4, 8], denseUnits: 8 } },
    verbose: true,
    log: (l) => lines.push(l),
  });
  const cw = (await metaOf(out)).recipe.settings.classWeight;
  assert.equal(cw.mode, 'balanced');
  assert.deepEqual(cw.counts, [30, 10]);
  assert.deepEqual(cw.weights, [40 / (2 * 30), 40 / (2 * 10)]);
  assert.ok(
    lines.some((l) => /warning: train\/ is imbalanced \(cats 30, dogs 10: largest\/smallest 3\.00/.test(l)),
    lines.join('\n'),
  );

  const r = await runCli(['train', '--recipe', 'scratch', '--data', data, '--out', join(work, 'unweighted'), '--class-weight', 'none', ...TINY]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const off = (await metaOf(join(work, 'unweighted'))).recipe.settings.classWeight;
  assert.equal(off.mode, 'none');
  assert.equal(off.weights, null);
  const bad = await runCli(['train', '--recipe', 'scratch', '--data', data, '--out', join(work, 'x'), '--class-weight', '{"cats": 1}', ...TINY]);
  assert.equal(bad.code, 2);
  assert.match(bad.err.join('\n'), /no weight for class dogs/);
});

test('balanced sampling draws 30 of each class per epoch from the folder, seeded; with it, auto adds no class weights', async () => {
  const base = await flowFromDirectory(join(data, 'train'), { targetSize: [16, 16], batchSize: 16, classMode: 'sparse', seed: 1 });
  const epoch = async (seed: number) => {
    const files: string[] = [];
    const labels: number[] = [];
    for await (const b of new BalancedFolderBatches(base, { seed }).epoch()) {
      files.push(...(b.files ?? []).map((f) => (typeof f === 'string' ? f : f.path)));
      labels.push(...Array.from(b.y!.dataSync()));
      tf.dispose([b.x, b.y!]);
    }
    return { files, labels };
  };
  const a = await epoch(4);
  assert.equal(a.labels.length, 60);
  assert.equal(a.labels.filter((l) => l === 1).length, 30);
  assert.equal(new Set(a.files.filter((f) => f.includes('/cats/'))).size, 30, 'every cat once');
  assert.deepEqual((await epoch(4)).files, a.files, 'same seed, same epoch');
  base.dispose();

  const out = join(work, 'sampled');
  const r = await runCli(['train', '--recipe', 'scratch', '--data', data, '--out', out, '--sampling', 'balanced', '--ema', '0.9', ...TINY]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const meta = await metaOf(out);
  assert.equal(meta.recipe.settings.sampling, 'balanced');
  assert.equal(meta.recipe.settings.ema, 0.9);
  assert.equal(meta.recipe.settings.classWeight.mode, 'none');
  assert.match(meta.recipe.settings.classWeight.reason, /balanced sampling/);
  assert.ok([0, 1].includes(meta.metrics.ema), 'the kept epoch says whether its weights are the average');
  assert.equal(meta.metrics.val_acc, meta.metrics.ema ? meta.metrics.ema_val_acc : meta.metrics.raw_val_acc);
});

test('convkit lr-find prints the suggestion and writes a marked PNG and SVG; it replaces only its own figure', async () => {
  const plot = join(work, 'lr.png');
  const args = ['lr-find', '--recipe', 'scratch', '--data', data, '--image-size', '48', '--batch-size', '8', '--num-it', '20', '--quiet', '--json'];
  const r = await runCli([...args, '--out', plot]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const s = JSON.parse(r.out[0]!);
  assert.ok(s.suggestion > 1e-7 && s.suggestion < 10);
  assert.ok(s.batches <= 20);
  assert.ok(isMarkedPng(await readFile(plot)));
  assert.match(await readFile(join(work, 'lr.svg'), 'utf8'), /<svg/);
  assert.equal((await runCli([...args, '--out', plot])).code, 0, 'its own figure is replaced');
  await writeFile(join(work, 'mine.png'), 'not convkit’s');
  const refused = await runCli([...args, '--out', join(work, 'mine.png')]);
  assert.equal(refused.code, 2);
  assert.match(refused.err.join('\n'), /not a learning-rate finder PNG convkit wrote/);
});

test('--learning-rate auto on the features recipe: the finder runs on the head over cached features and convkit.json records the rate', async () => {
  const root = await makePhotoSet(6);
  try {
    const out = join(root, 'auto');
    const lines: string[] = [];
    const r = await trainRecipe({
      recipe: 'features',
      data: join(root, 'data'),
      out,
      overrides: { imageSize: 12, epochs: 2, batchSize: 4, autoLearningRate: true, ema: 0.5, transfer: { base: tinyBase() } },
      cacheDir: join(root, 'cache'),
      log: (l) => lines.push(l),
    });
    const settings = (await metaOf(out)).recipe.settings;
    assert.equal(settings.autoLearningRate, true);
    assert.equal(settings.learningRate, settings.lrFinder.suggestion);
    assert.ok(settings.lrFinder.batches > 0 && settings.lrFinder.batches <= 100);
    assert.ok(lines.some((l) => /learning-rate finder: suggestion .* training at it/.test(l)));
    assert.ok(lines.some((l) => /kept epoch \d: its (averaged \(EMA\)|trained) weights, chosen by validation/.test(l)));
    assert.ok(r.history.history.ema_val_loss?.length === 2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an option a recipe cannot honour is refused, naming the flag', async () => {
  const run = (recipe: string, flags: string[]) =>
    runCli(['train', '--recipe', recipe, '--data', data, '--out', join(work, `refused-${recipe}`), ...flags, '--quiet']);
  const auto = await run('finetune', ['--learning-rate', 'auto']);
  assert.equal(auto.code, 2);
  assert.match(auto.err.join('\n'), /recipe finetune cannot use --learning-rate auto/);
  const range = await run('features', ['--learning-rate', '1e-5:1e-4']);
  assert.match(range.err.join('\n'), /recipe features cannot use --learning-rate LO:HI.*finetune/s);
  const scratchRange = await run('scratch', ['--learning-rate', '1e-5:1e-4']);
  assert.match(scratchRange.err.join('\n'), /recipe scratch cannot use --learning-rate LO:HI/);
  const sampling = await run('features-augment', ['--sampling', 'balanced']);
  assert.match(sampling.err.join('\n'), /recipe features-augment cannot use --sampling/);
  assert.match((await run('scratch', ['--learning-rate', '1e-4:1e-5'])).err.join('\n'), /LO is not below HI/);
  assert.match((await run('scratch', ['--ema', '1.5'])).err.join('\n'), /--ema takes a decay between 0 and 1/);
});

test('finetune with --learning-rate LO:HI: three groups (two unfrozen blocks and the head) from LO to HI, recorded', async () => {
  const root = await makePhotoSet(4);
  try {
    const lines: string[] = [];
    const out = join(root, 'tuned');
    const r = await runTransferRecipe('finetune', {
      data: join(root, 'data'),
      out,
      base: tinyBase(),
      epochs: 1,
      batchSize: 4,
      variants: 1,
      optimizer: 'sgd',
      learningRate: 1e-2,
      lowestLearningRate: 1e-4,
      unfreezeBlocks: 2,
      augmentation: { horizontalFlip: true },
      cacheDir: join(root, 'cache'),
      log: (l) => lines.push(l),
    });
    assert.equal(r.meta.recipe?.settings?.lowestLearningRate, 1e-4);
    assert.equal(r.meta.recipe?.settings?.learningRate, 1e-2);
    assert.ok(
      lines.some((l) => /discriminative rates from 1\.0e-4 \(first unfrozen block\) to 1\.0e-2 \(head\) over 3 groups/.test(l)),
      lines.join('\n'),
    );
    r.model.dispose();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
